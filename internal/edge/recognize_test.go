package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMarkers(t *testing.T) {
	req := func(method, target string, header map[string]string) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		for k, v := range header {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		name      string
		recognize func(*http.Request) bool
		r         *http.Request
		want      bool
	}{
		{"target", Target("AmazonSQS"), req("POST", "/", map[string]string{"X-Amz-Target": "AmazonSQS.SendMessage"}), true},
		{"target of another", Target("AmazonSQS"), req("POST", "/", map[string]string{"X-Amz-Target": "AmazonSQSX.SendMessage"}), false},
		{"path", PathUnder("/v2/apis"), req("GET", "/v2/apis/abc/routes", nil), true},
		{"path itself", PathUnder("/v2/apis"), req("GET", "/v2/apis", nil), true},
		{"path prefix only", PathUnder("/v2/apis"), req("GET", "/v2/apisx", nil), false},
		{"cbor", CBOR("GraniteServiceVersion20100801"), req("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", nil), true},
		{"cbor of another", CBOR("GraniteServiceVersion20100801"), req("POST", "/service/Other/operation/PutMetricData", nil), false},
		{"action", Action("GetCallerIdentity", "AssumeRole"), req("GET", "/?Action=AssumeRole&Version=2011-06-15", nil), true},
		{"action of another", Action("GetCallerIdentity"), req("GET", "/?Action=CreateUser", nil), false},
		{"no action", Action("GetCallerIdentity"), req("GET", "/bucket?list-type=2", nil), false},
	} {
		if got := tc.recognize(tc.r); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
