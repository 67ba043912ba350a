package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// manage sends a SigV4-signed request (service apigateway) to the
// management API and decodes the JSON answer into out, if given.
func manage(t *testing.T, srv *alofttest.Server, method, path string, in, out any) int {
	t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctxT(t), creds, req, hex.EncodeToString(sum[:]), "apigateway", alofttest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := gatewayClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// TestGatewayLimits drives route throttles (set with UpdateStage), the
// response cache (an Aloft route field) and API keys with a usage plan
// (made through the REST-API-shaped management paths) with a plain HTTP
// client.
func TestGatewayLimits(t *testing.T) {
	f := newGatewayFixture(t)
	echo := f.integration(t, "gwecho", "2.0", 0)
	f.route(t, "GET /limited", echo)
	out, err := f.gw.CreateRoute(ctxT(t), &apigatewayv2.CreateRouteInput{ApiId: aws.String(f.apiID), RouteKey: aws.String("GET /keyed"),
		Target: aws.String(echo), ApiKeyRequired: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(out.ApiKeyRequired) {
		t.Fatal("ApiKeyRequired not returned")
	}
	_, err = f.gw.UpdateStage(ctxT(t), &apigatewayv2.UpdateStageInput{ApiId: aws.String(f.apiID), StageName: aws.String("$default"),
		RouteSettings: map[string]gwtypes.RouteSettings{"GET /limited": {ThrottlingRateLimit: aws.Float64(0.01), ThrottlingBurstLimit: aws.Int32(3)}}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.gw.GetStage(ctxT(t), &apigatewayv2.GetStageInput{ApiId: aws.String(f.apiID), StageName: aws.String("$default")})
	if err != nil || aws.ToInt32(st.RouteSettings["GET /limited"].ThrottlingBurstLimit) != 3 {
		t.Fatalf("GetStage: %+v %v", st, err)
	}

	t.Run("route throttle", func(t *testing.T) {
		for i := range 3 {
			if r := call(t, "GET", f.base()+"/limited", "", nil, nil); r.status != 200 {
				t.Fatalf("request %d within the burst: %d %s", i, r.status, r.body)
			}
		}
		r := call(t, "GET", f.base()+"/limited", "", nil, nil).expect(t, 429, `{"message":"Too Many Requests"}`)
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 90 || ra > 100 {
			t.Fatalf("Retry-After %q, want about 100 s (0.01 a second)", r.header.Get("Retry-After"))
		}
		call(t, "GET", f.base()+"/items/1", "", nil, nil).expect(t, 200, "") // other routes are not throttled
	})

	t.Run("response cache", func(t *testing.T) {
		f.route(t, "GET /cached/{id}", echo)
		var rt struct {
			TTL int `json:"aloftCacheTtlInSeconds"`
		}
		manage(t, f.srv, "PATCH", "/v2/apis/"+f.apiID+"/routes/"+f.routeID["GET /cached/{id}"], map[string]any{"aloftCacheTtlInSeconds": 60}, &rt)
		if rt.TTL != 60 {
			t.Fatalf("UpdateRoute answered TTL %d", rt.TTL)
		}
		first := call(t, "GET", f.base()+"/cached/1?a=b", "", nil, nil)
		second := call(t, "GET", f.base()+"/cached/1?a=b", "", nil, nil)
		other := call(t, "GET", f.base()+"/cached/2?a=b", "", nil, nil)
		if first.header.Get("X-Aloft-Cache") != "miss" || second.header.Get("X-Aloft-Cache") != "hit" || other.header.Get("X-Aloft-Cache") != "miss" {
			t.Fatalf("x-aloft-cache: %q %q %q, want miss hit miss", first.header.Get("X-Aloft-Cache"), second.header.Get("X-Aloft-Cache"), other.header.Get("X-Aloft-Cache"))
		}
		a, b, c := first.v2Event(t), second.v2Event(t), other.v2Event(t)
		if a.RequestContext.RequestID != b.RequestContext.RequestID || a.RequestContext.RequestID == c.RequestContext.RequestID {
			t.Fatal("a hit did not serve the kept answer, or a miss did")
		}
		if second.header.Get("Apigw-Requestid") == a.RequestContext.RequestID {
			t.Fatal("a hit carries the first request's id; each response has its own")
		}
	})

	t.Run("api keys", func(t *testing.T) {
		var key struct{ ID, Value string }
		if manage(t, f.srv, "POST", "/apikeys", map[string]any{"name": "e2e", "enabled": true}, &key) != 201 || len(key.Value) < 20 {
			t.Fatalf("CreateApiKey: %+v", key)
		}
		var got struct{ Value string }
		manage(t, f.srv, "GET", "/apikeys/"+key.ID, nil, &got)
		if got.Value != "" {
			t.Fatal("GetApiKey returned the value again")
		}
		var plan struct{ ID string }
		manage(t, f.srv, "POST", "/usageplans", map[string]any{"name": "e2e", "apiStages": []map[string]string{{"apiId": f.apiID, "stage": "$default"}},
			"throttle": map[string]any{"rateLimit": 100, "burstLimit": 100}, "quota": map[string]any{"limit": 3, "period": "DAY"}}, &plan)
		manage(t, f.srv, "POST", "/usageplans/"+plan.ID+"/keys", map[string]string{"keyId": key.ID, "keyType": "API_KEY"}, nil)

		call(t, "GET", f.base()+"/keyed", "", nil, nil).expect(t, 403, `{"message":"Forbidden"}`)
		call(t, "GET", f.base()+"/keyed", "", nil, map[string]string{"x-api-key": "wrong-wrong-wrong-wrong"}).expect(t, 403, `{"message":"Forbidden"}`)
		for range 3 {
			ev := call(t, "GET", f.base()+"/keyed", "", nil, map[string]string{"x-api-key": key.Value}).v2Event(t)
			if ev.RouteKey != "GET /keyed" {
				t.Fatalf("event for %s", ev.RouteKey)
			}
		}
		r := call(t, "GET", f.base()+"/keyed", "", nil, map[string]string{"x-api-key": key.Value}).expect(t, 429, `{"message":"Limit Exceeded"}`)
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 86400 {
			t.Fatalf("Retry-After %q, want the rest of the day", r.header.Get("Retry-After"))
		}
		// A restart does not give the key its quota afresh.
		f.srv.Restart()
		call(t, "GET", f.base()+"/keyed", "", nil, map[string]string{"x-api-key": key.Value}).expect(t, 429, `{"message":"Limit Exceeded"}`)
		// GetUsage: today's three requests, none of the quota left.
		today := time.Now().UTC().Format(time.DateOnly)
		var usage struct {
			UsagePlanID string
			Values      map[string][][]int64
		}
		manage(t, f.srv, "GET", "/usageplans/"+plan.ID+"/usage?startDate="+today+"&endDate="+today, nil, &usage)
		if usage.UsagePlanID != plan.ID || fmt.Sprint(usage.Values) != fmt.Sprintf("map[%s:[[3 0]]]", key.ID) {
			t.Fatalf("GetUsage: %+v, want 3 used and 0 left today for %s", usage, key.ID)
		}
		manage(t, f.srv, "PATCH", "/apikeys/"+key.ID, map[string]any{"patchOperations": []map[string]string{{"op": "replace", "path": "/enabled", "value": "false"}}}, nil)
		call(t, "GET", f.base()+"/keyed", "", nil, map[string]string{"x-api-key": key.Value}).expect(t, 403, "")
	})
}
