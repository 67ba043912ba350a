package website

import (
	"context"
	"sync"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Configs is where buckets' website configurations are kept.
type Configs interface {
	Website(ctx context.Context, bucket string, prev *objstore.WebsiteConfig) (*objstore.WebsiteConfig, error)
}

// configKey names a bucket of one store.
type configKey struct {
	store  Configs
	bucket string
}

// read holds the configuration last read per store and bucket, so that
// each look-up costs the store one stat while it is unchanged.
var read sync.Map // configKey → *objstore.WebsiteConfig

// Config returns bucket's website configuration from store, nil if it
// has none; objstore.ErrNoSuchBucket if there is no such bucket. It is
// current: a change made through any server sharing the store is seen
// by the next look-up.
func Config(ctx context.Context, store Configs, bucket string) (*objstore.WebsiteConfig, error) {
	k := configKey{store, bucket}
	var prev *objstore.WebsiteConfig
	if v, ok := read.Load(k); ok {
		prev = v.(*objstore.WebsiteConfig)
	}
	cfg, err := store.Website(ctx, bucket, prev)
	switch {
	case err != nil || cfg == nil:
		if prev != nil {
			read.Delete(k)
		}
	case cfg != prev:
		read.Store(k, cfg)
	}
	return cfg, err
}
