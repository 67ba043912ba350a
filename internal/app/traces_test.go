package app

import "testing"

func TestBatchTrace(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{`{"Records":[{"messageId":"1","attributes":{"ApproximateReceiveCount":"1","AWSTraceHeader":"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}}]}`,
			"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"},
		{`{"Records":[{"messageId":"1","attributes":{"ApproximateReceiveCount":"1"}}]}`, ""},
		{`{"Records":[{"attributes":{"AWSTraceHeader":"unterminated`, ""},
		{``, ""},
	} {
		if got := batchTrace([]byte(tc.payload)); got != tc.want {
			t.Errorf("batchTrace(%s) = %q, want %q", tc.payload, got, tc.want)
		}
	}
}
