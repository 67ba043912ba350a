package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestSDKInsideFunction checks that an AWS SDK inside a function reaches
// Aloft's APIs with the endpoint and credentials the platform gives it.
func TestSDKInsideFunction(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	rc := runtimeCases()[0]
	create(t, c, "inside", rc, alofttest.GoFunction(t, "e2e/functions/sdkfn", "v1"))
	_, out := invoke(t, c, "inside", `{}`)
	if out.FunctionError != nil {
		t.Fatalf("function failed: %s", out.Payload)
	}
	var got struct {
		Functions []string `json:"functions"`
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil || len(got.Functions) != 1 || got.Functions[0] != "inside" {
		t.Fatalf("the function listed %s (%v)", out.Payload, err)
	}
}
