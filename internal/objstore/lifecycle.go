package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LifecycleStore keeps buckets' lifecycle configurations, and removes
// what they expire (RunLifecycle). The caller checks a configuration
// against S3's rules before storing it.
type LifecycleStore interface {
	// PutLifecycle replaces a bucket's lifecycle configuration; nil
	// removes it.
	PutLifecycle(ctx context.Context, bucket string, cfg *LifecycleConfig) error
	// Lifecycle returns a bucket's lifecycle configuration, nil if it has
	// none.
	Lifecycle(ctx context.Context, bucket string) (*LifecycleConfig, error)
	// ExpireObject deletes an object the way a lifecycle rule does: only
	// if it is still the object described by want, so that an object
	// written since it was judged is never removed; with versioning, by a
	// delete marker. Deleted.Existed is false when nothing was removed.
	ExpireObject(ctx context.Context, bucket, key string, want ObjectInfo) (Deleted, error)
}

// LifecycleConfig is a bucket's lifecycle configuration, kept as
// lifecycle.json in the bucket's directory.
type LifecycleConfig struct {
	Rules []LifecycleRule `json:"rules"`
	// TransitionDefaultMinimumObjectSize is the
	// x-amz-transition-default-minimum-object-size the configuration was
	// put with ("" for S3's default). It governs transitions, which a
	// store of one storage class never makes.
	TransitionDefaultMinimumObjectSize string `json:"transitionDefaultMinimumObjectSize,omitempty"`
}

// LifecycleRule is one rule of a lifecycle configuration.
type LifecycleRule struct {
	ID      string          `json:"id"`
	Enabled bool            `json:"enabled"`
	Filter  LifecycleFilter `json:"filter"`
	// Expiration, if set, deletes the objects the rule selects.
	Expiration *LifecycleExpiration `json:"expiration,omitempty"`
	// AbortDays, when positive, aborts the uploads the rule selects that
	// were initiated that many days ago (rounded as Expiration days are).
	AbortDays int `json:"abortDays,omitempty"`
	// Noncurrent, if set, expires noncurrent versions; a bucket without
	// versioning has none, so it acts on nothing.
	Noncurrent *NoncurrentExpiration `json:"noncurrent,omitempty"`
}

// LifecycleFilter selects the objects a rule applies to: all of its
// conditions hold (an empty filter selects every object).
type LifecycleFilter struct {
	// Form is how the filter was written, kept so that it reads back as
	// it was put: "" a Filter of at most one condition, "and" a Filter
	// with And, "legacy" the rule-level Prefix of the first lifecycle API.
	Form            string         `json:"form,omitempty"`
	Prefix          string         `json:"prefix,omitempty"`
	Tags            []LifecycleTag `json:"tags,omitempty"`
	SizeGreaterThan int64          `json:"sizeGreaterThan,omitempty"` // 0: no lower bound
	SizeLessThan    int64          `json:"sizeLessThan,omitempty"`    // 0: no upper bound
}

// LifecycleTag is one tag a filter requires, in the order it was put.
type LifecycleTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LifecycleExpiration expires current objects: after Days days, or at
// Date, or (ExpiredObjectDeleteMarker) removes delete markers left alone,
// which a bucket without versioning never has.
type LifecycleExpiration struct {
	Days                      int       `json:"days,omitempty"`
	Date                      time.Time `json:"date,omitzero"`
	ExpiredObjectDeleteMarker bool      `json:"expiredObjectDeleteMarker,omitempty"`
}

// NoncurrentExpiration expires noncurrent versions NoncurrentDays after
// they became noncurrent, keeping the NewerNoncurrentVersions newest.
type NoncurrentExpiration struct {
	NoncurrentDays          int `json:"noncurrentDays"`
	NewerNoncurrentVersions int `json:"newerNoncurrentVersions,omitempty"`
}

// Selects reports whether the filter selects an object with this key,
// size and tags.
func (f *LifecycleFilter) Selects(key string, size int64, tags map[string]string) bool {
	if !strings.HasPrefix(key, f.Prefix) {
		return false
	}
	if f.SizeGreaterThan > 0 && size <= f.SizeGreaterThan {
		return false
	}
	if f.SizeLessThan > 0 && size >= f.SizeLessThan {
		return false
	}
	for _, t := range f.Tags {
		if v, ok := tags[t.Key]; !ok || v != t.Value {
			return false
		}
	}
	return true
}

// LifecycleDue returns when an action set days after t falls due: t plus
// days, rounded up to the next midnight UTC, as Amazon S3 counts them.
func LifecycleDue(t time.Time, days int) time.Time {
	t = t.UTC().AddDate(0, 0, days)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if day.Equal(t) {
		return day
	}
	return day.AddDate(0, 0, 1)
}

// ExpiresAt returns when the rule's Expiration falls due for an object
// last modified at modified, and false if the rule expires no current
// objects.
func (r *LifecycleRule) ExpiresAt(modified time.Time) (time.Time, bool) {
	switch e := r.Expiration; {
	case !r.Enabled || e == nil:
		return time.Time{}, false
	case e.Days > 0:
		return LifecycleDue(modified, e.Days), true
	case !e.Date.IsZero():
		return e.Date, true
	}
	return time.Time{}, false
}

// lifecyclePath is the file of a bucket's lifecycle configuration.
func (d *Disk) lifecyclePath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "lifecycle.json")
}

// PutLifecycle replaces a bucket's lifecycle configuration.
func (d *Disk) PutLifecycle(ctx context.Context, bucket string, cfg *LifecycleConfig) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	path := d.lifecyclePath(bucket)
	if cfg == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: remove lifecycle of %s: %w", bucket, err)
		}
		return nil
	}
	return writeJSONFile(d.tmp, path, cfg)
}

// Lifecycle returns a bucket's lifecycle configuration, nil if it has
// none.
func (d *Disk) Lifecycle(ctx context.Context, bucket string) (*LifecycleConfig, error) {
	if err := d.checkBucket(bucket); err != nil {
		return nil, err
	}
	var cfg LifecycleConfig
	if err := readJSONFile(d.lifecyclePath(bucket), &cfg); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("objstore: lifecycle of %s: %w", bucket, err)
	}
	return &cfg, nil
}

// ExpireObject deletes an object the way a lifecycle rule does: only if
// it is still the object described by want (same ETag and Last-Modified),
// checked under the key's lock, so that an object written since it was
// judged is never removed. Deleted.Existed is false when nothing was
// removed.
func (d *Disk) ExpireObject(ctx context.Context, bucket, key string, want ObjectInfo) (Deleted, error) {
	if err := checkKey(key); err != nil {
		return Deleted{}, nil
	}
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	f, m, err := d.openObject(bucket, key)
	if err != nil {
		if errors.Is(err, ErrNoSuchKey) || errors.Is(err, ErrNoSuchBucket) {
			return Deleted{}, nil
		}
		return Deleted{}, err
	}
	f.Close()
	if info := m.info(bucket); info.ETag != want.ETag || !info.LastModified.Equal(want.LastModified) {
		return Deleted{}, nil
	}
	// With versioning, expiring the current version makes a delete
	// marker, as a delete does.
	if v, err := d.versioning(bucket); err != nil || v != "" {
		if err != nil {
			return Deleted{}, err
		}
		return d.markLocked(bucket, key, v == VersioningEnabled)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return Deleted{}, nil
	}
	return d.removeObject(bucket, key)
}
