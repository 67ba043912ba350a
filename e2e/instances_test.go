package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestInstanceLifecycle checks what an instance keeps between invocations
// and when it goes away.
func TestInstanceLifecycle(t *testing.T) {
	srv := alofttest.Start(t, "--keep-alive", "700ms")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	create(t, c, "life", goRC, goRC.code(t, "v1"))

	// /tmp persists within an instance.
	invoke(t, c, "life", `{"op":"tmpwrite","text":"kept"}`)
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("life"), Payload: []byte(`{"op":"tmpread"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var note struct {
		Note  string `json:"note"`
		Found bool   `json:"found"`
	}
	json.Unmarshal(out.Payload, &note)
	if note.Note != "kept" {
		t.Fatalf("warm instance read %+v from /tmp, want kept", note)
	}

	// An idle instance stops after the keep-alive; the next one starts
	// fresh, with an empty /tmp.
	a1, _ := invoke(t, c, "life", `{}`)
	time.Sleep(2 * time.Second)
	a2, _ := invoke(t, c, "life", `{}`)
	if a2.Calls != 1 || a2.Instance == a1.Instance {
		t.Fatalf("after the keep-alive got %+v (before %+v), want a new instance", a2, a1)
	}
	out, _ = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("life"), Payload: []byte(`{"op":"tmpread"}`)})
	json.Unmarshal(out.Payload, &note)
	if note.Found {
		t.Fatalf("a new instance saw the old instance's /tmp: %+v", note)
	}

	// A response over 6 MB is refused as Lambda refuses it, and the server
	// keeps going.
	e := invokeErr(t, c, "life", `{"op":"big","size":6400000}`)
	if e.ErrorType != "Function.ResponseSizeTooLarge" || !strings.Contains(e.ErrorMessage, "6291556") {
		t.Fatalf("oversize response got %+v", e)
	}
	if a, _ := invoke(t, c, "life", `{}`); a.Runtime != "go" {
		t.Fatalf("after an oversize response got %+v", a)
	}
}
