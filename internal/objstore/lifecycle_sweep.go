package objstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// LifecycleOptions configure StartLifecycle.
type LifecycleOptions struct {
	// Interval is how often the buckets' rules are applied; 0 takes ten
	// minutes.
	Interval time.Duration
	// Hold and Release are as in SweepOptions: a lease among the nodes
	// sharing the store's directory, so that one of them applies the
	// rules at a time.
	Hold    func(ctx context.Context) bool
	Release func(ctx context.Context)
	// Expired, if set, is told of every object a rule removed: the
	// object's bucket, what it was, and the deletion.
	Expired func(ctx context.Context, bucket BucketInfo, info ObjectInfo, del Deleted)
	Logger  *slog.Logger
}

// LifecycleResult counts what one application of the rules did.
type LifecycleResult struct {
	Expired int // objects removed (or, with versioning, given a delete marker) by an Expiration
	Aborted int // uploads aborted by an AbortIncompleteMultipartUpload
	// Versions counts noncurrent versions a NoncurrentVersionExpiration
	// removed and lone delete markers an ExpiredObjectDeleteMarker did.
	Versions int
}

// StartLifecycle starts applying the lifecycle rules of st's buckets
// every Interval, as of now(). Stop the returned Sweeper to end it.
func StartLifecycle(st Store, now func() time.Time, o LifecycleOptions) *Sweeper {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return every(o.Interval, max(o.Interval, 5*time.Minute), o.Hold, o.Release, func(ctx context.Context) {
		res, err := RunLifecycle(ctx, st, now(), o.Expired)
		if err != nil {
			o.Logger.Error("applying lifecycle rules", "err", err)
		}
		if res.Expired > 0 || res.Aborted > 0 {
			o.Logger.Info("applied lifecycle rules", "expired", res.Expired, "aborted_uploads", res.Aborted)
		}
	})
}

// RunLifecycle applies the enabled lifecycle rules of every bucket of st
// as of now:
// it removes the objects an Expiration has fallen due for (telling
// expired of each, if set) and aborts the uploads an
// AbortIncompleteMultipartUpload has. A bucket whose rules cannot be read
// is skipped and reported in the error once the others are done.
func RunLifecycle(ctx context.Context, st Store, now time.Time, expired func(context.Context, BucketInfo, ObjectInfo, Deleted)) (LifecycleResult, error) {
	var res LifecycleResult
	buckets, err := st.ListBuckets(ctx)
	if err != nil {
		return res, err
	}
	var errs []error
	for _, b := range buckets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		cfg, err := st.Lifecycle(ctx, b.Name)
		if errors.Is(err, ErrNoSuchBucket) || (err == nil && cfg == nil) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := lifecycleBucket(ctx, st, b, cfg, now, expired, &res); err != nil && !errors.Is(err, ErrNoSuchBucket) {
			errs = append(errs, fmt.Errorf("objstore: lifecycle of %s: %w", b.Name, err))
		}
	}
	return res, errors.Join(errs...)
}

// lifecycleBucket applies one bucket's rules.
func lifecycleBucket(ctx context.Context, st Store, b BucketInfo, cfg *LifecycleConfig, now time.Time,
	expired func(context.Context, BucketInfo, ObjectInfo, Deleted), res *LifecycleResult) error {
	var expiring, aborting, versioned []*LifecycleRule
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !r.Enabled {
			continue
		}
		if _, ok := r.ExpiresAt(now); ok {
			expiring = append(expiring, r)
		}
		if r.AbortDays > 0 {
			aborting = append(aborting, r)
		}
		if r.Noncurrent != nil || r.Expiration != nil && r.Expiration.ExpiredObjectDeleteMarker {
			versioned = append(versioned, r)
		}
	}
	if len(versioned) > 0 {
		if err := lifecycleVersions(ctx, st, b, versioned, now, expired, res); err != nil {
			return err
		}
	}
	if len(aborting) > 0 {
		if err := abortDue(ctx, st, b.Name, aborting, now, res); err != nil {
			return err
		}
	}
	if len(expiring) == 0 {
		return nil
	}
	opts := ListOptions{Prefix: commonPrefix(expiring)}
	for {
		page, err := st.ListObjects(ctx, b.Name, opts)
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := ctx.Err(); err != nil {
				return err
			}
			info, due, err := expiryDue(ctx, st, b.Name, o, expiring, now)
			if err != nil {
				return err
			}
			if !due {
				continue
			}
			del, err := st.ExpireObject(ctx, b.Name, info.Key, info)
			if err != nil {
				return err
			}
			if !del.Existed {
				continue
			}
			res.Expired++
			if expired != nil {
				expired(ctx, b, info, del)
			}
		}
		if !page.IsTruncated {
			return nil
		}
		opts.After = page.NextMarker
	}
}

// expiryDue reports whether one of the rules has expired the listed
// object o as of now. An object some rule selects by its tags is read
// again for them; the description returned is the one judged.
func expiryDue(ctx context.Context, st Store, bucket string, o ObjectInfo, rules []*LifecycleRule, now time.Time) (ObjectInfo, bool, error) {
	headed := false
	for _, r := range rules {
		f := &r.Filter
		if len(f.Tags) > 0 && !headed && (&LifecycleFilter{Prefix: f.Prefix, SizeGreaterThan: f.SizeGreaterThan,
			SizeLessThan: f.SizeLessThan}).Selects(o.Key, o.Size, nil) {
			info, err := st.HeadObject(ctx, bucket, o.Key)
			if errors.Is(err, ErrNoSuchKey) {
				return o, false, nil
			}
			if err != nil {
				return o, false, err
			}
			o, headed = info, true
		}
		if !f.Selects(o.Key, o.Size, o.Tags) {
			continue
		}
		if at, ok := r.ExpiresAt(o.LastModified); ok && !now.Before(at) {
			return o, true, nil
		}
	}
	return o, false, nil
}

// commonPrefix is the longest prefix every rule's filter requires.
func commonPrefix(rules []*LifecycleRule) string {
	p := rules[0].Filter.Prefix
	for _, r := range rules[1:] {
		q := r.Filter.Prefix
		n := 0
		for n < len(p) && n < len(q) && p[n] == q[n] {
			n++
		}
		p = p[:n]
	}
	return p
}

// lifecycleVersions applies the rules that act on versions: it removes
// the noncurrent versions a NoncurrentVersionExpiration has fallen due
// for (the NewerNoncurrentVersions newest of each key kept), counting a
// version noncurrent from when the next one was made, and the delete
// markers an ExpiredObjectDeleteMarker finds alone (the only version of
// their key). A bucket whose versioning was never set has neither.
func lifecycleVersions(ctx context.Context, st Store, b BucketInfo, rules []*LifecycleRule, now time.Time,
	expired func(context.Context, BucketInfo, ObjectInfo, Deleted), res *LifecycleResult) error {
	if v, err := st.Versioning(ctx, b.Name); err != nil || v == "" {
		return err
	}
	opts := VersionListOptions{Prefix: commonPrefix(rules)}
	for {
		page, err := st.ListVersions(ctx, b.Name, opts)
		if err != nil {
			return err
		}
		// A key's versions may continue on the next page: judge only the
		// keys whose versions are all here, and start the next page with
		// the first key left.
		vs := page.Versions
		next := ""
		if page.IsTruncated && len(vs) > 0 {
			next = vs[len(vs)-1].Key
			cut := len(vs)
			for cut > 0 && vs[cut-1].Key == next {
				cut--
			}
			if cut > 0 {
				vs = vs[:cut]
			} else {
				next = "" // one key fills the page: judge what is here
			}
		}
		for i := 0; i < len(vs); {
			j := i + 1
			for j < len(vs) && vs[j].Key == vs[i].Key {
				j++
			}
			if err := expireVersions(ctx, st, b, vs[i:j], rules, now, expired, res); err != nil {
				return err
			}
			i = j
		}
		if !page.IsTruncated {
			return nil
		}
		if next != "" {
			// Continue just before the first key left out: every key up
			// to it is done.
			opts.KeyMarker, opts.VersionIDMarker = vs[len(vs)-1].Key, ""
		} else {
			opts.KeyMarker, opts.VersionIDMarker = page.NextKeyMarker, page.NextVersionIDMarker
		}
	}
}

// expireVersions applies the version rules to one key's versions, newest
// first (as listed).
func expireVersions(ctx context.Context, st Store, b BucketInfo, vs []ObjectInfo, rules []*LifecycleRule, now time.Time,
	expired func(context.Context, BucketInfo, ObjectInfo, Deleted), res *LifecycleResult) error {
	if len(vs) == 0 || !vs[0].IsLatest {
		return nil
	}
	remove := func(v ObjectInfo) error {
		del, err := st.DeleteVersion(ctx, b.Name, v.Key, s3ID(v.VersionID))
		if errors.Is(err, ErrLocked) {
			return nil // Object Lock keeps it; so does S3's lifecycle
		}
		if err != nil || !del.Existed {
			return err
		}
		res.Versions++
		if expired != nil {
			expired(ctx, b, v, del)
		}
		return nil
	}
	if len(vs) == 1 && vs[0].DeleteMarker {
		for _, r := range rules {
			if r.Expiration != nil && r.Expiration.ExpiredObjectDeleteMarker && strings.HasPrefix(vs[0].Key, r.Filter.Prefix) {
				return remove(vs[0])
			}
		}
		return nil
	}
	for n, v := range vs[1:] {
		since := vs[n].LastModified // when the next version was made
		for _, r := range rules {
			nc := r.Noncurrent
			if nc == nil || n < nc.NewerNoncurrentVersions || !r.Filter.Selects(v.Key, v.Size, v.Tags) {
				continue
			}
			if !now.Before(LifecycleDue(since, nc.NoncurrentDays)) {
				if err := remove(v); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// abortDue aborts the uploads of bucket that one of the rules has fallen
// due for as of now.
func abortDue(ctx context.Context, st Store, bucket string, rules []*LifecycleRule, now time.Time, res *LifecycleResult) error {
	opts := UploadListOptions{Prefix: commonPrefix(rules)}
	for {
		page, err := st.ListUploads(ctx, bucket, opts)
		if err != nil {
			return err
		}
		for _, u := range page.Uploads {
			due := false
			for _, r := range rules {
				if strings.HasPrefix(u.Key, r.Filter.Prefix) && !now.Before(LifecycleDue(u.Initiated, r.AbortDays)) {
					due = true
					break
				}
			}
			if !due {
				continue
			}
			err := st.AbortUpload(ctx, bucket, u.Key, u.UploadID)
			if err == nil {
				res.Aborted++
			} else if !errors.Is(err, ErrNoSuchUpload) {
				return fmt.Errorf("abort upload %s: %w", u.UploadID, err)
			}
		}
		if !page.IsTruncated {
			return nil
		}
		opts.KeyMarker, opts.UploadIDMarker = page.NextKeyMarker, page.NextUploadIDMarker
	}
}
