package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// load sends n requests with the given number of concurrent clients and
// returns each request's latency and the elapsed time.
func load(n, clients int, send func() error) ([]time.Duration, time.Duration, error) {
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	lats := make([][]time.Duration, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				s := time.Now()
				if err := send(); err != nil {
					errs <- err
					return
				}
				lats[c] = append(lats[c], time.Since(s))
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	select {
	case err := <-errs:
		return nil, 0, err
	default:
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, el, nil
}

// openLoad sends n requests at a fixed rate (per second) over the given
// number of concurrent clients, as an open-loop load generator does: each
// request has a due time, and its latency counts from that time, so a
// request that waits for a free client is charged for the wait.
func openLoad(n, clients int, rate float64, send func() error) ([]time.Duration, error) {
	due := make(chan time.Time, n)
	lats := make([][]time.Duration, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range due {
				if err := send(); err != nil {
					errs <- err
					return
				}
				lats[c] = append(lats[c], time.Since(t))
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / rate)
	t0 := time.Now()
	for i := range n {
		t := t0.Add(time.Duration(i) * interval)
		if d := time.Until(t); d > 0 {
			time.Sleep(d)
		}
		due <- t
	}
	close(due)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, nil
}

// gatewayPaths are the three ways BenchmarkGatewayInvoke reaches the
// function, in the order of each round.
var gatewayPaths = [...]string{"gateway", "invoke", "invoke-small"}

// BenchmarkGatewayInvoke measures warm no-op invocations through the HTTP
// gateway (route match, payload 2.0 event, response mapping) against the
// same function invoked through the Lambda Invoke API (SigV4-signed by the
// client), with one connection and with 64. The Invoke requests carry the
// very event the gateway builds for the route, so that the function does
// the same work on both paths and the difference is the gateway's own; a
// third path invokes with a minimal event ({"queryStringParameters":...},
// 40 bytes), to show what reading the gateway's event costs the function.
// The function has 1769 MB, a whole CPU, so that its CPU quota does not
// bound any path, and the idle memory allowance holds 64 such instances,
// so that none is stopped between rounds. The paths alternate in rounds so
// that all see the same machine.
//
// With 64 connections the load is measured twice: closed-loop (each
// connection sends its next request when the last one is answered: the
// throughput, with latency that is mostly queueing on two cores), and
// open-loop at half the lowest closed-loop throughput (requests at a fixed
// rate, latency counted from each request's due time).
func BenchmarkGatewayInvoke(b *testing.B) {
	const memory, rounds = 1769, 8
	srv := alofttest.Start(b, "--idle-memory", fmt.Sprint(80*memory))
	goRC := runtimeCases()[0]
	createB(b, srv.Lambda(), "bench-gw", goRC.runtime, goRC.handler, alofttest.GoFunction(b, "e2e/functions/gwecho", "v1"))
	_, err := srv.Lambda().UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("bench-gw"), MemorySize: aws.Int32(memory), Timeout: aws.Int32(30)})
	if err != nil {
		b.Fatal(err)
	}
	api, err := srv.APIGateway().CreateApi(context.Background(), &apigatewayv2.CreateApiInput{
		Name: aws.String("bench"), ProtocolType: gwtypes.ProtocolTypeHttp, Target: aws.String("arn:aws:lambda:us-east-1:000000000000:function:bench-gw"),
	})
	if err != nil {
		b.Fatal(err)
	}
	base := srv.GatewayURL + "/_aloft/apis/" + aws.ToString(api.ApiId) + "/bench?op="
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	get := func(op string) (int, []byte, error) {
		resp, err := client.Get(base + op)
		if err != nil {
			return 0, nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, body, err
	}
	// The function echoes the event of an unknown op; the event of op=noop
	// differs only in the op's value (same length: "echo" and "noop").
	status, event, err := get("echo")
	if err != nil || status != 200 || !bytes.Contains(event, []byte(`"requestContext"`)) {
		b.Fatalf("capture the gateway's event: status %d, %v: %.300s", status, err, event)
	}
	event = bytes.ReplaceAll(event, []byte("echo"), []byte("noop"))
	send := map[string]func() error{
		"gateway": func() error {
			status, body, err := get("noop")
			if err == nil && (status != 200 || string(body) != "ok") {
				err = fmt.Errorf("gateway: status %d: %.300s", status, body)
			}
			return err
		},
		"invoke":       newSignedInvoker(srv, "bench-gw", event).invoke,
		"invoke-small": newSignedInvoker(srv, "bench-gw", []byte(`{"queryStringParameters":{"op":"noop"}}`)).invoke,
	}

	// report records each path's latencies and, given elapsed times, its
	// throughput; overheads are against Invoke with the same event.
	report := func(b *testing.B, lat map[string][]time.Duration, el map[string]time.Duration) {
		p50 := map[string]time.Duration{}
		for _, p := range gatewayPaths {
			p50[p] = percentile(lat[p], 0.50)
			b.ReportMetric(us(p50[p]), p+"-p50-µs")
			b.ReportMetric(us(percentile(lat[p], 0.99)), p+"-p99-µs")
			if el != nil {
				b.ReportMetric(float64(len(lat[p]))/el[p].Seconds(), p+"-req/s")
			}
		}
		b.ReportMetric(us(p50["gateway"]-p50["invoke"]), "overhead-p50-µs")
		b.ReportMetric(us(p50["gateway"]-p50["invoke-small"]), "overhead-small-p50-µs")
	}
	warm := func(b *testing.B, clients int) {
		// Start the instances the paths share (64 cold starts at once may
		// outlast a request's timeout on a busy machine, so errors are
		// retried here), then warm each path.
		for try := 0; ; try++ {
			_, _, err := load(max(4*clients, 200), clients, send["invoke-small"])
			if err == nil {
				break
			} else if try == 20 {
				b.Fatal(err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		for _, p := range gatewayPaths {
			if _, _, err := load(max(4*clients, 200), clients, send[p]); err != nil {
				b.Fatal(err)
			}
		}
	}

	var saturated float64 // the lowest closed-loop throughput at 64 connections
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("conns=%d", clients), func(b *testing.B) {
			warm(b, clients)
			n := max(b.N, 2000) // percentiles need a sample even with -benchtime 1x
			lat, el := map[string][]time.Duration{}, map[string]time.Duration{}
			b.ResetTimer()
			for range rounds {
				for _, p := range gatewayPaths {
					l, e, err := load(n/rounds, clients, send[p])
					if err != nil {
						b.Fatal(err)
					}
					lat[p], el[p] = append(lat[p], l...), el[p]+e
				}
			}
			b.StopTimer()
			report(b, lat, el)
			saturated = 0
			for _, p := range gatewayPaths {
				if r := float64(len(lat[p])) / el[p].Seconds(); saturated == 0 || r < saturated {
					saturated = r
				}
			}
		})
	}
	b.Run("conns=64/open", func(b *testing.B) {
		if saturated == 0 {
			b.Skip("the rate comes from conns=64 closed-loop, which did not run")
		}
		warm(b, 64)
		rate := saturated / 2
		n := max(b.N, 2000)
		lat := map[string][]time.Duration{}
		b.ResetTimer()
		for range rounds {
			for _, p := range gatewayPaths {
				l, err := openLoad(n/rounds, 64, rate, send[p])
				if err != nil {
					b.Fatal(err)
				}
				lat[p] = append(lat[p], l...)
			}
		}
		b.StopTimer()
		report(b, lat, nil)
		b.ReportMetric(rate, "rate-req/s")
	})
}
