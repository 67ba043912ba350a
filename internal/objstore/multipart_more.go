package objstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MultipartStore is the part of Store for copied parts, listings of
// uploads and completions with checksums.
type MultipartStore interface {
	// UploadPartCopy stores part n of an upload from an object's content.
	// pick is called with the source as opened and returns the bytes to
	// copy (length < 0: to the end), or an error to refuse the copy with.
	UploadPartCopy(ctx context.Context, bucket, key, uploadID string, n int, srcBucket, srcKey string,
		pick func(src ObjectInfo) (offset, length int64, err error)) (PartInfo, error)
	// ListUploads lists a bucket's uploads in progress by key, then by
	// initiation.
	ListUploads(ctx context.Context, bucket string, opts UploadListOptions) (UploadList, error)
	// CompleteUploadWith is CompleteUpload with the whole object's
	// checksum checked. Completing again an upload that made the object
	// now under key, with the same parts, returns that object with no
	// Sequencer: nothing changed.
	CompleteUploadWith(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart, opts CompleteOptions) (ObjectInfo, error)
	// AbortUploadsBefore aborts every upload initiated before t and
	// returns how many it aborted.
	AbortUploadsBefore(ctx context.Context, t time.Time) (int, error)
}

// CompleteOptions is what a completion says besides its parts.
type CompleteOptions struct {
	// Checksum, if set, is the object checksum the client expects
	// (ErrChecksumMismatch otherwise), of ChecksumAlgorithm, which must
	// be the upload's.
	Checksum, ChecksumAlgorithm string
	// ChecksumType, if set, must be the upload's.
	ChecksumType string
}

// UploadListOptions selects and pages uploads.
type UploadListOptions struct {
	Prefix    string // only keys starting with Prefix
	Delimiter string // roll keys up to common prefixes at the first Delimiter after Prefix
	// KeyMarker and UploadIDMarker continue a listing: uploads of keys
	// after KeyMarker, and of KeyMarker itself those after the upload
	// UploadIDMarker.
	KeyMarker, UploadIDMarker string
	MaxUploads                int // page size, at most MaxListKeys; 0 or less means MaxListKeys
}

// UploadInfo describes an upload in progress.
type UploadInfo struct {
	Key               string
	UploadID          string
	Initiated         time.Time
	ChecksumAlgorithm string
	ChecksumType      string
}

// UploadList is one page of uploads.
type UploadList struct {
	Uploads        []UploadInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextUploadIDMarker continue the listing.
	NextKeyMarker, NextUploadIDMarker string
}

// UploadPartCopy copies the bytes pick chooses of an object into a part,
// streaming them through a pooled buffer to learn their MD5.
func (d *Disk) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, n int, srcBucket, srcKey string,
	pick func(src ObjectInfo) (offset, length int64, err error)) (PartInfo, error) {
	if n < 1 || n > MaxParts {
		return PartInfo{}, ErrInvalidPartNumber
	}
	up, _, err := d.loadUpload(bucket, key, uploadID)
	if err != nil {
		return PartInfo{}, d.uploadError(bucket, err)
	}
	f, src, err := d.openVersion(srcBucket, srcKey, copySourceVersion(ctx))
	if err != nil {
		return PartInfo{}, err
	}
	defer f.Close()
	off, length, err := pick(src.info(srcBucket))
	if err != nil {
		return PartInfo{}, err
	}
	if length < 0 {
		length = src.Size - off
	}
	if off < 0 || off+length > src.Size {
		return PartInfo{}, fmt.Errorf("objstore: copy range %d+%d outside 0-%d", off, length, src.Size)
	}
	if length > MaxObjectSize {
		return PartInfo{}, ErrTooLarge
	}
	t, err := newTemp(d.tmp, "part-*")
	if err != nil {
		return PartInfo{}, err
	}
	defer t.discard()
	if err := d.sealPart(ctx, t, up); err != nil {
		return PartInfo{}, err
	}
	r, err := d.plainSection(ctx, f, src, off, length, true)
	if err != nil {
		return PartInfo{}, err
	}
	h := newChecksum(up.Options.ChecksumAlgorithm)
	if h != nil {
		r = io.TeeReader(r, h)
	}
	size, sum, err := t.readContent(r, MaxObjectSize)
	if err != nil {
		return PartInfo{}, err
	}
	if size != length {
		return PartInfo{}, fmt.Errorf("%w: %s/%s is shorter than its metadata", ErrCorrupt, srcBucket, srcKey)
	}
	m := &fileMeta{Part: n, Size: size, ETag: hexMD5(sum), Modified: d.modified()}
	t.sealMeta(m)
	if h != nil {
		m.Checksums = map[string]string{up.Options.ChecksumAlgorithm: b64(h.Sum(nil))}
	}
	return d.commitPart(bucket, key, uploadID, t, m)
}

// commitPart makes a finished part file the upload's part m.Part, unless
// the upload ended meanwhile.
func (d *Disk) commitPart(bucket, key, uploadID string, t *tempFile, m *fileMeta) (PartInfo, error) {
	if err := t.finish(m); err != nil {
		return PartInfo{}, err
	}
	unlock := d.uploads.lock(uploadID)
	defer unlock()
	_, dir, err := d.loadUpload(bucket, key, uploadID) // completed or aborted meanwhile?
	if err != nil {
		return PartInfo{}, d.uploadError(bucket, err)
	}
	if err := t.commit(filepath.Join(dir, partName(m.Part))); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return PartInfo{}, ErrNoSuchUpload
		}
		return PartInfo{}, fmt.Errorf("objstore: commit part %d: %w", m.Part, err)
	}
	return m.partInfo(), nil
}

// uploadEntry is an upload found by a listing.
type uploadEntry struct {
	id string
	m  uploadMeta
}

// bucketUploads reads the descriptions of a bucket's uploads.
func (d *Disk) bucketUploads(bucket string) ([]uploadEntry, error) {
	dir := filepath.Join(d.uploadsRoot, bucket)
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: list uploads: %w", err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("objstore: list uploads: %w", err)
	}
	out := make([]uploadEntry, 0, len(names))
	for _, id := range names {
		if !validUploadID(id) {
			continue
		}
		var m uploadMeta
		if err := readJSONFile(filepath.Join(dir, id, "upload.json"), &m); err != nil {
			if errors.Is(err, fs.ErrNotExist) { // completed or aborted meanwhile
				continue
			}
			return nil, err
		}
		out = append(out, uploadEntry{id: id, m: m})
	}
	return out, nil
}

// ListUploads lists a bucket's uploads in progress.
func (d *Disk) ListUploads(ctx context.Context, bucket string, opts UploadListOptions) (UploadList, error) {
	if err := d.checkBucket(bucket); err != nil {
		return UploadList{}, err
	}
	all, err := d.bucketUploads(bucket)
	if err != nil {
		return UploadList{}, err
	}
	max := opts.MaxUploads
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	slices.SortFunc(all, func(a, b uploadEntry) int {
		if c := strings.Compare(a.m.Key, b.m.Key); c != 0 {
			return c
		}
		if c := a.m.Initiated.Compare(b.m.Initiated); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	// Uploads of KeyMarker itself follow the one UploadIDMarker names,
	// or, if it is gone, those with greater IDs.
	markerAt := -1
	if opts.UploadIDMarker != "" {
		markerAt = slices.IndexFunc(all, func(e uploadEntry) bool { return e.id == opts.UploadIDMarker && e.m.Key == opts.KeyMarker })
	}
	var out UploadList
	count := 0
	for i, e := range all {
		k := e.m.Key
		if !strings.HasPrefix(k, opts.Prefix) {
			continue
		}
		if opts.KeyMarker != "" {
			switch {
			case k < opts.KeyMarker:
				continue
			case k == opts.KeyMarker:
				if opts.UploadIDMarker == "" || (markerAt >= 0 && i <= markerAt) || (markerAt < 0 && e.id <= opts.UploadIDMarker) {
					continue
				}
			}
		}
		cp := ""
		if opts.Delimiter != "" {
			if j := strings.Index(k[len(opts.Prefix):], opts.Delimiter); j >= 0 {
				cp = k[:len(opts.Prefix)+j+len(opts.Delimiter)]
			}
		}
		if cp != "" && (cp <= opts.KeyMarker || (len(out.CommonPrefixes) > 0 && out.CommonPrefixes[len(out.CommonPrefixes)-1] == cp)) {
			continue
		}
		if count == max {
			out.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			out.CommonPrefixes = append(out.CommonPrefixes, cp)
			out.NextKeyMarker, out.NextUploadIDMarker = cp, ""
			continue
		}
		out.Uploads = append(out.Uploads, UploadInfo{Key: k, UploadID: e.id, Initiated: e.m.Initiated,
			ChecksumAlgorithm: e.m.Options.ChecksumAlgorithm, ChecksumType: e.m.Options.ChecksumType})
		out.NextKeyMarker, out.NextUploadIDMarker = k, e.id
	}
	return out, nil
}

// multipartETag is the ETag parts with these ETags join into.
func multipartETag(parts []CompletedPart) (string, bool) {
	h := md5.New()
	for _, p := range parts {
		raw, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil || len(raw) != md5.Size {
			return "", false
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
}

// completedAlready returns the object under key if the upload made it
// from these parts and it has not changed since.
func (d *Disk) completedAlready(bucket, key, uploadID string, parts []CompletedPart) (ObjectInfo, bool) {
	f, m, err := d.openObject(bucket, key)
	if err != nil {
		return ObjectInfo{}, false
	}
	f.Close()
	etag, ok := multipartETag(parts)
	if !ok || m.UploadID != uploadID || !strings.EqualFold(m.ETag, etag) {
		return ObjectInfo{}, false
	}
	return m.info(bucket), true
}

// AbortUploadsBefore aborts the uploads of every bucket initiated before
// t.
func (d *Disk) AbortUploadsBefore(ctx context.Context, t time.Time) (int, error) {
	buckets, err := os.ReadDir(d.uploadsRoot)
	if err != nil {
		return 0, fmt.Errorf("objstore: list uploads: %w", err)
	}
	n := 0
	for _, b := range buckets {
		if !b.IsDir() || !ValidBucketName(b.Name()) {
			continue
		}
		ups, err := d.bucketUploads(b.Name())
		if err != nil {
			return n, err
		}
		for _, u := range ups {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if !u.m.Initiated.Before(t) {
				continue
			}
			err := d.AbortUpload(ctx, u.m.Bucket, u.m.Key, u.id)
			if err != nil && !errors.Is(err, ErrNoSuchUpload) && !errors.Is(err, ErrNoSuchBucket) {
				return n, fmt.Errorf("objstore: abort upload %s: %w", u.id, err)
			}
			if err == nil {
				n++
			}
		}
	}
	return n, nil
}
