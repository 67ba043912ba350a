package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// webappItem is an item of examples/webapp's API.
type webappItem struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created string `json:"created"`
}

// TestWebApp deploys examples/webapp by running its README's blocks as
// written (the AWS CLI makes the table, the role, the stream's mapping and
// the static route; the aloft commands the rest) and uses it over the
// gateway: the page, the API on the same origin, bad input, items kept in
// the table through boto3 that outlive the functions' instances, and the
// count a stream-triggered function keeps.
func TestWebApp(t *testing.T) {
	clis := awsCLIs(t)
	cli := clis["2"]
	if cli == "" {
		cli = clis["1"]
	}
	if cli == "" {
		t.Fatal("no AWS CLI: scripts/install-test-deps.sh installs Debian's (v2)")
	}
	srv := alofttest.Start(t)
	out, ran := runDocBlocks(t, srv, cli, filepath.Join(alofttest.ModuleRoot(t), "examples", "webapp", "README.md"))
	if ran < 5 || !strings.Contains(out, `"name": "bread"`) {
		t.Fatalf("ran %d blocks:\n%s", ran, out)
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

	type listing struct {
		Items []webappItem `json:"items"`
		Count int          `json:"count"`
	}
	get := func() listing {
		t.Helper()
		r := call(t, "GET", base+"/items", "", nil, nil).expect(t, 200, "")
		var l listing
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatalf("GET /items: %s: %v", r.body, err)
		}
		return l
	}
	list := func() []webappItem { t.Helper(); return get().Items }
	counted := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			l := get()
			if l.Count == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the count is %d, want %d", l.Count, n)
			}
		}
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
	// The README added milk and bread.
	items := list()
	if len(items) != 2 || items[0].Name != "milk" || items[1].Name != "bread" {
		t.Fatalf("the README's items: %+v", items)
	}
	milk, bread := items[0], items[1]
	counted(2)
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
	eggs := add("eggs")
	if items := list(); len(items) != 3 || items[0] != milk || items[1] != bread || items[2] != eggs {
		t.Fatalf("after new instances: %+v", items)
	}
	counted(3)
	// The items are in the table, beside the counter.
	q, err := srv.DynamoDB().Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String("webapp-items"),
		KeyConditionExpression: aws.String("#l = :l"), ExpressionAttributeNames: map[string]string{"#l": "list"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":l": &ddbtypes.AttributeValueMemberS{Value: "default"}}, ConsistentRead: aws.Bool(true)})
	if err != nil || q.Count != 3 {
		t.Fatalf("the table holds %+v (%v)", q, err)
	}
}
