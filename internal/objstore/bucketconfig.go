package objstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// A bucket's configurations are JSON files in its directory, each
// replaced by renaming a new file over the old one. Those read on every
// request (CORS, website) are cached by their readers: the file's
// identity, size and modification time tell whether a configuration read
// earlier is still current, with one stat and no read, and nodes sharing
// the directory see each other's changes the same way.

// fileStamp is the file a configuration was read from, if any.
type fileStamp struct{ read fs.FileInfo }

func (s *fileStamp) stamp() *fileStamp { return s }

// stamped is a configuration type that records the file it was read
// from.
type stamped[T any] interface {
	*T
	stamp() *fileStamp
}

// putBucketConfig replaces the bucket's configuration file name with cfg,
// or removes it when remove is set; what names it in errors.
func (d *Disk) putBucketConfig(bucket, name, what string, cfg any, remove bool) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	path := filepath.Join(d.bucketDir(bucket), name)
	if remove {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: remove %s of %s: %w", what, bucket, err)
		}
		return nil
	}
	return writeJSONFile(d.tmp, path, cfg)
}

// readBucketConfig returns the bucket's configuration file name (nil if
// it has none): prev while the file is the one prev was read from, else
// what the file holds now.
func readBucketConfig[T any, P stamped[T]](d *Disk, bucket, name, what string, prev P) (P, error) {
	if !ValidBucketName(bucket) {
		return nil, ErrNoSuchBucket
	}
	path := filepath.Join(d.bucketDir(bucket), name)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := d.checkBucket(bucket); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: %s of %s: %w", what, bucket, err)
	}
	if prev != nil && sameFile(prev.stamp().read, st) {
		return prev, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) { // removed since the stat
		return readBucketConfig[T, P](d, bucket, name, what, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: %s of %s: %w", what, bucket, err)
	}
	defer f.Close()
	// The identity of what is read is the open file's, so a rename
	// between the stat and the open costs one more read, never a stale
	// configuration taken for current.
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("objstore: %s of %s: %w", what, bucket, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("objstore: %s of %s: %w", what, bucket, err)
	}
	cfg := P(new(T))
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%w: %s of %s: %v", ErrCorrupt, what, bucket, err)
	}
	cfg.stamp().read = st
	return cfg, nil
}

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b fs.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
