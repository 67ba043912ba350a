package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Scan sizes: messages asked for at a time, and how long one may take to
// arrive before a scan gives up with what it has.
const (
	scanBatch = 256
	scanWait  = 5 * time.Second
)

// Scan reads a stream's messages in stream order through an ordered
// consumer made from cfg, calling fn for each, until fn returns false or
// every message pending when the scan began has been read. A scan whose
// next message does not arrive within five seconds ends early with what
// it read and stalled set, for the caller to say so. The consumer is
// deleted when the scan ends.
func Scan(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig,
	fn func(jetstream.Msg, *jetstream.MsgMetadata) bool) (stalled bool, err error) {
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(scanBatch))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", stream, err)
	}
	defer func() {
		it.Stop()
		if ci := cons.CachedInfo(); ci != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = js.DeleteConsumer(dctx, stream, ci.Name)
			cancel()
		}
	}()
	if ci := cons.CachedInfo(); ci == nil || ci.NumPending == 0 {
		return false, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		m, err := it.Next(jetstream.NextMaxWait(scanWait))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				return true, nil
			}
			return false, fmt.Errorf("read %s: %w", stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return false, fmt.Errorf("read %s: %w", stream, err)
		}
		if !fn(m, meta) || meta.NumPending == 0 {
			return false, nil
		}
	}
}
