package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Disk is a Store on the local file system; see the package doc for its
// layout and crash rules.
type Disk struct {
	root, tmp, buckets, uploadsRoot string

	// mu orders bucket creation and deletion (write) against everything
	// that adds to a bucket (read), so that a bucket found empty stays
	// empty until it is gone.
	mu      sync.RWMutex
	keys    keyLocks // one per bucket+"/"+key: orders commits and sequencers
	uploads keyLocks // one per upload ID
	seq     sequencer
	now     func() time.Time
	sse     masterKey // the SSE-S3 master key: sse.go
}

var _ Store = (*Disk)(nil)

// Open opens (creating if needed) a store rooted at dir and removes the
// temporary files an earlier run left behind.
func Open(dir string) (*Disk, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: open %s: %w", dir, err)
	}
	d := &Disk{
		root:        abs,
		tmp:         filepath.Join(abs, "tmp"),
		buckets:     filepath.Join(abs, "buckets"),
		uploadsRoot: filepath.Join(abs, "uploads"),
		now:         time.Now,
	}
	if err := os.RemoveAll(d.tmp); err != nil {
		return nil, fmt.Errorf("objstore: sweep temporary files: %w", err)
	}
	for _, p := range []string{d.tmp, d.buckets, d.uploadsRoot} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("objstore: open %s: %w", dir, err)
		}
	}
	return d, nil
}

// Close releases the store. It is safe to call more than once; a Disk
// holds no open files between calls.
func (d *Disk) Close() error { return nil }

// Root returns the directory the store lives in.
func (d *Disk) Root() string { return d.root }

func (d *Disk) bucketDir(b string) string { return filepath.Join(d.buckets, b) }
func (d *Disk) keysDir(b string) string   { return filepath.Join(d.buckets, b, "keys") }
func (d *Disk) modified() time.Time       { return d.now().UTC().Truncate(time.Millisecond) }

// checkBucket reports ErrNoSuchBucket unless the bucket exists.
func (d *Disk) checkBucket(name string) error {
	if !ValidBucketName(name) {
		return ErrNoSuchBucket
	}
	if _, err := os.Stat(d.keysDir(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNoSuchBucket
		}
		return fmt.Errorf("objstore: bucket %s: %w", name, err)
	}
	return nil
}

// CreateBucket creates a bucket. The bucket directory is assembled in tmp/
// and renamed into place, so a crash never leaves half a bucket.
func (d *Disk) CreateBucket(ctx context.Context, name, region string) error {
	if !ValidBucketName(name) {
		return ErrInvalidBucket
	}
	if region == "" {
		region = DefaultRegion
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dst := d.bucketDir(name)
	if _, err := os.Stat(dst); err == nil {
		return ErrBucketExists
	}
	tmp, err := os.MkdirTemp(d.tmp, "bucket-*")
	if err != nil {
		return fmt.Errorf("objstore: create bucket %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	info := BucketInfo{Name: name, Region: region, Created: d.modified()}
	if err := writeJSONFile(d.tmp, filepath.Join(tmp, "bucket.json"), info); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(tmp, "keys"), 0o700); err != nil {
		return fmt.Errorf("objstore: create bucket %s: %w", name, err)
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrBucketExists
		}
		return fmt.Errorf("objstore: create bucket %s: %w", name, err)
	}
	return syncDir(d.buckets)
}

// DeleteBucket removes an empty bucket and any uploads in progress in it.
func (d *Disk) DeleteBucket(ctx context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkBucket(name); err != nil {
		return err
	}
	has, err := hasObjects(d.keysDir(name))
	if err != nil {
		return err
	}
	if has {
		return ErrBucketNotEmpty
	}
	gone := filepath.Join(d.tmp, "deleted-"+name+"-"+randomHex(8))
	if err := os.Rename(d.bucketDir(name), gone); err != nil {
		return fmt.Errorf("objstore: delete bucket %s: %w", name, err)
	}
	if err := syncDir(d.buckets); err != nil {
		return err
	}
	os.RemoveAll(gone)
	if err := os.RemoveAll(filepath.Join(d.uploadsRoot, name)); err != nil {
		return fmt.Errorf("objstore: delete uploads of %s: %w", name, err)
	}
	return nil
}

// hasObjects reports whether the key tree under dir holds any object.
func hasObjects(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("objstore: read %s: %w", dir, err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), fileSuffix) || strings.HasSuffix(e.Name(), versionsSuffix) {
			return true, nil
		}
	}
	for _, e := range ents {
		if e.IsDir() {
			if has, err := hasObjects(filepath.Join(dir, e.Name())); has || err != nil {
				return has, err
			}
		}
	}
	return false, nil
}

// Bucket describes a bucket.
func (d *Disk) Bucket(ctx context.Context, name string) (BucketInfo, error) {
	if !ValidBucketName(name) {
		return BucketInfo{}, ErrNoSuchBucket
	}
	var info BucketInfo
	if err := readJSONFile(filepath.Join(d.bucketDir(name), "bucket.json"), &info); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return BucketInfo{}, ErrNoSuchBucket
		}
		return BucketInfo{}, err
	}
	return info, nil
}

// ListBuckets lists every bucket in name order.
func (d *Disk) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	ents, err := os.ReadDir(d.buckets)
	if err != nil {
		return nil, fmt.Errorf("objstore: list buckets: %w", err)
	}
	out := make([]BucketInfo, 0, len(ents))
	for _, e := range ents {
		info, err := d.Bucket(ctx, e.Name())
		if errors.Is(err, ErrNoSuchBucket) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// objectPath returns the file of key in bucket.
func (d *Disk) objectPath(bucket, key string) string {
	return filepath.Join(append([]string{d.keysDir(bucket)}, encodeKey(key)...)...)
}

// PutObject stores body under key. The content streams into a temporary
// file through a pooled buffer; only once body has read to io.EOF and the
// MD5 matches ContentMD5 is the file renamed over the key.
func (d *Disk) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if err := d.checkBucket(bucket); err != nil {
		return ObjectInfo{}, err
	}
	t, err := newTemp(d.tmp, "put-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer t.discard()
	if err := d.bucketDefault(bucket, &opts.Encryption); err != nil {
		return ObjectInfo{}, err
	}
	if err := d.seal(t, opts.Encryption); err != nil {
		return ObjectInfo{}, err
	}
	n, sum, err := t.readContent(body, MaxObjectSize)
	if err != nil {
		return ObjectInfo{}, err
	}
	if opts.ContentMD5 != nil && !bytes.Equal(opts.ContentMD5, sum[:]) {
		return ObjectInfo{}, ErrBadDigest
	}
	m := &fileMeta{Key: key, Size: n, ETag: hexMD5(sum), Modified: d.modified()}
	setOptions(m, &opts)
	t.sealMeta(m)
	m.Checksums = addChecksums(m.Checksums, body)
	if err := d.stamp(bucket, m); err != nil {
		return ObjectInfo{}, err
	}
	if err := t.finish(m); err != nil {
		return ObjectInfo{}, err
	}
	seq, err := d.commitObjectIf(bucket, key, t, m.VersionID, writeCondition(ctx))
	if err != nil {
		return ObjectInfo{}, err
	}
	info := m.info(bucket)
	info.Sequencer = seq
	return info, nil
}

// setOptions copies what a writer said about an object into its metadata.
func setOptions(m *fileMeta, o *PutOptions) {
	m.ContentType = o.ContentType
	if m.ContentType == "" {
		m.ContentType = defaultContent
	}
	m.Metadata = maps.Clone(o.Metadata)
	m.Headers = maps.Clone(o.Headers)
	m.Checksums = maps.Clone(o.Checksums)
	m.Tags = maps.Clone(o.Tags)
	m.LockMode, m.LockUntil, m.LegalHold = o.Retention.Mode, o.Retention.Until, o.LegalHold
}

// checksummer is a body that learns checksums as it is read, such as one
// whose checksum arrives in a trailer.
type checksummer interface {
	// Checksums returns verified checksums by algorithm once the body has
	// been read to io.EOF.
	Checksums() map[string]string
}

// addChecksums adds the checksums body verified to m, if it is a
// checksummer.
func addChecksums(m map[string]string, body io.Reader) map[string]string {
	c, ok := body.(checksummer)
	if !ok {
		return m
	}
	for k, v := range c.Checksums() {
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
	}
	return m
}

// commitObjectIf renames a finished temporary file, the new version of
// key with stored version id vid, over key's path and returns the
// change's sequencer. The key's lock orders sequencers with renames; the
// store's read lock keeps the bucket from being deleted meanwhile. A
// conditional write's c (nil for none; see WithWriteCondition) is checked
// under the key's lock, against the object the rename would replace, so
// that the check and the write are one step to every other writer of the
// key. In a bucket with versioning, the version replaced is kept (see
// versions.go).
func (d *Disk) commitObjectIf(bucket, key string, t *tempFile, vid string, c *WriteCondition) (string, error) {
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	return d.commitLocked(bucket, key, t, vid, c)
}

// commitLocked is commitObjectIf for a caller that holds the key's lock.
func (d *Disk) commitLocked(bucket, key string, t *tempFile, vid string, c *WriteCondition) (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return "", err
	}
	base := d.keysDir(bucket)
	parts := encodeKey(key)
	dst := filepath.Join(append([]string{base}, parts...)...)
	if err := c.check(dst); err != nil {
		return "", err
	}
	versioning, err := d.versioning(bucket)
	if err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		if err := mkdirs(base, parts[:len(parts)-1]); err != nil {
			return "", err
		}
		if versioning != "" {
			if err := d.keepCurrentLocked(dst, vid); err != nil {
				return "", err
			}
		}
		seq := d.seq.next()
		err := t.commit(dst)
		if err == nil {
			return seq, nil
		}
		// A delete may have removed a parent directory it found empty
		// between mkdirs and the rename: make it again.
		if t.path != "" && errors.Is(err, fs.ErrNotExist) && attempt < 8 {
			continue
		}
		return "", fmt.Errorf("objstore: commit %s/%s: %w", bucket, key, err)
	}
}

// mkdirs creates the directories of a key's path below base, syncing the
// parent of each one it creates.
func mkdirs(base string, dirs []string) error {
	p := base
	for _, name := range dirs {
		parent := p
		p = filepath.Join(p, name)
		err := os.Mkdir(p, 0o700)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return fmt.Errorf("objstore: mkdir: %w", err)
		}
	}
	return nil
}

// diskObject is an open object file.
type diskObject struct {
	f    *os.File
	info ObjectInfo
	sse  *opener // of encrypted content: sse.go
}

func (o *diskObject) Info() ObjectInfo { return o.info }

// Range seeks the file and returns an *io.LimitedReader over it, the shape
// net/http turns into sendfile.
func (o *diskObject) Range(offset, length int64) (io.Reader, error) {
	if offset < 0 || offset > o.info.Size {
		return nil, fmt.Errorf("objstore: range offset %d outside 0-%d", offset, o.info.Size)
	}
	if length < 0 || offset+length > o.info.Size {
		length = o.info.Size - offset
	}
	if o.sse != nil {
		return o.sse.reader(offset, length), nil
	}
	if _, err := o.f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("objstore: seek: %w", err)
	}
	return &io.LimitedReader{R: o.f, N: length}, nil
}

func (o *diskObject) Close() error { return o.f.Close() }

// Open opens an object for reading.
func (d *Disk) Open(ctx context.Context, bucket, key string) (Object, error) {
	f, m, err := d.openObject(bucket, key)
	if err != nil {
		return nil, err
	}
	sse, err := d.openSealed(ctx, f, m, false)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &diskObject{f: f, info: m.info(bucket), sse: sse}, nil
}

func (d *Disk) openObject(bucket, key string) (*os.File, *fileMeta, error) {
	if err := checkKey(key); err != nil {
		if err := d.checkBucket(bucket); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrNoSuchKey
	}
	if !ValidBucketName(bucket) {
		return nil, nil, ErrNoSuchBucket
	}
	f, m, err := openMeta(d.objectPath(bucket, key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			if err := d.checkBucket(bucket); err != nil {
				return nil, nil, err
			}
			return nil, nil, ErrNoSuchKey
		}
		return nil, nil, fmt.Errorf("objstore: open %s/%s: %w", bucket, key, err)
	}
	if m.DeleteMarker {
		f.Close()
		return nil, nil, &MarkerError{VersionID: m.VersionID, LastModified: m.Modified, Current: true}
	}
	return f, m, nil
}

// HeadObject describes an object.
func (d *Disk) HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	f, m, err := d.openObject(bucket, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	f.Close()
	return m.info(bucket), nil
}

// DeleteObject removes an object and then any directories of its path left
// empty; in a bucket with versioning it makes a delete marker the key's
// current version instead.
func (d *Disk) DeleteObject(ctx context.Context, bucket, key string) (Deleted, error) {
	if err := checkKey(key); err != nil {
		if err := d.checkBucket(bucket); err != nil {
			return Deleted{}, err
		}
		return Deleted{}, nil
	}
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	if err := d.checkBucket(bucket); err != nil {
		return Deleted{}, err
	}
	if err := writeCondition(ctx).check(d.objectPath(bucket, key)); err != nil {
		return Deleted{}, err
	}
	if v, err := d.versioning(bucket); err != nil || v != "" {
		if err != nil {
			return Deleted{}, err
		}
		return d.markLocked(bucket, key, v == VersioningEnabled)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return Deleted{}, err
	}
	return d.removeObject(bucket, key)
}

// removeObject removes the file of object bucket/key, then any
// directories of its path left empty. The caller holds the key's lock and
// d.mu; an object already gone is no error (Deleted.Existed is false).
func (d *Disk) removeObject(bucket, key string) (Deleted, error) {
	path := d.objectPath(bucket, key)
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			return Deleted{}, nil
		}
		return Deleted{}, fmt.Errorf("objstore: delete %s/%s: %w", bucket, key, err)
	}
	del := Deleted{Existed: true, Sequencer: d.seq.next(), Time: d.modified()}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return del, err
	}
	base := d.keysDir(bucket)
	for dir := filepath.Dir(path); dir != base && strings.HasPrefix(dir, base); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return del, nil
}

// CopyObject copies an object's content into a new file (with
// copy_file_range where the kernel has it) and commits it under the
// destination key.
func (d *Disk) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts *PutOptions) (ObjectInfo, error) {
	if err := checkKey(dstKey); err != nil {
		return ObjectInfo{}, err
	}
	f, src, err := d.openVersion(srcBucket, srcKey, copySourceVersion(ctx))
	if err != nil {
		return ObjectInfo{}, err
	}
	defer f.Close()
	if err := d.checkBucket(dstBucket); err != nil {
		return ObjectInfo{}, err
	}
	t, err := newTemp(d.tmp, "copy-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer t.discard()
	m := &fileMeta{Key: dstKey, Size: src.Size, ETag: src.ETag, Modified: d.modified()}
	sealed, err := d.copySealed(ctx, t, f, src, dstBucket, opts, m)
	if err != nil {
		return ObjectInfo{}, err
	}
	if sealed {
		// Decrypted and encrypted again: m has the copy's ETag and keys.
	} else if src.Parts > 0 {
		// The copy is one part: its ETag is the MD5 of the content.
		_, sum, err := t.readContent(&io.LimitedReader{R: f, N: src.Size}, multipartLimit)
		if err != nil {
			return ObjectInfo{}, err
		}
		m.ETag = hexMD5(sum)
	} else {
		n, err := io.Copy(t.f, &io.LimitedReader{R: f, N: src.Size})
		if err != nil {
			return ObjectInfo{}, fmt.Errorf("objstore: copy %s/%s: %w", srcBucket, srcKey, err)
		}
		if n != src.Size {
			return ObjectInfo{}, fmt.Errorf("%w: %s/%s is shorter than its metadata", ErrCorrupt, srcBucket, srcKey)
		}
	}
	if opts == nil {
		opts = &PutOptions{ContentType: src.ContentType, Metadata: src.Metadata, Headers: src.Headers, Tags: src.Tags}
	}
	setOptions(m, opts)
	if src.Parts == 0 {
		m.Checksums = maps.Clone(src.Checksums) // same content, same checksums
	}
	if err := d.stamp(dstBucket, m); err != nil {
		return ObjectInfo{}, err
	}
	if err := t.finish(m); err != nil {
		return ObjectInfo{}, err
	}
	seq, err := d.commitObjectIf(dstBucket, dstKey, t, m.VersionID, writeCondition(ctx))
	if err != nil {
		return ObjectInfo{}, err
	}
	info := m.info(dstBucket)
	info.Sequencer = seq
	return info, nil
}

// PutNotification replaces a bucket's notification configuration.
func (d *Disk) PutNotification(ctx context.Context, bucket string, cfg NotificationConfig) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	return writeJSONFile(d.tmp, filepath.Join(d.bucketDir(bucket), "notification.json"), cfg)
}

// Notification returns a bucket's notification configuration.
func (d *Disk) Notification(ctx context.Context, bucket string) (NotificationConfig, error) {
	if err := d.checkBucket(bucket); err != nil {
		return NotificationConfig{}, err
	}
	var cfg NotificationConfig
	err := readJSONFile(filepath.Join(d.bucketDir(bucket), "notification.json"), &cfg)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return NotificationConfig{}, err
	}
	return cfg, nil
}

// PutPolicy replaces a bucket's policy document; nil removes it.
func (d *Disk) PutPolicy(ctx context.Context, bucket string, doc []byte) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	path := filepath.Join(d.bucketDir(bucket), "policy.json")
	if doc == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: remove policy of %s: %w", bucket, err)
		}
		return nil
	}
	return writeJSONFile(d.tmp, path, string(doc)) // as a string: kept byte for byte
}

// Policy returns a bucket's policy document, nil if it has none.
func (d *Disk) Policy(ctx context.Context, bucket string) ([]byte, error) {
	if err := d.checkBucket(bucket); err != nil {
		return nil, err
	}
	var doc string
	err := readJSONFile(filepath.Join(d.bucketDir(bucket), "policy.json"), &doc)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []byte(doc), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
