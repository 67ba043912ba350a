package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkStreamFirstByte measures, on warm instances, how long the
// SDK's InvokeWithResponseStream waits for its first PayloadChunk, and
// for the whole answer, of functions that write a line, pause 20 ms and
// write another: a Node.js function (awslambda.streamifyResponse) and a
// Go custom runtime (the Runtime API's streaming mode). The first chunk
// should come well before the pause ends.
func BenchmarkStreamFirstByte(b *testing.B) {
	srv := alofttest.Start(b)
	c := srv.Lambda()
	createB(b, c, "bench-stream-node", "nodejs20.x", "index.handler", alofttest.ZipFiles(b, map[string]string{"index.mjs": streamedNode}))
	createB(b, c, "bench-stream-go", "provided.al2023", "bootstrap", alofttest.GoFunction(b, "e2e/functions/gostream", "v1"))
	payload := []byte(`{"chunks":2,"pauseMs":20}`)
	run := func(name string) (first, whole time.Duration) {
		t0 := time.Now()
		out, err := c.InvokeWithResponseStream(context.Background(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: payload})
		if err != nil {
			b.Fatal(err)
		}
		st := out.GetStream()
		defer st.Close()
		for ev := range st.Events() {
			switch ev.(type) {
			case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
				if first == 0 {
					first = time.Since(t0)
				}
			case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
				whole = time.Since(t0)
			}
		}
		if err := st.Err(); err != nil || first == 0 || whole == 0 {
			b.Fatalf("%s: %v (first %v, whole %v)", name, err, first, whole)
		}
		return first, whole
	}
	for _, name := range []string{"bench-stream-node", "bench-stream-go"} {
		b.Run(name[len("bench-stream-"):], func(b *testing.B) {
			for range 20 {
				run(name)
			}
			firsts, wholes := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				f, w := run(name)
				firsts, wholes = append(firsts, f), append(wholes, w)
			}
			b.StopTimer()
			b.ReportMetric(us(percentile(firsts, 0.5)), "first-chunk-p50-µs")
			b.ReportMetric(us(percentile(firsts, 0.99)), "first-chunk-p99-µs")
			b.ReportMetric(us(percentile(wholes, 0.5)), "whole-p50-µs")
		})
	}
}
