package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/benchtest"
)

// BenchmarkClusterWarm compares warm invocations of one Go function on a
// cluster of three with a server alone, in the same run on the same
// machine: sequential latency (requests alternating between the two,
// through node 1 of the cluster) and throughput with 16 clients (spread
// over the three nodes, against the 16 on the server alone, in
// alternating rounds), with the servers' CPU per invocation (all three
// nodes' together). On one machine the nodes share its cores, so the
// cluster cannot be faster; what this shows is what the cluster's
// machinery costs. Each iteration is one round of both.
func BenchmarkClusterWarm(b *testing.B) {
	alone := alofttest.Start(b)
	c := alofttest.StartCluster(b, 3)
	// At the end, nodes 2 and 3 are killed before node 1 stops (this runs
	// before the nodes' own cleanups): a new cluster's first streams have
	// one replica, on one node, until its size has held for a while, so a
	// node stopping after another may find some of them gone.
	b.Cleanup(func() { c.Nodes[1].Kill(); c.Nodes[2].Kill() })
	ctx := context.Background()
	code := alofttest.GoFunction(b, "e2e/functions/gofn", "v1")
	for _, s := range []*alofttest.Server{alone, c.Nodes[0]} {
		role, err := iam.NewFromConfig(s.Config(), func(o *iam.Options) { o.BaseEndpoint = aws.String(s.URL) }).CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String("warm"), AssumeRolePolicyDocument: aws.String(
				`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("warm"), Runtime: types.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: role.Role.Arn, Code: &types.FunctionCode{ZipFile: code}}); err != nil {
			b.Fatal(err)
		}
	}
	invoker := func(s *alofttest.Server) func() error {
		fn := s.Lambda()
		in := &lambda.InvokeInput{FunctionName: aws.String("warm"), Payload: []byte(`{"op":"noop"}`)}
		return func() error {
			out, err := fn.Invoke(ctx, in)
			if err == nil && out.FunctionError != nil {
				err = fmt.Errorf("function error %s", *out.FunctionError)
			}
			return err
		}
	}
	aloneInv := invoker(alone)
	var nodeInv []func() error
	for _, n := range c.Nodes {
		nodeInv = append(nodeInv, invoker(n))
	}
	// Warm every node's instances for 16 clients, and the alone's.
	waitUntil(b, "the function on every node", 30*time.Second, func() bool { return nodeInv[1]() == nil && nodeInv[2]() == nil })
	throughput(b, 16, 200, func(i int) error { return nodeInv[i%3]() })
	throughput(b, 16, 200, func(int) error { return aloneInv() })

	const seq, burst = 200, 2000
	var seqAlone, seqCluster []time.Duration
	var rateAlone, rateCluster, cpuAlone, cpuCluster []float64
	pids := func(ss ...*alofttest.Server) []int {
		var p []int
		for _, s := range ss {
			p = append(p, s.PID())
		}
		return p
	}
	b.ResetTimer()
	for range b.N {
		for i := range 2 * seq {
			inv, into := aloneInv, &seqAlone
			if i%2 == 1 {
				inv, into = nodeInv[0], &seqCluster
			}
			began := time.Now()
			if err := inv(); err != nil {
				b.Fatal(err)
			}
			*into = append(*into, time.Since(began))
		}
		cpu0 := cpuTime(b, pids(alone)...)
		rate := throughput(b, 16, burst, func(int) error { return aloneInv() })
		rateAlone, cpuAlone = append(rateAlone, rate), append(cpuAlone, float64(cpuTime(b, pids(alone)...)-cpu0)/burst)
		cpu0 = cpuTime(b, pids(c.Nodes...)...)
		rate = throughput(b, 16, burst, func(i int) error { return nodeInv[i%3]() })
		rateCluster, cpuCluster = append(rateCluster, rate), append(cpuCluster, float64(cpuTime(b, pids(c.Nodes...)...)-cpu0)/burst)
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		lat  []time.Duration
	}{{"alone", seqAlone}, {"cluster", seqCluster}} {
		slices.Sort(m.lat)
		b.ReportMetric(float64(m.lat[len(m.lat)/2].Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(m.lat[len(m.lat)*99/100].Microseconds()), m.name+"-p99-µs")
	}
	b.ReportMetric(lossMean(rateAlone), "alone-invokes/s")
	b.ReportMetric(lossMean(rateCluster), "cluster-invokes/s")
	b.ReportMetric(lossMean(cpuAlone)/1e3, "alone-cpu-µs/op")
	b.ReportMetric(lossMean(cpuCluster)/1e3, "cluster-cpu-µs/op")
	b.Logf("rounds: alone %.0f invokes/s, cluster %.0f invokes/s", rateAlone, rateCluster)
}

// throughput runs op n times from clients goroutines and returns the
// rate per second.
func throughput(tb testing.TB, clients, n int, op func(i int) error) float64 {
	tb.Helper()
	took, err := benchtest.Spread(clients, n, op)
	if err != nil {
		tb.Fatal(err)
	}
	return float64(n) / took.Seconds()
}

// cpuTime returns the user and system CPU the processes have used, in
// nanoseconds.
func cpuTime(tb testing.TB, pids ...int) int64 {
	tb.Helper()
	t, err := benchtest.ProcessCPU(pids...)
	if err != nil {
		tb.Fatal(err)
	}
	return int64(t)
}
