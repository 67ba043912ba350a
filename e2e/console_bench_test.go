package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkConsoleLoad measures the first load of the console's
// functions page with 100 functions: from navigation start to the list
// rendered (the page's performance mark functions-rendered), with the
// browser's cache emptied before every load, on loopback. The page
// fetches its HTML, scripts and style, asks who is signed in and lists
// the functions (two ListFunctions pages of 50); the metrics are filled
// in after the list is shown.
//
//	go test -run '^$' -bench BenchmarkConsoleLoad -benchtime 20x ./e2e/
func BenchmarkConsoleLoad(b *testing.B) {
	srv := alofttest.Start(b)
	lc := srv.Lambda()
	code := alofttest.ZipFiles(b, map[string]string{"app.py": "def handler(event, context):\n    return 1\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	names := make(chan string, 100)
	for i := range 100 {
		names <- fmt.Sprintf("fn-%03d", i)
	}
	close(names)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(n), Runtime: types.RuntimePython312,
					Handler: aws.String("app.handler"), Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: &types.FunctionCode{ZipFile: code}})
				if err != nil {
					errs <- fmt.Errorf("create %s: %w", n, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	tab := browser(b)
	signIn(b, tab, srv.URL, alofttest.AccessKeyID, alofttest.SecretAccessKey)
	run(b, tab, "signed in", 30*time.Second, chromedp.WaitVisible(chromedp.CSS("#function-list")))

	load := func() float64 {
		run(b, tab, "load the functions page", 30*time.Second,
			chromedp.Navigate("about:blank"),
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, network.ClearBrowserCache, cdp.Empty{})
				return err
			}),
			chromedp.Navigate(srv.URL+"/console/#/functions"),
			chromedp.WaitVisible(chromedp.CSS("#function-list")))
		waitJS(b, tab, "the rendered mark", `performance.getEntriesByName('functions-rendered').length`, 10*time.Second)
		rows := eval[int](b, tab, "rows", `document.querySelectorAll('#function-list tbody tr').length`)
		if rows != 100 {
			b.Fatalf("the list shows %d functions, want 100", rows)
		}
		return eval[float64](b, tab, "the rendered mark", `performance.getEntriesByName('functions-rendered')[0].startTime`)
	}
	load() // the server's first listing warms its caches, as a running server's are
	var ms []float64
	b.ResetTimer()
	for b.Loop() {
		ms = append(ms, load())
	}
	b.StopTimer()
	b.Logf("last load: %s", eval[string](b, tab, "timings", `JSON.stringify([performance.getEntriesByType('navigation').map((e) => ['nav', Math.round(e.responseEnd), Math.round(e.domContentLoadedEventEnd)]), performance.getEntriesByType('resource').map((e) => [e.name.replace(/^.*\/console\//, ''), Math.round(e.startTime), Math.round(e.responseEnd)])])`))
	slices.Sort(ms)
	b.ReportMetric(ms[len(ms)/2], "ms/load-p50")
	b.ReportMetric(ms[len(ms)-1], "ms/load-max")
}
