package lambdaapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOperation checks the table from Lambda requests to IAM actions and
// resources for each form a function may be named in.
func TestOperation(t *testing.T) {
	s := New(Deps{})
	fn := "arn:aws:lambda:eu-west-1:000000000000:function:"
	scope := "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=x"
	for _, tc := range []struct {
		method, path, body string
		action, resource   string
	}{
		{"POST", "/2015-03-31/functions/orders/invocations", "", "lambda:InvokeFunction", fn + "orders"},
		{"POST", "/2015-03-31/functions/orders/invocations?Qualifier=live", "", "lambda:InvokeFunction", fn + "orders:live"},
		{"POST", "/2015-03-31/functions/orders:7/invocations", "", "lambda:InvokeFunction", fn + "orders:7"},
		{"GET", "/2015-03-31/functions/" + fn + "orders", "", "lambda:GetFunction", fn + "orders"},
		{"GET", "/2015-03-31/functions/000000000000:function:orders/configuration", "", "lambda:GetFunctionConfiguration", fn + "orders"},
		{"DELETE", "/2015-03-31/functions/orders", "", "lambda:DeleteFunction", fn + "orders"},
		{"GET", "/2015-03-31/functions/", "", "lambda:ListFunctions", "*"},
		{"POST", "/2015-03-31/functions", `{"FunctionName":"new"}`, "lambda:CreateFunction", fn + "new"},
		{"GET", "/2017-03-31/tags/" + fn + "orders", "", "lambda:ListTags", fn + "orders"},
		{"PUT", "/2017-10-31/functions/orders/concurrency", "", "lambda:PutFunctionConcurrency", fn + "orders"},
		{"GET", "/2015-03-31/nothing-here", "", "", ""},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		r.Header.Set("Authorization", scope)
		op, err := s.Operation(r, []byte(tc.body))
		if err != nil || op.Action != tc.action || (tc.action != "" && op.Resource != tc.resource) {
			t.Errorf("%s %s: %+v %v, want %s on %s", tc.method, tc.path, op, err, tc.action, tc.resource)
		}
	}
}

// BenchmarkOperation is what the front door asks of the Lambda API on
// every warm invoke signed by an IAM identity.
func BenchmarkOperation(b *testing.B) {
	s := New(Deps{})
	r := httptest.NewRequest("POST", "/2015-03-31/functions/orders-api/invocations", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=x")
	b.ReportAllocs()
	for b.Loop() {
		if op, _ := s.Operation(r, nil); op.Action != "lambda:InvokeFunction" {
			b.Fatal(op)
		}
	}
}

// TestOperationCoversEveryRoute sends a request to every route the API
// serves and checks that the table names the route's action and a
// resource for it.
func TestOperationCoversEveryRoute(t *testing.T) {
	s := New(Deps{})
	if len(s.actions) < 30 {
		t.Fatalf("only %d routes", len(s.actions))
	}
	fill := strings.NewReplacer("{fn}", "f", "{arn}", "arn:aws:lambda:us-east-1:000000000000:function:f", "{sid}", "s1")
	for pattern, action := range s.actions {
		method, path, _ := strings.Cut(pattern, " ")
		r := httptest.NewRequest(method, fill.Replace(path), nil)
		op, err := s.Operation(r, []byte(`{"FunctionName":"f"}`))
		if err != nil || op.Action != action || op.Resource == "" {
			t.Errorf("%s: %+v %v, want %s", pattern, op, err, action)
		}
		if strings.Contains(pattern, "{fn}") || strings.Contains(pattern, "{arn}") || action == "lambda:CreateFunction" {
			if op.Resource != "arn:aws:lambda:us-east-1:000000000000:function:f" {
				t.Errorf("%s: resource %s, want the function's ARN", pattern, op.Resource)
			}
		}
	}
}

// TestInvokeTarget checks that an Invoke told by its path alone names the
// function the router would, and that every other shape is left to the
// router.
func TestInvokeTarget(t *testing.T) {
	mux := http.NewServeMux()
	var routed string
	mux.HandleFunc("POST /2015-03-31/functions/{fn}/invocations", func(w http.ResponseWriter, r *http.Request) {
		routed = r.PathValue("fn")
	})
	for _, tc := range []struct {
		method, target string
		hot            bool
	}{
		{"POST", "/2015-03-31/functions/orders/invocations", true},
		{"POST", "/2015-03-31/functions/orders:live/invocations?Qualifier=live", true},
		{"POST", "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:orders/invocations", true},
		{"POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aorders/invocations", false},
		{"POST", "/2015-03-31/functions/a%2Fb/invocations", false},
		{"POST", "/2015-03-31/functions/../invocations", false},
		{"POST", "/2015-03-31/functions/./invocations", false},
		{"POST", "/2015-03-31/functions//invocations", false},
		{"POST", "/2015-03-31/functions/a/b/invocations", false},
		{"GET", "/2015-03-31/functions/orders/invocations", false},
		{"POST", "/2015-03-31/functions/orders/invocations/", false},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		fn, ok := invokeTarget(r)
		if ok != tc.hot {
			t.Errorf("%s %s: hot path %v, want %v", tc.method, tc.target, ok, tc.hot)
			continue
		}
		if !ok {
			continue
		}
		routed = "(not routed)"
		mux.ServeHTTP(httptest.NewRecorder(), r)
		if fn != routed {
			t.Errorf("%s %s: hot path names %q, the router %q", tc.method, tc.target, fn, routed)
		}
	}
}
