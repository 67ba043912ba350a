package lambdaapi

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestLayerOperation checks the IAM actions and resources of the layer
// operations: layer version ARNs where a version is named, the layer's
// ARN for publishing, and GetLayerVersion for a lookup by ARN on
// ListLayers' path.
func TestLayerOperation(t *testing.T) {
	s := New(Deps{})
	layer := "arn:aws:lambda:eu-west-1:000000000000:layer:deps"
	scope := "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=x"
	for _, tc := range []struct {
		method, path     string
		action, resource string
	}{
		{"POST", "/2018-10-31/layers/deps/versions", "lambda:PublishLayerVersion", layer},
		{"POST", "/2018-10-31/layers/" + url.PathEscape(layer) + "/versions", "lambda:PublishLayerVersion", layer},
		{"GET", "/2018-10-31/layers/deps/versions", "lambda:ListLayerVersions", "*"},
		{"GET", "/2018-10-31/layers/deps/versions/3", "lambda:GetLayerVersion", layer + ":3"},
		{"DELETE", "/2018-10-31/layers/deps/versions/3", "lambda:DeleteLayerVersion", layer + ":3"},
		{"POST", "/2018-10-31/layers/deps/versions/3/policy", "lambda:AddLayerVersionPermission", layer + ":3"},
		{"GET", "/2018-10-31/layers/deps/versions/3/policy", "lambda:GetLayerVersionPolicy", layer + ":3"},
		{"DELETE", "/2018-10-31/layers/deps/versions/3/policy/sid", "lambda:RemoveLayerVersionPermission", layer + ":3"},
		{"GET", "/2018-10-31/layers", "lambda:ListLayers", "*"},
		{"GET", "/2018-10-31/layers?find=LayerVersion&Arn=" + url.QueryEscape(layer+":2"), "lambda:GetLayerVersion", layer + ":2"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Authorization", scope)
		op, err := s.Operation(r, nil)
		if err != nil || op.Action != tc.action || op.Resource != tc.resource {
			t.Errorf("%s %s: %+v %v, want %s on %s", tc.method, tc.path, op, err, tc.action, tc.resource)
		}
	}
}
