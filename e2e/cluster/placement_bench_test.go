package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/app"
)

// BenchmarkPlacement invokes 20 functions 1,000 times through the three
// nodes of a cluster at random, from four clients at once, with
// forwarding to warm instances (ALOFT_PLACEMENT=forward, the default) and
// without (local). It reports cold starts per 1,000 invocations (from
// the REPORT lines' Init Duration, checked against the nodes' counters)
// and the latency, as the client sees it, of warm invocations run on the
// node called and of those forwarded to another node. Run it with
// -benchtime 1x: each iteration starts a cluster.
func BenchmarkPlacement(b *testing.B) {
	for _, mode := range []string{"forward", "local"} {
		b.Run(mode, func(b *testing.B) {
			b.Setenv(app.PlacementEnv, mode)
			for range b.N {
				benchPlacement(b)
			}
		})
	}
}

// placementRun is one invocation of the benchmark.
type placementRun struct {
	node     int // the node called
	instance string
	cold     bool
	latency  time.Duration
}

func benchPlacement(b *testing.B) {
	const (
		functions   = 20
		invocations = 1000
		clients     = 4
	)
	b.StopTimer()
	c := alofttest.StartCluster(b, 3)
	code := alofttest.GoFunction(b, "e2e/functions/gofn", "v1")
	names := make([]string, functions)
	for i := range names {
		names[i] = fmt.Sprintf("placed-%02d", i)
		createGo(b, c, c.Nodes[i%3], names[i], code)
	}
	lambdas := make([]*lambda.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		lambdas[i] = n.Lambda()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	runs := make([]placementRun, invocations)
	b.StartTimer()
	throughput(b, clients, invocations, func(k int) error {
		node, fn := rand.IntN(len(lambdas)), names[rand.IntN(len(names))]
		start := time.Now()
		out, err := lambdas[node].Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`), LogType: types.LogTypeTail})
		lat := time.Since(start)
		if err != nil {
			return fmt.Errorf("invoke %s through node %d: %w", fn, node+1, err)
		}
		var r reply
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &r) != nil {
			return fmt.Errorf("invoke %s: function error %q, payload %s", fn, aws.ToString(out.FunctionError), out.Payload)
		}
		tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		runs[k] = placementRun{node: node, instance: r.Instance, cold: strings.Contains(string(tail), "Init Duration"), latency: lat}
		return nil
	})
	b.StopTimer()
	if b.Failed() {
		b.FailNow()
	}

	// An instance lives on the node whose call started it; a warm
	// invocation through another node was forwarded there.
	home := map[string]int{}
	cold := 0
	for _, r := range runs {
		if r.cold {
			cold++
			home[r.instance] = r.node
		}
	}
	var local, forwarded []time.Duration
	for _, r := range runs {
		if r.cold {
			continue
		}
		if h, ok := home[r.instance]; ok && h != r.node {
			forwarded = append(forwarded, r.latency)
		} else {
			local = append(local, r.latency)
		}
	}
	counted := 0
	for _, fn := range names {
		counted += coldStarts(b, c, fn)
	}
	if counted != cold {
		b.Logf("cold starts: %d by the REPORT lines, %d by the nodes' counters", cold, counted)
	}
	// The cluster is younger than the 20 seconds of a steady size after
	// which its streams get three replicas: a node stopped first may take
	// a stream the others write their final metrics to. Its stop is no
	// part of the measurement.
	for _, n := range c.Nodes {
		n.Kill()
	}
	b.ReportMetric(float64(cold)*1000/invocations, "cold/1000")
	b.ReportMetric(float64(len(forwarded))*1000/invocations, "forwarded/1000")
	b.ReportMetric(percentile(local, 50), "local-p50-ms")
	b.ReportMetric(percentile(local, 99), "local-p99-ms")
	b.ReportMetric(percentile(forwarded, 50), "forwarded-p50-ms")
	b.ReportMetric(percentile(forwarded, 99), "forwarded-p99-ms")
	b.ReportMetric(0, "ns/op") // a cluster's start is no figure of merit
}

// percentile returns the p-th percentile of ds in milliseconds (0 for
// none).
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := (len(s)*p + 99) / 100
	k = min(max(k-1, 0), len(s)-1)
	return float64(s[k].Microseconds()) / 1000
}
