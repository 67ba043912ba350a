package cloudwatchapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/aloft-dev/aloft/internal/awsproto"
)

// TestOperationInEveryProtocol checks the authorization table reads the
// operation and the alarm from each protocol's request, and from a
// compressed body, which it must not take for an operation of nothing.
func TestOperationInEveryProtocol(t *testing.T) {
	s := New(nil, nil)
	alarm := "arn:aws:cloudwatch:us-east-1:000000000000:alarm:high"
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	form := url.Values{"Action": {"PutMetricAlarm"}, "Version": {Version}, "AlarmName": {"high"}}.Encode()
	cborBody, _ := cbor.Marshal(map[string]any{"AlarmNames": []string{"high"}})
	for _, tc := range []struct {
		name, path, target, encoding string
		body                         []byte
		action, resource             string
		protocol                     awsproto.Protocol
	}{
		{"query", "/", "", "", []byte(form), "cloudwatch:PutMetricAlarm", alarm, awsproto.QueryXML},
		{"query gzip", "/", "", "gzip", gz([]byte(form)), "cloudwatch:PutMetricAlarm", alarm, awsproto.QueryXML},
		{"json", "/", Service + ".PutMetricAlarm", "", []byte(`{"AlarmName":"high"}`), "cloudwatch:PutMetricAlarm", alarm, awsproto.JSON10Query},
		{"json list", "/", Service + ".ListMetrics", "", []byte(`{}`), "cloudwatch:ListMetrics", "*", awsproto.JSON10Query},
		{"cbor", awsproto.CBORPath(Service) + "DeleteAlarms", "", "", cborBody, "cloudwatch:DeleteAlarms", alarm, awsproto.CBOR},
		{"cbor gzip", awsproto.CBORPath(Service) + "PutMetricData", "", "gzip", gz([]byte{0xa0}), "cloudwatch:PutMetricData", "*", awsproto.CBOR},
	} {
		r := httptest.NewRequest("POST", tc.path, bytes.NewReader(tc.body))
		if tc.target != "" {
			r.Header.Set("X-Amz-Target", tc.target)
		} else if tc.path == "/" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if tc.encoding != "" {
			r.Header.Set("Content-Encoding", tc.encoding)
		}
		if p := Protocol(r); p != tc.protocol {
			t.Errorf("%s: protocol %v, want %v", tc.name, p, tc.protocol)
		}
		op, aerr := s.Operation(r, tc.body)
		if aerr != nil || op.Action != tc.action || op.Resource != tc.resource {
			t.Errorf("%s: %+v %v, want %s on %s", tc.name, op, aerr, tc.action, tc.resource)
		}
	}
	// A body that claims gzip and is not is refused, not waved through.
	r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(form)))
	r.Header.Set("Content-Encoding", "gzip")
	if _, aerr := s.Operation(r, []byte(form)); aerr == nil || aerr.Status != http.StatusBadRequest {
		t.Errorf("a false gzip body: %v", aerr)
	}
	if !Recognize(httptest.NewRequest("GET", "/?Action=ListMetrics", nil)) || Recognize(httptest.NewRequest("GET", "/?Action=ListQueues", nil)) {
		t.Error("Recognize")
	}
}
