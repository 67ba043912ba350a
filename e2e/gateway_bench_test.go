package e2e

import (
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

// BenchmarkGatewayInvoke measures warm no-op invocations through the HTTP
// gateway (route match, payload 2.0 event, response mapping) against the
// same function invoked through the Lambda Invoke API (SigV4-signed by the
// client), with one connection and with 64. The function has 1769 MB, a
// whole CPU, so that its CPU quota does not bound either path, and the idle
// memory allowance holds 64 such instances, so that none is stopped
// between rounds. Gateway and Invoke rounds alternate so that both see the
// same machine; the difference of their medians is the gateway's overhead.
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
	gwURL := srv.GatewayURL + "/_aloft/apis/" + aws.ToString(api.ApiId) + "/bench?op=noop"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	viaGateway := func() error {
		resp, err := client.Get(gwURL)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			return fmt.Errorf("gateway: status %d: %.300s", resp.StatusCode, body)
		}
		return nil
	}
	inv := newSignedInvoker(srv, "bench-gw", []byte(`{"queryStringParameters":{"op":"noop"}}`))
	viaInvoke := inv.invoke

	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("conns=%d", clients), func(b *testing.B) {
			// Start the instances both paths share (64 cold starts at once
			// may outlast a request's timeout on a busy machine, so errors
			// are retried here), then warm each path.
			tolerant := func() error {
				for try := 0; ; try++ {
					if err := viaInvoke(); err == nil || try == 20 {
						return err
					}
					time.Sleep(250 * time.Millisecond)
				}
			}
			for _, send := range []func() error{tolerant, viaGateway, viaInvoke} {
				if _, _, err := load(max(4*clients, 200), clients, send); err != nil {
					b.Fatal(err)
				}
			}
			n := max(b.N, 2000) // percentiles need a sample even with -benchtime 1x
			var gwLat, invLat []time.Duration
			var gwTime, invTime time.Duration
			b.ResetTimer()
			for range rounds {
				l, el, err := load(n/rounds, clients, viaGateway)
				if err != nil {
					b.Fatal(err)
				}
				gwLat, gwTime = append(gwLat, l...), gwTime+el
				l, el, err = load(n/rounds, clients, viaInvoke)
				if err != nil {
					b.Fatal(err)
				}
				invLat, invTime = append(invLat, l...), invTime+el
			}
			b.StopTimer()
			gp50, ip50 := percentile(gwLat, 0.50), percentile(invLat, 0.50)
			b.ReportMetric(us(gp50), "gateway-p50-µs")
			b.ReportMetric(us(percentile(gwLat, 0.99)), "gateway-p99-µs")
			b.ReportMetric(float64(len(gwLat))/gwTime.Seconds(), "gateway-req/s")
			b.ReportMetric(us(ip50), "invoke-p50-µs")
			b.ReportMetric(us(percentile(invLat, 0.99)), "invoke-p99-µs")
			b.ReportMetric(float64(len(invLat))/invTime.Seconds(), "invoke-req/s")
			b.ReportMetric(us(gp50-ip50), "overhead-p50-µs")
			b.ReportMetric((float64(len(gwLat))/gwTime.Seconds())/(float64(len(invLat))/invTime.Seconds()), "throughput-ratio")
		})
	}
}
