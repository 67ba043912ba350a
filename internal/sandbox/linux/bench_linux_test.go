package linux

import (
	"bufio"
	"context"
	"net"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
	"github.com/aloft-dev/aloft/internal/sandbox/process"
)

// BenchmarkStart measures cold starts, from Start to the first line the
// program (a shell that prints "ready" and then waits) prints, for this
// driver and for the process driver, and reports the median and the 99th
// percentile:
//
//   - sequential: one start at a time, 50ms apart, as cold starts come
//     when a function scales up;
//   - burst16: 16 starts at once, the instances kept running until the
//     whole burst has started, and the pool refilled between bursts;
//   - sustained16: 16 workers starting and stopping instances back to
//     back, which leaves this driver no quiet moment to prepare instances
//     ahead, so most starts prepare theirs on the spot.
func BenchmarkStart(b *testing.B) {
	needRoot(b)
	drivers := []struct {
		name string
		new  func(b *testing.B) sandbox.Driver
	}{
		{"process", func(*testing.B) sandbox.Driver { return &process.Driver{} }},
		{"linux", func(b *testing.B) sandbox.Driver { return newDriver(b, Options{Prestart: 16}) }},
	}
	modes := []struct {
		name  string
		par   int
		pause bool // wait between rounds (for the pool to refill)
	}{
		{"sequential", 1, true}, {"burst16", 16, true}, {"sustained16", 16, false},
	}
	for _, m := range modes {
		for _, drv := range drivers {
			b.Run(m.name+"/"+drv.name, func(b *testing.B) { benchStart(b, drv.new(b), m.par, m.pause) })
		}
	}
}

func benchStart(b *testing.B, d sandbox.Driver, par int, pause bool) {
	code := codeDir(b)
	tmp := b.TempDir()
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	// one starts an instance and returns it once it has printed its line.
	one := func() sandbox.Instance {
		r, w, err := os.Pipe()
		if err != nil {
			b.Error(err)
			return nil
		}
		defer r.Close()
		t0 := time.Now()
		in, err := d.Start(context.Background(), sandbox.Spec{
			ID: "bench", Argv: []string{"/bin/sh", "-c", "echo ready; exec sleep 1000"}, Env: []string{"PATH=/usr/bin:/bin"},
			Dir: code, CodeDir: code, TmpDir: tmp, MemoryMB: 128, Output: w,
		})
		w.Close()
		if err != nil {
			b.Error(err)
			return nil
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		lat := time.Since(t0)
		if err != nil || line != "ready\n" {
			b.Errorf("got %q, %v", line, err)
		}
		mu.Lock()
		lats = append(lats, lat)
		mu.Unlock()
		return in
	}
	stop := func(ins []sandbox.Instance) {
		for _, in := range ins {
			if in == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := in.Stop(ctx, 0); err != nil {
				b.Error(err)
			}
			cancel()
		}
	}
	// waitPool waits until the driver has its instances prepared.
	waitPool := func() {
		ld, ok := d.(*Driver)
		deadline := time.Now().Add(10 * time.Second)
		for ok && len(ld.pool) < cap(ld.pool) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	rounds := b.N
	if pause && par > 1 {
		rounds = (b.N + par - 1) / par
	}
	waitPool()
	b.ResetTimer()
	if pause {
		for i := 0; i < rounds; i++ {
			b.StopTimer()
			if par > 1 {
				waitPool()
			} else {
				time.Sleep(50 * time.Millisecond)
			}
			b.StartTimer()
			ins := make([]sandbox.Instance, par)
			var wg sync.WaitGroup
			for g := 0; g < par; g++ {
				wg.Add(1)
				go func() { defer wg.Done(); ins[g] = one() }()
			}
			wg.Wait()
			b.StopTimer()
			stop(ins)
			b.StartTimer()
		}
	} else {
		var wg sync.WaitGroup
		work := make(chan struct{})
		for g := 0; g < par; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					stop([]sandbox.Instance{one()})
				}
			}()
		}
		for i := 0; i < b.N; i++ {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
	}
	b.StopTimer()
	reportPercentiles(b, lats)
}

// BenchmarkThaw measures what freezing costs the next request: the round
// trip of one byte to a program in a sandbox that echoes it, when the
// instance is running (warm) and when it was frozen and is thawed first
// (thawed; the time includes Thaw). The instance has the CPU share of a
// 128 MB function.
func BenchmarkThaw(b *testing.B) {
	needRoot(b)
	for _, frozen := range []bool{false, true} {
		name := "warm"
		if frozen {
			name = "thawed"
		}
		b.Run(name, func(b *testing.B) {
			d := newDriver(b, Options{Prestart: -1})
			// The probe dials a listener opened in its own namespace.
			const addr = "127.0.0.1:9100"
			var ln net.Listener
			p := probe(b, d, "echo:"+addr, func(s *sandbox.Spec) {
				s.Listen = func(n sandbox.Network) (err error) {
					ln, err = n.Listen(addr)
					return err
				}
			})
			defer p.Stop(context.Background(), 0)
			defer ln.Close()
			c, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			f := p.Instance.(sandbox.Freezer)
			var buf [1]byte
			lats := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if frozen {
					b.StopTimer()
					if err := f.Freeze(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				t0 := time.Now()
				if frozen {
					if err := f.Thaw(); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := c.Write([]byte{'x'}); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Read(buf[:]); err != nil {
					b.Fatal(err)
				}
				lats = append(lats, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lats)
		})
	}
}

// reportPercentiles reports the median and 99th percentile of lats in
// milliseconds.
func reportPercentiles(b *testing.B, lats []time.Duration) {
	if len(lats) == 0 {
		return
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) float64 {
		return float64(lats[int(p*float64(len(lats)-1)+0.5)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
