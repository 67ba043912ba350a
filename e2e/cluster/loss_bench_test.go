package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkNodeLoss measures what killing a node of three costs, once
// per iteration on a new cluster under the load of TestNodeLoss:
//
//   - ms-to-redelivery: from the kill to the first success record of an
//     event accepted before the kill and delivered again (one the dead
//     node held), and ms-to-redelivery-last to the last of them;
//   - ms-to-write: from the kill to the first new queue (CreateQueue, a
//     write of state that needs the backbone's meta group, which creates
//     the queue's stream) through a survivor, and ms-to-update to the
//     first change of a queue (TagQueue, a write of the queues' bucket
//     alone), each sent every 250 ms until one succeeds;
//   - dups/op: events delivered more than once;
//
// and, for scale, the warm invoke p50 through a node of the cluster and
// through a server alone, in the same run.
func BenchmarkNodeLoss(b *testing.B) {
	var redelivery, last, write, update, clusterP50 []float64
	dups := 0
	for range b.N {
		c := startLossCluster(b)
		clusterP50 = append(clusterP50, warmP50(b, c.Nodes[0], 50))
		o := killUnderLoad(b, c, 5*time.Second, 12*time.Second)
		if miss := o.missing(); len(miss) > 0 {
			b.Errorf("%d accepted events never delivered: %v", len(miss), miss)
		}
		if len(o.syncFailed) > 0 {
			b.Errorf("%d synchronous invocations through the survivors failed: %v", len(o.syncFailed), o.syncFailed[0].err)
		}
		if n := len(o.redelivered); n > 0 {
			redelivery = append(redelivery, lossMS(o.redelivered[0]))
			last = append(last, lossMS(o.redelivered[n-1]))
		}
		write = append(write, lossMS(o.write))
		update = append(update, lossMS(o.update))
		dups += o.dups
		b.Logf("kill: %d events redelivered (%v), first new queue after %v, first change of a queue after %v, %d duplicates, %d accepted, %d refused",
			len(o.redelivered), o.redelivered, o.write.Round(time.Millisecond), o.update.Round(time.Millisecond), o.dups, len(o.accepted), len(o.asyncFailed))
		c.Nodes[0].Stop()
		c.Nodes[1].Stop()
	}
	alone := alofttest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := alone.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(lossFunction),
		Runtime:      ltypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:         &ltypes.FunctionCode{ZipFile: alofttest.GoFunction(b, "e2e/functions/gofn", "v1")},
		Timeout:      aws.Int32(30),
	}); err != nil {
		b.Fatal(err)
	}
	aloneP50 := warmP50(b, alone, 50)
	alone.Stop()
	if len(redelivery) > 0 {
		b.ReportMetric(lossMean(redelivery), "ms-to-redelivery")
		b.ReportMetric(lossMean(last), "ms-to-redelivery-last")
	}
	b.ReportMetric(lossMean(write), "ms-to-write")
	b.ReportMetric(lossMean(update), "ms-to-update")
	b.ReportMetric(float64(dups)/float64(b.N), "dups/op")
	b.ReportMetric(lossMean(clusterP50), "cluster-warm-p50-ms")
	b.ReportMetric(aloneP50, "alone-warm-p50-ms")
}

// warmP50 invokes the function through s n times, one after another,
// after one warming call, and returns the median latency in milliseconds.
func warmP50(tb testing.TB, s *alofttest.Server, n int) float64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fn := s.Lambda()
	in := &lambda.InvokeInput{FunctionName: aws.String(lossFunction), Payload: []byte(`{"op":"noop"}`)}
	var took []time.Duration
	for i := range n + 1 {
		began := time.Now()
		out, err := fn.Invoke(ctx, in)
		if err != nil || out.FunctionError != nil {
			tb.Fatalf("warm invoke through %s: %v", s.URL, err)
		}
		if i > 0 {
			took = append(took, time.Since(began))
		}
	}
	slices.Sort(took)
	return lossMS(took[len(took)/2])
}

func lossMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func lossMean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}
