package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// webappItem is an item of examples/webapp's API.
type webappItem struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created string `json:"created"`
}

// TestWebApp deploys examples/webapp the way its README does (the aloft
// commands, then the static $default route through the API Gateway SDK)
// and uses it over the gateway: the page, the API on the same origin, bad
// input, and items that outlive the functions' instances.
func TestWebApp(t *testing.T) {
	srv := alofttest.Start(t)
	dir := filepath.Join(alofttest.ModuleRoot(t), "examples", "webapp")
	aloft := func(args ...string) string {
		t.Helper()
		out, errOut, code := srv.Run(ctxT(t), nil, args...)
		if code != 0 {
			t.Fatalf("aloft %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	aloft("bucket", "create", "webapp-site")
	aloft("bucket", "create", "webapp-items")
	// The role and policy of the README's step, made with the IAM API.
	role := executionRole(t, srv, "webapp", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::webapp-items/*"},
		{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::webapp-items"}]}`)
	aloft("function", "create", "webapp-list", "--runtime", "python3.12", "--handler", "items.list_items", "--role", role,
		"--code", filepath.Join(dir, "api"), "--timeout", "10", "--env", "ITEMS_BUCKET=webapp-items")
	aloft("function", "create", "webapp-add", "--runtime", "python3.12", "--handler", "items.add_item", "--role", role,
		"--code", filepath.Join(dir, "api"), "--timeout", "10", "--env", "ITEMS_BUCKET=webapp-items")
	aloft("route", "create", "GET /items", "--function", "webapp-list")
	aloft("route", "create", "POST /items", "--function", "webapp-add")
	aloft("object", "put", "webapp-site", filepath.Join(dir, "site", "index.html"))
	aloft("object", "put", "webapp-site", filepath.Join(dir, "site", "app.js"))

	gw := srv.APIGateway()
	apis, err := gw.GetApis(ctxT(t), &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	var apiID string
	for _, a := range apis.Items {
		if aws.ToString(a.Name) == "aloft" {
			apiID = aws.ToString(a.ApiId)
		}
	}
	if apiID == "" {
		t.Fatalf("no API named aloft among %d", len(apis.Items))
	}
	site, err := gw.CreateIntegration(ctxT(t), &apigatewayv2.CreateIntegrationInput{ApiId: aws.String(apiID),
		IntegrationType: gwtypes.IntegrationType("ALOFT_S3"), IntegrationUri: aws.String("arn:aws:s3:::webapp-site")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = gw.CreateRoute(ctxT(t), &apigatewayv2.CreateRouteInput{ApiId: aws.String(apiID),
		RouteKey: aws.String("$default"), Target: aws.String("integrations/" + aws.ToString(site.IntegrationId))})
	if err != nil {
		t.Fatal(err)
	}

	// The page and its script, from the bucket, at the gateway's root.
	base := srv.GatewayURL
	page := call(t, "GET", base+"/", "", nil, nil).expect(t, 200, "")
	if !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), `<script src="app.js">`) {
		t.Fatalf("page: %s %.200s", page.header.Get("Content-Type"), page.body)
	}
	js := call(t, "GET", base+"/app.js", "", nil, nil).expect(t, 200, "")
	if !strings.Contains(js.header.Get("Content-Type"), "javascript") || !strings.Contains(string(js.body), `fetch("items"`) {
		t.Fatalf("app.js: %s %.200s", js.header.Get("Content-Type"), js.body)
	}

	list := func() []webappItem {
		t.Helper()
		r := call(t, "GET", base+"/items", "", nil, nil).expect(t, 200, "")
		var items []webappItem
		if err := json.Unmarshal(r.body, &items); err != nil {
			t.Fatalf("GET /items: %s: %v", r.body, err)
		}
		return items
	}
	add := func(name string) webappItem {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"name": name})
		r := call(t, "POST", base+"/items", "", body, map[string]string{"Content-Type": "application/json"}).expect(t, 201, "")
		var it webappItem
		if err := json.Unmarshal(r.body, &it); err != nil || it.ID == "" || it.Name != name || it.Created == "" {
			t.Fatalf("POST /items: %s (%v)", r.body, err)
		}
		return it
	}

	if items := list(); len(items) != 0 {
		t.Fatalf("items before any were added: %+v", items)
	}
	milk := add("milk")
	if items := list(); len(items) != 1 || items[0] != milk {
		t.Fatalf("after adding milk: %+v", items)
	}
	for _, bad := range []string{"", "not json", `["milk"]`, `{"name": ""}`, `{"name": 7}`, `{"title": "milk"}`} {
		r := call(t, "POST", base+"/items", "", []byte(bad), nil).expect(t, 400, "")
		if !strings.Contains(string(r.body), "message") {
			t.Fatalf("POST %q: %s", bad, r.body)
		}
	}

	// A change of configuration retires the functions' instances; what was
	// added before must still be listed by fresh ones.
	for _, fn := range []string{"webapp-list", "webapp-add"} {
		_, err := srv.Lambda().UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(fn), Description: aws.String("new instances")})
		if err != nil {
			t.Fatal(err)
		}
	}
	bread := add("bread")
	if items := list(); len(items) != 2 || items[0] != milk || items[1] != bread {
		t.Fatalf("after new instances: %+v", items)
	}
	objs, err := srv.S3().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("webapp-items")})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) != 2 || !strings.HasPrefix(aws.ToString(objs.Contents[0].Key), "items/") {
		t.Fatalf("bucket webapp-items holds %d objects", len(objs.Contents))
	}
}
