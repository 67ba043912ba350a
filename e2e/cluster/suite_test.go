package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// suiteWait bounds how long a change made through one node may take to
// be seen through another.
const suiteWait = 30 * time.Second

// TestClusterSuite is the short run of the single-server suites' ground
// on a cluster of three, each step through a different node where the
// cluster shares the state: a function created, invoked, updated and
// invoked again; an asynchronous invocation whose success reaches its
// destination function; an HTTP API route called through every node's
// gateway; and an S3 bucket's objects put, read and listed (through one
// node, where they live). The cluster comes from Start as
// ALOFT_E2E_CLUSTER makes it, so the switch the long suites run on is
// itself tried here.
func TestClusterSuite(t *testing.T) {
	begin := time.Now()
	t.Setenv(alofttest.ClusterEnv, "3")
	n1 := alofttest.Start(t)
	c := n1.Cluster
	if c == nil || len(c.Nodes) != 3 || c.Nodes[0] != n1 {
		t.Fatalf("%s=3: Start gave a server alone or a cluster of another shape: %+v", alofttest.ClusterEnv, c)
	}
	st, err := alofttest.ClusterHealth(n1.URL)
	if err != nil || !alofttest.Formed(st, c.Names) {
		t.Fatalf("node 1's health: %+v (%v), want the cluster of %v formed", st, err, c.Names)
	}
	n2, n3 := c.Nodes[1], c.Nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		t.Logf("the suite took %v, the nodes' stop not counted", time.Since(begin).Round(time.Millisecond))
	})

	t.Run("lambda", func(t *testing.T) {
		suiteCreate(ctx, t, n1, "suite-fn", "provided.al2023", "bootstrap", alofttest.GoFunction(t, "e2e/functions/gofn", "v1"))
		if v := suiteVersion(ctx, t, n2, "suite-fn"); v != "v1" {
			t.Fatalf("invoke through node 2: version %q, want v1", v)
		}
		up, err := n3.Lambda().UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("suite-fn"),
			ZipFile: alofttest.GoFunction(t, "e2e/functions/gofn", "v2")})
		if err != nil {
			t.Fatalf("update the code through node 3: %v", err)
		}
		if err := lambda.NewFunctionUpdatedV2Waiter(n3.Lambda()).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("suite-fn")}, suiteWait); err != nil {
			t.Fatalf("the update through node 3: %v", err)
		}
		// Node 2 has an instance of v1 warm: the new code must replace it.
		for i, n := range []*alofttest.Server{n2, n1} {
			var v string
			for deadline := time.Now().Add(suiteWait); v != "v2" && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
				v = suiteVersion(ctx, t, n, "suite-fn")
			}
			if v != "v2" {
				t.Fatalf("after the update through node 3 (sha %s), node %d still runs %q", aws.ToString(up.CodeSha256), 2-i, v)
			}
		}
	})

	t.Run("async", func(t *testing.T) {
		suiteCreate(ctx, t, n2, "suite-sink", "python3.11", "app.sink", alofttest.ZipDir(t, "../testdata/pyasync"))
		suiteCreate(ctx, t, n1, "suite-async", "provided.al2023", "bootstrap", alofttest.GoFunction(t, "e2e/functions/gofn", "v1"))
		if _, err := n1.Lambda().PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
			FunctionName: aws.String("suite-async"), MaximumRetryAttempts: aws.Int32(0),
			DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{
				Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:suite-sink")}},
		}); err != nil {
			t.Fatalf("event invoke config through node 1: %v", err)
		}
		var out *lambda.InvokeOutput
		for deadline := time.Now().Add(suiteWait); ; time.Sleep(250 * time.Millisecond) {
			out, err = n3.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("suite-async"),
				InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"text":"sent through node 3"}`)})
			if !suiteNotFound(err) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || out.StatusCode != http.StatusAccepted {
			t.Fatalf("event invoke through node 3: %+v, %v", out, err)
		}
		rec := suiteRecord(ctx, t, c, "suite-sink")
		if rec.RequestContext.Condition != "Success" || rec.RequestPayload["text"] != "sent through node 3" ||
			!strings.HasSuffix(rec.RequestContext.FunctionArn, ":function:suite-async:$LATEST") || rec.ResponsePayload["function"] != "suite-async" {
			t.Fatalf("destination record: %+v", rec)
		}
	})

	t.Run("gateway", func(t *testing.T) {
		suiteCreate(ctx, t, n3, "suite-echo", "provided.al2023", "bootstrap", alofttest.GoFunction(t, "e2e/functions/gwecho", "v1"))
		gw := n2.APIGateway()
		api, err := gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("suite"), ProtocolType: gwtypes.ProtocolTypeHttp})
		if err != nil {
			t.Fatalf("create the API through node 2: %v", err)
		}
		if _, err := gw.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)}); err != nil {
			t.Fatalf("create the stage through node 2: %v", err)
		}
		integ, err := gw.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api.ApiId, IntegrationType: gwtypes.IntegrationTypeAwsProxy,
			IntegrationUri: aws.String("arn:aws:lambda:us-east-1:000000000000:function:suite-echo"), PayloadFormatVersion: aws.String("2.0")})
		if err != nil {
			t.Fatalf("create the integration through node 2: %v", err)
		}
		if _, err := gw.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("GET /items/{id}"),
			Target: aws.String("integrations/" + aws.ToString(integ.IntegrationId))}); err != nil {
			t.Fatalf("create the route through node 2: %v", err)
		}
		for i, n := range c.Nodes {
			id := fmt.Sprint(40 + i)
			url := n.GatewayURL + "/_aloft/apis/" + aws.ToString(api.ApiId) + "/items/" + id
			var status int
			var body []byte
			for deadline := time.Now().Add(suiteWait); ; time.Sleep(250 * time.Millisecond) {
				status, body = suiteGet(ctx, t, url)
				if status == http.StatusOK || time.Now().After(deadline) {
					break
				}
			}
			var ev struct {
				RouteKey       string            `json:"routeKey"`
				PathParameters map[string]string `json:"pathParameters"`
			}
			if status != http.StatusOK || json.Unmarshal(body, &ev) != nil || ev.RouteKey != "GET /items/{id}" || ev.PathParameters["id"] != id {
				t.Fatalf("GET %s through node %d's gateway: %d %s", url, i+1, status, body)
			}
		}
	})

	t.Run("s3", func(t *testing.T) {
		// Objects live on the node that received them: one node serves
		// the bucket.
		s := n2.S3()
		if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("suite-bucket")}); err != nil {
			t.Fatalf("create the bucket through node 2: %v", err)
		}
		want := map[string]string{"a/one.txt": "first object", "a/two.txt": "second object", "b.txt": "third"}
		for k, v := range want {
			if _, err := s.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("suite-bucket"), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
				t.Fatalf("put %s: %v", k, err)
			}
		}
		for k, v := range want {
			got, err := s.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("suite-bucket"), Key: aws.String(k)})
			if err != nil {
				t.Fatalf("get %s: %v", k, err)
			}
			b, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil || string(b) != v {
				t.Fatalf("get %s: %q (%v), want %q", k, b, err, v)
			}
		}
		list, err := s.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("suite-bucket"), Prefix: aws.String("a/")})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		var keys []string
		for _, o := range list.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if strings.Join(keys, ",") != "a/one.txt,a/two.txt" || aws.ToInt32(list.KeyCount) != 2 {
			t.Fatalf("list of a/: %v (count %d)", keys, aws.ToInt32(list.KeyCount))
		}
	})
}

// suiteCreate creates a function through s and waits until it is active.
func suiteCreate(ctx context.Context, t *testing.T, s *alofttest.Server, name, runtime, handler string, code []byte) {
	t.Helper()
	if _, err := s.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.Runtime(runtime),
		Handler:      aws.String(handler),
		Role:         aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:         &types.FunctionCode{ZipFile: code},
		Timeout:      aws.Int32(10),
	}); err != nil {
		t.Fatalf("create %s through %s: %v", name, s.URL, err)
	}
	if err := lambda.NewFunctionActiveV2Waiter(s.Lambda()).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, suiteWait); err != nil {
		t.Fatalf("%s not active: %v", name, err)
	}
}

// suiteVersion invokes the Go test function through s, waiting while s
// does not know it yet, and returns the version its answer names.
func suiteVersion(ctx context.Context, t *testing.T, s *alofttest.Server, name string) string {
	t.Helper()
	var out *lambda.InvokeOutput
	var err error
	for deadline := time.Now().Add(suiteWait); ; time.Sleep(250 * time.Millisecond) {
		out, err = s.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)})
		if !suiteNotFound(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("invoke %s through %s: %v", name, s.URL, err)
	}
	var a struct {
		Version  string `json:"version"`
		Function string `json:"function"`
	}
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &a) != nil || a.Function != name {
		t.Fatalf("invoke %s through %s: error %q, payload %s", name, s.URL, aws.ToString(out.FunctionError), out.Payload)
	}
	return a.Version
}

// suiteNotFound reports whether err is Lambda's ResourceNotFoundException,
// what a node answers for a function it has not heard of yet.
func suiteNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

// suiteDest is Lambda's destination record, as far as the suite reads it.
type suiteDest struct {
	RequestContext struct {
		FunctionArn string `json:"functionArn"`
		Condition   string `json:"condition"`
	} `json:"requestContext"`
	RequestPayload  map[string]any `json:"requestPayload"`
	ResponsePayload map[string]any `json:"responsePayload"`
}

// suiteRecord waits for the first destination record the sink function
// printed (RECORD {...}), read from its log group. A node lists the log
// streams it wrote and those it found at its start, not those another
// node writes meanwhile, so every node is asked: the one that ran the sink
// has its log.
func suiteRecord(ctx context.Context, t *testing.T, c *alofttest.Cluster, sink string) suiteDest {
	t.Helper()
	var last error
	for deadline := time.Now().Add(2 * suiteWait); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for _, n := range c.Nodes {
			out, err := n.Logs().FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String("/aws/lambda/" + sink), FilterPattern: aws.String("RECORD")})
			if err != nil {
				last = err
				continue
			}
			for _, e := range out.Events {
				var r suiteDest
				if json.Unmarshal([]byte(strings.TrimPrefix(aws.ToString(e.Message), "RECORD ")), &r) == nil && r.RequestContext.Condition != "" {
					return r
				}
			}
		}
	}
	t.Fatalf("no destination record in %s's log within %v (last error %v)", sink, 2*suiteWait, last)
	return suiteDest{}
}

// suiteGet GETs url and returns the status and body.
func suiteGet(ctx context.Context, t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}
