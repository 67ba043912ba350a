package cluster

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// reply is what the test function (e2e/functions/gofn) answers.
type reply struct {
	Calls    int    `json:"calls"`
	Instance string `json:"instance"` // its log stream: one per instance
	Function string `json:"function"`
}

// createGo creates a function of the Go test function through s and
// waits until every node of c knows it.
func createGo(t testing.TB, c *alofttest.Cluster, s *alofttest.Server, name string, code []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:         &types.FunctionCode{ZipFile: code},
		Timeout:      aws.Int32(10),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	for _, n := range c.Nodes {
		waitUntil(t, fmt.Sprintf("%s known at %s", name, n.URL), 30*time.Second, func() bool {
			_, err := n.Lambda().GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			return err == nil
		})
	}
}

// call invokes name through s with the log tail and returns the output.
func call(t testing.TB, s *alofttest.Server, name, qualifier, payload string) *lambda.InvokeOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: types.LogTypeTail}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := s.Lambda().Invoke(ctx, in)
	if err != nil {
		t.Fatalf("invoke %s through %s: %v", name, s.URL, err)
	}
	return out
}

// answerOf decodes a successful invocation's answer.
func answerOf(t testing.TB, out *lambda.InvokeOutput) reply {
	t.Helper()
	var r reply
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &r) != nil || r.Instance == "" {
		t.Fatalf("got function error %q and payload %s, want an answer", aws.ToString(out.FunctionError), out.Payload)
	}
	return r
}

// coldStarts sums the cold starts of function over the live nodes of c,
// as their /metrics count them.
func coldStarts(t testing.TB, c *alofttest.Cluster, function string) int {
	t.Helper()
	total := 0
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		total += int(metric(t, n.URL, "aloft_cold_starts_total", function))
	}
	return total
}

// metric reads one counter of function from url's /metrics (0 when
// absent).
func metric(t testing.TB, url, name, function string) float64 {
	t.Helper()
	return series(t, url, name+`{function="`+function+`"}`)
}

// series reads the value of one series (its name and labels, as
// /metrics writes them) from url's /metrics (0 when absent).
func series(t testing.TB, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := name + " "
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			return f
		}
	}
	io.Copy(io.Discard, resp.Body)
	return 0
}

// directoryDelay is long enough for every node to hear the others'
// summaries of their idle instances (published within 200 ms of a
// change).
const directoryDelay = 1500 * time.Millisecond

// TestPlacement runs on three nodes: a function warm on node 1 invoked
// through nodes 2 and 3 runs on node 1's instance, with what the caller
// sees kept; a reserved concurrency of 1 holds for the whole cluster;
// and a forward to a node that was killed runs where it arrived.
func TestPlacement(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := alofttest.StartCluster(t, 3)
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	code := alofttest.GoFunction(t, "e2e/functions/gofn", "v1")
	createGo(t, c, n1, "placed", code)

	// Warm on node 1; invoked through nodes 2 and 3, it runs there.
	first := answerOf(t, call(t, n1, "placed", "", `{}`))
	time.Sleep(directoryDelay)
	for i, n := range []*alofttest.Server{n2, n3, n2} {
		a := answerOf(t, call(t, n, "placed", "", `{}`))
		if a.Instance != first.Instance || a.Calls != i+2 {
			t.Fatalf("invocation %d through node %s ran on instance %s (call %d), want node 1's %s (call %d)",
				i+1, n.URL, a.Instance, a.Calls, first.Instance, i+2)
		}
	}
	if got := coldStarts(t, c, "placed"); got != 1 {
		t.Fatalf("cold starts of placed over the cluster: got %d, want 1", got)
	}

	// A forwarded invocation keeps the function error, the log tail and
	// the executed version.
	out := call(t, n2, "placed", "", `{"op":"error"}`)
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "something failed") {
		t.Fatalf("forwarded function error: got %q and %s", aws.ToString(out.FunctionError), out.Payload)
	}
	if out.ExecutedVersion == nil || *out.ExecutedVersion != "$LATEST" {
		t.Fatalf("forwarded executed version: got %v, want $LATEST", aws.ToString(out.ExecutedVersion))
	}
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil || !strings.Contains(string(tail), "REPORT RequestId") || !strings.Contains(string(tail), "something failed") {
		t.Fatalf("forwarded log tail: got %q (%v)", tail, err)
	}
	out = call(t, n3, "placed", "", `{"op":"print","text":"printed on the warm instance"}`)
	tail, _ = base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if !strings.Contains(string(tail), "printed on the warm instance") {
		t.Fatalf("forwarded log tail: got %q", tail)
	}
	if got := coldStarts(t, c, "placed"); got != 1 {
		t.Fatalf("cold starts of placed after the forwarded errors: got %d, want 1", got)
	}

	// A published version warm on node 3 is run there for node 1.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := n1.Lambda().PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("placed")}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "version 1 at node 3", 30*time.Second, func() bool {
		_, err := n3.Lambda().GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("placed"), Qualifier: aws.String("1")})
		return err == nil
	})
	v1 := answerOf(t, call(t, n3, "placed", "1", `{}`))
	time.Sleep(directoryDelay)
	out = call(t, n1, "placed", "1", `{}`)
	if a := answerOf(t, out); a.Instance != v1.Instance || aws.ToString(out.ExecutedVersion) != "1" {
		t.Fatalf("version 1 through node 1: instance %s version %s, want node 3's %s and 1", a.Instance, aws.ToString(out.ExecutedVersion), v1.Instance)
	}

	t.Run("reserved concurrency holds for the cluster", func(t *testing.T) {
		createGo(t, c, n1, "reserved", code)
		if _, err := n1.Lambda().PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: aws.String("reserved"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes {
			waitUntil(t, "the reservation at "+n.URL, 30*time.Second, func() bool {
				out, err := n.Lambda().GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("reserved")})
				return err == nil && aws.ToInt32(out.ReservedConcurrentExecutions) == 1
			})
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, n := range []*alofttest.Server{n2, n3} {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 300 * time.Millisecond)
				out, err := n.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("reserved"), Payload: []byte(`{"op":"sleep","ms":3000}`)})
				if err == nil && out.FunctionError != nil {
					err = fmt.Errorf("function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		ok, throttled := 0, 0
		for _, err := range errs {
			var ae smithy.APIError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ae) && ae.ErrorCode() == "TooManyRequestsException":
				throttled++
			default:
				t.Errorf("invocation failed otherwise: %v", err)
			}
		}
		if ok != 1 || throttled != 1 {
			t.Fatalf("two concurrent invocations with a reservation of 1 through two nodes: %d succeeded, %d throttled (%v), want 1 and 1", ok, throttled, errs)
		}
		// Once the slot is free, invocations through any node run, one
		// after the other.
		for _, n := range []*alofttest.Server{n3, n3, n2, n1, n3} {
			answerOf(t, call(t, n, "reserved", "", `{}`))
		}
	})

	t.Run("provisioned instances are divided among the nodes", func(t *testing.T) {
		createGo(t, c, n1, "prov", code)
		if _, err := n1.Lambda().PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("prov")}); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes {
			waitUntil(t, "version 1 of prov at "+n.URL, 30*time.Second, func() bool {
				_, err := n.Lambda().GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
				return err == nil
			})
		}
		if _, err := n2.Lambda().PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String("prov"), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(3)}); err != nil {
			t.Fatal(err)
		}
		for i, n := range c.Nodes {
			waitUntil(t, fmt.Sprintf("one provisioned instance ready on node %d", i+1), 30*time.Second, func() bool {
				return series(t, n.URL, `aloft_provisioned_instances{function="prov",state="ready"}`) == 1
			})
		}
		for _, n := range c.Nodes {
			waitUntil(t, "the cluster's provisioned instances reported at "+n.URL, 30*time.Second, func() bool {
				out, err := n.Lambda().GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
					FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
				return err == nil && out.Status == types.ProvisionedConcurrencyStatusEnumReady && aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions) == 3
			})
		}
		// Three invocations at once through node 3 run on the three
		// provisioned instances, wherever they are: no cold start.
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				out, err := n3.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1"), Payload: []byte(`{"op":"sleep","ms":500}`)})
				if err != nil || out.FunctionError != nil {
					t.Errorf("invoke prov:1: %v", err)
				}
			})
		}
		wg.Wait()
		if got := coldStarts(t, c, "prov"); got != 0 {
			t.Fatalf("cold starts of prov: got %d, want 0", got)
		}
	})

	// Node 3 has the function's code (version 1 ran there) but no
	// instance of $LATEST: it forwards to node 1, which is killed, and
	// runs the invocation itself.
	t.Run("a forward to a killed node runs where it arrived", func(t *testing.T) {
		warm := answerOf(t, call(t, n1, "placed", "", `{}`))
		time.Sleep(directoryDelay)
		n1.Kill()
		start := time.Now()
		a := answerOf(t, call(t, n3, "placed", "", `{}`))
		if a.Instance == warm.Instance {
			t.Fatalf("ran on the killed node's instance %s", a.Instance)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("the invocation took %v", d)
		}
		// The line is logged before the answer is sent, but reaches the
		// test through the server's stderr, which may come after it.
		waitUntil(t, "node 3 to say it ran a forward that was not started itself", 5*time.Second, func() bool {
			return strings.Contains(n3.Log(), "forwarded invocation was not started")
		})
		// Node 1 was killed before the cluster raised its streams'
		// replicas (it waits for a size held 20 seconds): streams only it
		// held are gone, and the others could not write their final
		// metrics there on a clean stop.
		n2.Kill()
		n3.Kill()
	})
}
