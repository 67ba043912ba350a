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

// BenchmarkAliasInvoke measures what invoking through an alias adds to a
// warm invocation: the same no-op function invoked as $LATEST, as its
// published version 2, through an alias at $LATEST (the same instances
// as the first path, so the difference is the alias's own), and through
// an alias at version 3 with half the invocations going to version 4,
// alternating request by request, sequentially, so that all four see the
// same machine. No two paths in a row share instances, so that no
// request finds the one before's instance still being handed back.
//
//	go test -run '^$' -bench BenchmarkAliasInvoke -benchtime 3000x ./e2e/
func BenchmarkAliasInvoke(b *testing.B) {
	srv := alofttest.Start(b)
	c := srv.Lambda()
	ctx := context.Background()
	goRC := runtimeCases()[0]
	createB(b, c, "bench-alias", goRC.runtime, goRC.handler, alofttest.GoFunction(b, "e2e/functions/gofn", "v1"))
	for range 4 {
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("bench-alias")}); err != nil {
			b.Fatal(err)
		}
		// A configuration change, so that the next publish makes a new version.
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("bench-alias"),
			Description: aws.String(time.Now().String())}); err != nil {
			b.Fatal(err)
		}
	}
	for name, a := range map[string]struct {
		version string
		rc      *types.AliasRoutingConfiguration
	}{"plain": {"$LATEST", nil}, "weighted": {"3", &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"4": 0.5}}}} {
		if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("bench-alias"), Name: aws.String(name),
			FunctionVersion: aws.String(a.version), RoutingConfig: a.rc}); err != nil {
			b.Fatal(err)
		}
	}
	payload := []byte(`{"op":"noop"}`)
	paths := []struct {
		name string
		inv  *signedInvoker
		lat  []time.Duration
	}{
		{name: "latest", inv: newSignedInvoker(srv, "bench-alias", payload)},
		{name: "version", inv: newSignedInvoker(srv, "bench-alias:2", payload)},
		{name: "alias", inv: newSignedInvoker(srv, "bench-alias:plain", payload)},
		{name: "weighted-alias", inv: newSignedInvoker(srv, "bench-alias:weighted", payload)},
	}
	for range 200 {
		for _, p := range paths {
			if err := p.inv.invoke(); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		for i := range paths {
			t0 := time.Now()
			if err := paths[i].inv.invoke(); err != nil {
				b.Fatalf("%s: %v", paths[i].name, err)
			}
			paths[i].lat = append(paths[i].lat, time.Since(t0))
		}
	}
	b.StopTimer()
	p50 := map[string]time.Duration{}
	for _, p := range paths {
		p50[p.name] = percentile(p.lat, 0.50)
		b.ReportMetric(us(p50[p.name]), p.name+"-p50-µs")
		b.ReportMetric(us(percentile(p.lat, 0.99)), p.name+"-p99-µs")
	}
	b.ReportMetric(us(p50["alias"]-p50["latest"]), "alias-over-latest-p50-µs")
	b.ReportMetric(us(p50["weighted-alias"]-p50["latest"]), "weighted-over-latest-p50-µs")
}
