// Package meter counts what each function uses (requests, billed
// milliseconds, GB-seconds) and prices it with Lambda's public on-demand
// model, so users can compare running on Aloft with running in the cloud.
// Counts live in memory on the invoke path and are saved to the backbone
// every few seconds and on Close. The nodes of a cluster each save their
// own counts, under their names, and a report adds up every node's.
package meter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lambda's public prices (us-east-1, x86_64) and monthly free tier.
const (
	PricePerRequest  = 0.20 / 1e6
	PricePerGBSecond = 0.0000166667
	FreeRequests     = 1_000_000
	FreeGBSeconds    = 400_000
)

// Usage is what one function (or all of them) used.
type Usage struct {
	FunctionName string  `json:"FunctionName,omitempty"`
	Requests     int64   `json:"Requests"`
	BilledMs     int64   `json:"BilledMs"`
	GBSeconds    float64 `json:"GBSeconds"`
	RequestCost  float64 `json:"RequestCost"`
	ComputeCost  float64 `json:"ComputeCost"`
	Cost         float64 `json:"Cost"`
}

// Report is the usage of every function with the total.
type Report struct {
	Functions []Usage  `json:"Functions"`
	Total     Usage    `json:"Total"`
	FreeTier  FreeTier `json:"FreeTier"`
}

// FreeTier is Lambda's monthly allowance, for comparison.
type FreeTier struct {
	Requests  int64 `json:"Requests"`
	GBSeconds int64 `json:"GBSeconds"`
}

type counts struct {
	Requests   int64 `json:"requests"`
	BilledMs   int64 `json:"billedMs"`
	MBMillisec int64 `json:"mbMs"` // billed ms × memory MB: exact GB-seconds × 1024000
}

// Meter is safe for concurrent use.
type Meter struct {
	kv   jetstream.KeyValue
	log  *slog.Logger
	node string // this node's name on a cluster, "" alone

	mu    sync.Mutex
	m     map[string]*counts // guarded by mu
	dirty map[string]bool    // guarded by mu

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

const bucket = "aloft_usage"

// Open loads the usage this node saved and starts saving every interval
// (0: 5 s). node is this server's name among the nodes of a cluster, ""
// for a server alone.
func Open(ctx context.Context, js jetstream.JetStream, node string, interval time.Duration, log *slog.Logger) (*Meter, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("meter: open bucket: %w", err)
	}
	m := &Meter{kv: kv, log: log, node: node, m: map[string]*counts{}, dirty: map[string]bool{}, stop: make(chan struct{})}
	own, err := m.saved(ctx, false)
	if err != nil {
		return nil, err
	}
	maps.Copy(m.m, own)
	if interval <= 0 {
		interval = 5 * time.Second
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				if err := m.Flush(context.Background()); err != nil {
					m.log.Warn("meter: save usage", "err", err)
				}
			}
		}
	}()
	return m, nil
}

// key is the key fn's counts are saved under: its name on a server
// alone; the node's name, "=" and its name on a cluster (neither kind of
// name has an "=").
func (m *Meter) key(fn string) string {
	if m.node == "" {
		return fn
	}
	return m.node + "=" + fn
}

// saved reads the saved counts: this node's own, by function, or
// (others) the other nodes', added up by function.
func (m *Meter) saved(ctx context.Context, others bool) (map[string]*counts, error) {
	keys, err := m.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("meter: list: %w", err)
	}
	defer keys.Stop()
	out := map[string]*counts{}
	for k := range keys.Keys() {
		node, fn, clustered := strings.Cut(k, "=")
		if !clustered {
			node, fn = "", k
		}
		if (node == m.node) == others {
			continue
		}
		e, err := m.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var c counts
		if json.Unmarshal(e.Value(), &c) != nil {
			continue
		}
		if sum := out[fn]; sum != nil {
			sum.add(c)
		} else {
			out[fn] = &c
		}
	}
	return out, nil
}

// add adds o to c.
func (c *counts) add(o counts) {
	c.Requests += o.Requests
	c.BilledMs += o.BilledMs
	c.MBMillisec += o.MBMillisec
}

// Record adds one invocation of fn.
func (m *Meter) Record(fn string, billedMs int64, memoryMB int) {
	m.mu.Lock()
	c := m.m[fn]
	if c == nil {
		c = &counts{}
		m.m[fn] = c
	}
	c.Requests++
	c.BilledMs += billedMs
	c.MBMillisec += billedMs * int64(memoryMB)
	m.dirty[fn] = true
	m.mu.Unlock()
}

// Flush saves changed counts.
func (m *Meter) Flush(ctx context.Context) error {
	m.mu.Lock()
	save := make(map[string][]byte, len(m.dirty))
	for fn := range m.dirty {
		b, _ := json.Marshal(m.m[fn])
		save[fn] = b
	}
	clear(m.dirty)
	m.mu.Unlock()
	var errs []error
	for fn, b := range save {
		if _, err := m.kv.Put(ctx, m.key(fn), b); err != nil {
			errs = append(errs, fmt.Errorf("meter: save %s: %w", fn, err))
		}
	}
	return errors.Join(errs...)
}

// Close stops the saver and saves what is left.
func (m *Meter) Close(ctx context.Context) error {
	m.once.Do(func() { close(m.stop) })
	m.wg.Wait()
	return m.Flush(ctx)
}

// Report returns every function's usage, priced: on a cluster, this
// node's with what the others last saved (every few seconds).
func (m *Meter) Report() Report {
	var all map[string]*counts
	if m.node != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if all, err = m.saved(ctx, true); err != nil {
			m.log.Warn("meter: the other nodes' usage", "err", err)
		}
		cancel()
	}
	if all == nil {
		all = map[string]*counts{}
	}
	m.mu.Lock()
	for fn, c := range m.m {
		if sum := all[fn]; sum != nil {
			sum.add(*c)
		} else {
			cc := *c
			all[fn] = &cc
		}
	}
	m.mu.Unlock()
	r := Report{Functions: make([]Usage, 0, len(all)), FreeTier: FreeTier{FreeRequests, FreeGBSeconds}}
	var total counts
	for fn, c := range all {
		r.Functions = append(r.Functions, price(fn, *c))
		total.add(*c)
	}
	sort.Slice(r.Functions, func(i, j int) bool { return r.Functions[i].FunctionName < r.Functions[j].FunctionName })
	r.Total = price("", total)
	return r
}

func price(fn string, c counts) Usage {
	u := Usage{FunctionName: fn, Requests: c.Requests, BilledMs: c.BilledMs, GBSeconds: float64(c.MBMillisec) / 1024 / 1000}
	u.RequestCost = float64(c.Requests) * PricePerRequest
	u.ComputeCost = u.GBSeconds * PricePerGBSecond
	u.Cost = u.RequestCost + u.ComputeCost
	return u
}
