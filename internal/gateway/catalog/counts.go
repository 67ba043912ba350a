package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// countsBucket holds usage plan quota counts, apart from the catalog: they
// change with traffic, not with configuration, and no snapshot needs them.
const countsBucket = "aloft_gateway_counts"

// Count is how many requests an API key made under a usage plan in the
// quota period that starts at Start.
type Count struct {
	Used  int64     `json:"used"`
	Start time.Time `json:"start"`
}

// Counts keeps quota counts across restarts, one document per key and
// plan (by the meter name of KeyPlan). Its methods are safe for
// concurrent use.
type Counts struct {
	kv jetstream.KeyValue
}

// OpenCounts creates or opens the bucket of quota counts.
func OpenCounts(ctx context.Context, js jetstream.JetStream) (*Counts, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: countsBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("catalog: open counts: %w", err)
	}
	return &Counts{kv: kv}, nil
}

// Load returns the count saved for meter; ok is false when none was.
func (c *Counts) Load(ctx context.Context, meter string) (n Count, ok bool, err error) {
	e, err := c.kv.Get(ctx, meter)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Count{}, false, nil
	}
	if err != nil {
		return Count{}, false, fmt.Errorf("catalog: load count of %s: %w", meter, err)
	}
	if err := json.Unmarshal(e.Value(), &n); err != nil {
		return Count{}, false, fmt.Errorf("catalog: count of %s: %w", meter, err)
	}
	return n, true, nil
}

// Save stores meter's count.
func (c *Counts) Save(ctx context.Context, meter string, n Count) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if _, err := c.kv.Put(ctx, meter, b); err != nil {
		return fmt.Errorf("catalog: save count of %s: %w", meter, err)
	}
	return nil
}
