package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
)

// TagStore keeps the tags of objects and buckets. The caller checks tags
// against S3's limits.
type TagStore interface {
	// PutObjectTags replaces an object's tags (nil or empty removes them),
	// leaving its content, ETag and Last-Modified as they are.
	PutObjectTags(ctx context.Context, bucket, key string, tags map[string]string) error
	// PutBucketTags replaces a bucket's tags; nil or empty removes them.
	PutBucketTags(ctx context.Context, bucket string, tags map[string]string) error
	// BucketTags returns a bucket's tags, nil if it has none.
	BucketTags(ctx context.Context, bucket string) (map[string]string, error)
}

// PutObjectTags rewrites the object's file with the new tags in its
// metadata, under the key's lock so that no write of the key comes
// between the read and the rename. The content is copied with
// copy_file_range where the kernel has it.
func (d *Disk) PutObjectTags(ctx context.Context, bucket, key string, tags map[string]string) error {
	if err := checkKey(key); err != nil {
		if err := d.checkBucket(bucket); err != nil {
			return err
		}
		return ErrNoSuchKey
	}
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	f, m, err := d.openObject(bucket, key)
	if err != nil {
		return err
	}
	defer f.Close()
	return d.retagLocked(bucket, key, d.objectPath(bucket, key), f, m, tags)
}

// retagLocked is rewriteLocked giving the version new tags.
func (d *Disk) retagLocked(bucket, key, path string, f *os.File, m *fileMeta, tags map[string]string) error {
	return d.rewriteLocked(bucket, key, path, f, m, func(m *fileMeta) {
		m.Tags = nil
		if len(tags) > 0 {
			m.Tags = maps.Clone(tags)
		}
	})
}

// rewriteLocked rewrites the version file at path, open as f with
// metadata m, with its metadata changed by change: a copy of the content
// (copy_file_range where the kernel has it) renamed over it. The caller
// holds the key's lock.
func (d *Disk) rewriteLocked(bucket, key, path string, f *os.File, m *fileMeta, change func(*fileMeta)) error {
	t, err := newTemp(d.tmp, "meta-*")
	if err != nil {
		return err
	}
	defer t.discard()
	n, err := io.Copy(t.f, &io.LimitedReader{R: f, N: m.storedSize()})
	if err != nil {
		return fmt.Errorf("objstore: retag %s/%s: %w", bucket, key, err)
	}
	if n != m.storedSize() {
		return fmt.Errorf("%w: %s/%s is shorter than its metadata", ErrCorrupt, bucket, key)
	}
	change(m)
	if err := t.finish(m); err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	if err := t.commit(path); err != nil {
		return fmt.Errorf("objstore: retag %s/%s: %w", bucket, key, err)
	}
	return nil
}

// bucketTagsPath is the file of a bucket's tags.
func (d *Disk) bucketTagsPath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "tags.json")
}

// PutBucketTags replaces a bucket's tags.
func (d *Disk) PutBucketTags(ctx context.Context, bucket string, tags map[string]string) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	path := d.bucketTagsPath(bucket)
	if len(tags) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: remove tags of %s: %w", bucket, err)
		}
		return nil
	}
	return writeJSONFile(d.tmp, path, tags)
}

// BucketTags returns a bucket's tags, nil if it has none.
func (d *Disk) BucketTags(ctx context.Context, bucket string) (map[string]string, error) {
	if err := d.checkBucket(bucket); err != nil {
		return nil, err
	}
	var tags map[string]string
	if err := readJSONFile(d.bucketTagsPath(bucket), &tags); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("objstore: tags of %s: %w", bucket, err)
	}
	return tags, nil
}
