package objstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidPartNumber reports a part number outside 1 to MaxParts.
var ErrInvalidPartNumber = errors.New("objstore: part number must be between 1 and 10000")

// uploadMeta is an upload's upload.json.
type uploadMeta struct {
	Bucket    string     `json:"bucket"`
	Key       string     `json:"key"`
	Options   PutOptions `json:"options"`
	Initiated time.Time  `json:"initiated"`
	SSE       *sseMeta   `json:"sse,omitempty"` // the data key of an encrypted upload
}

// uploadIDLen is the length of the hex upload IDs CreateUpload makes.
const uploadIDLen = 32

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (d *Disk) uploadDir(bucket, id string) string {
	return filepath.Join(d.uploadsRoot, bucket, id)
}

func partName(n int) string { return fmt.Sprintf("part-%05d", n) }

// CreateUpload starts a multipart upload. Its directory is assembled in
// tmp/ and renamed into place.
func (d *Disk) CreateUpload(ctx context.Context, bucket, key string, opts PutOptions) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return "", err
	}
	id := randomHex(uploadIDLen / 2)
	tmp, err := os.MkdirTemp(d.tmp, "upload-*")
	if err != nil {
		return "", fmt.Errorf("objstore: create upload: %w", err)
	}
	defer os.RemoveAll(tmp)
	opts.ContentMD5 = nil
	if opts.ChecksumAlgorithm != "" {
		typ, err := ChecksumType(opts.ChecksumAlgorithm, opts.ChecksumType)
		if err != nil {
			return "", err
		}
		opts.ChecksumType = typ
	} else if opts.ChecksumType != "" {
		return "", fmt.Errorf("%w: The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.", ErrChecksumRequest)
	}
	sse, err := d.sealUpload(bucket, &opts)
	if err != nil {
		return "", err
	}
	m := uploadMeta{Bucket: bucket, Key: key, Options: opts, Initiated: d.modified(), SSE: sse}
	if err := writeJSONFile(d.tmp, filepath.Join(tmp, "upload.json"), m); err != nil {
		return "", err
	}
	parent := filepath.Join(d.uploadsRoot, bucket)
	if err := mkdirs(d.uploadsRoot, []string{bucket}); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(parent, id)); err != nil {
		return "", fmt.Errorf("objstore: create upload: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return "", err
	}
	return id, nil
}

// loadUpload reads an upload's description and checks that it is for key.
func (d *Disk) loadUpload(bucket, key, id string) (*uploadMeta, string, error) {
	if !validUploadID(id) || !ValidBucketName(bucket) {
		return nil, "", ErrNoSuchUpload
	}
	dir := d.uploadDir(bucket, id)
	var m uploadMeta
	if err := readJSONFile(filepath.Join(dir, "upload.json"), &m); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", ErrNoSuchUpload
		}
		return nil, "", err
	}
	if m.Key != key || m.Bucket != bucket {
		return nil, "", ErrNoSuchUpload
	}
	return &m, dir, nil
}

// uploadError tells a missing bucket from a missing upload.
func (d *Disk) uploadError(bucket string, err error) error {
	if errors.Is(err, ErrNoSuchUpload) {
		if berr := d.checkBucket(bucket); berr != nil {
			return berr
		}
	}
	return err
}

// UploadPart stores a part in its upload's directory, replacing an earlier
// part with the same number. Of an upload with a checksum algorithm, the
// part's checksum of that algorithm is computed as it streams in; one the
// request gave must match it, and one of another algorithm alone is
// ErrChecksumRequest.
func (d *Disk) UploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, opts PartOptions) (PartInfo, error) {
	if n < 1 || n > MaxParts {
		return PartInfo{}, ErrInvalidPartNumber
	}
	up, _, err := d.loadUpload(bucket, key, uploadID)
	if err != nil {
		return PartInfo{}, d.uploadError(bucket, err)
	}
	t, err := newTemp(d.tmp, "part-*")
	if err != nil {
		return PartInfo{}, err
	}
	defer t.discard()
	if err := d.sealPart(ctx, t, up); err != nil {
		return PartInfo{}, err
	}
	alg := up.Options.ChecksumAlgorithm
	var r io.Reader = body
	h := newChecksum(alg)
	if h != nil {
		r = io.TeeReader(body, h)
	}
	size, sum, err := t.readContent(r, MaxObjectSize)
	if err != nil {
		return PartInfo{}, err
	}
	if opts.ContentMD5 != nil && !bytes.Equal(opts.ContentMD5, sum[:]) {
		return PartInfo{}, ErrBadDigest
	}
	sums := addChecksums(maps.Clone(opts.Checksums), body)
	if h != nil {
		got := b64(h.Sum(nil))
		if want, ok := sums[alg]; ok && want != got {
			return PartInfo{}, ErrChecksumMismatch
		} else if !ok && len(sums) > 0 {
			for other := range sums {
				return PartInfo{}, fmt.Errorf("%w: Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
					ErrChecksumRequest, strings.ToLower(alg), strings.ToLower(other))
			}
		}
		if sums == nil {
			sums = make(map[string]string, 1)
		}
		sums[alg] = got
	}
	m := &fileMeta{Part: n, Size: size, ETag: hexMD5(sum), Modified: d.modified(), Checksums: sums}
	t.sealMeta(m)
	return d.commitPart(bucket, key, uploadID, t, m)
}

func (m *fileMeta) partInfo() PartInfo {
	return PartInfo{Number: m.Part, Size: m.Size, ETag: m.ETag, LastModified: m.Modified, Checksums: m.Checksums,
		Encryption: m.SSE.encryption()}
}

// partNumbers returns the numbers of the parts in an upload's directory,
// in order.
func partNumbers(dir string) ([]int, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoSuchUpload
		}
		return nil, fmt.Errorf("objstore: read upload: %w", err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("objstore: read upload: %w", err)
	}
	var nums []int
	for _, name := range names {
		if s, ok := strings.CutPrefix(name, "part-"); ok {
			if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= MaxParts {
				nums = append(nums, n)
			}
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// ListParts lists the parts of an upload numbered above marker.
func (d *Disk) ListParts(ctx context.Context, bucket, key, uploadID string, marker, max int) (PartList, error) {
	m, dir, err := d.loadUpload(bucket, key, uploadID)
	if err != nil {
		return PartList{}, d.uploadError(bucket, err)
	}
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	nums, err := partNumbers(dir)
	if err != nil {
		return PartList{}, err
	}
	out := PartList{Bucket: bucket, Key: key, UploadID: uploadID, Initiated: m.Initiated,
		ChecksumAlgorithm: m.Options.ChecksumAlgorithm, ChecksumType: m.Options.ChecksumType}
	for _, n := range nums {
		if n <= marker {
			continue
		}
		if len(out.Parts) == max {
			out.IsTruncated = true
			break
		}
		pm, err := statMeta(filepath.Join(dir, partName(n)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return PartList{}, err
		}
		out.Parts = append(out.Parts, pm.partInfo())
		out.NextMarker = n
	}
	return out, nil
}

// CompleteUpload is CompleteUploadWith without a whole-object checksum.
func (d *Disk) CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart) (ObjectInfo, error) {
	return d.CompleteUploadWith(ctx, bucket, key, uploadID, parts, CompleteOptions{})
}

// CompleteUploadWith checks the listed parts, joins their content into a
// new object file (with copy_file_range where the kernel has it), commits
// it with the upload's object checksum, and then removes the upload. The
// upload's lock keeps parts from changing meanwhile.
func (d *Disk) CompleteUploadWith(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart, opts CompleteOptions) (ObjectInfo, error) {
	if len(parts) == 0 {
		return ObjectInfo{}, ErrNoParts
	}
	unlock := d.uploads.lock(uploadID)
	defer unlock()
	up, dir, err := d.loadUpload(bucket, key, uploadID)
	if err != nil {
		if errors.Is(err, ErrNoSuchUpload) {
			if info, ok := d.completedAlready(bucket, key, uploadID, parts); ok {
				return info, nil
			}
		}
		return ObjectInfo{}, d.uploadError(bucket, err)
	}
	alg, typ := up.Options.ChecksumAlgorithm, up.Options.ChecksumType
	if opts.ChecksumType != "" && opts.ChecksumType != typ {
		return ObjectInfo{}, fmt.Errorf("%w: The upload was created using the %s checksum mode. The complete request must use the same checksum mode.",
			ErrChecksumRequest, cmp.Or(typ, "null"))
	}
	if opts.Checksum != "" && alg == "" {
		return ObjectInfo{}, fmt.Errorf("%w: The upload was created without a checksum algorithm; the complete request cannot give one.", ErrChecksumRequest)
	}
	if opts.Checksum != "" && opts.ChecksumAlgorithm != "" && opts.ChecksumAlgorithm != alg {
		return ObjectInfo{}, fmt.Errorf("%w: Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
			ErrChecksumRequest, strings.ToLower(alg), strings.ToLower(opts.ChecksumAlgorithm))
	}
	metas := make([]*fileMeta, len(parts))
	for i, p := range parts {
		if p.Number < 1 || p.Number > MaxParts {
			return ObjectInfo{}, ErrInvalidPart
		}
		if i > 0 && p.Number <= parts[i-1].Number {
			return ObjectInfo{}, ErrInvalidPartOrder
		}
		pm, err := statMeta(filepath.Join(dir, partName(p.Number)))
		if errors.Is(err, fs.ErrNotExist) {
			return ObjectInfo{}, fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, p.Number)
		}
		if err != nil {
			return ObjectInfo{}, err
		}
		if !strings.EqualFold(strings.Trim(p.ETag, `"`), pm.ETag) {
			return ObjectInfo{}, fmt.Errorf("%w: part %d has another ETag", ErrInvalidPart, p.Number)
		}
		for a, v := range p.Checksums {
			if pm.Checksums[a] != v {
				return ObjectInfo{}, fmt.Errorf("%w: part %d has another %s checksum", ErrInvalidPart, p.Number, a)
			}
		}
		if typ == ChecksumComposite && p.Checksums[alg] == "" {
			return ObjectInfo{}, fmt.Errorf("%w: The upload was created using a %s checksum. The complete request must include the checksum for each part. It was missing for part %d in the request.",
				ErrChecksumRequest, strings.ToLower(alg), p.Number)
		}
		if alg != "" && pm.Checksums[alg] == "" {
			return ObjectInfo{}, fmt.Errorf("%w: part %d has no %s checksum", ErrCorrupt, p.Number, alg)
		}
		metas[i] = pm
	}
	for i, pm := range metas[:len(metas)-1] {
		if pm.Size < MinPartSize {
			return ObjectInfo{}, fmt.Errorf("%w: part %d has %d bytes", ErrTooSmall, parts[i].Number, pm.Size)
		}
	}
	t, err := newTemp(d.tmp, "complete-*")
	if err != nil {
		return ObjectInfo{}, err
	}
	defer t.discard()
	sums := md5.New()
	var size int64
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		if err := ctx.Err(); err != nil {
			return ObjectInfo{}, err
		}
		if _, err := appendPart(t.f, filepath.Join(dir, partName(p.Number)), metas[i].storedSize()); err != nil {
			return ObjectInfo{}, err
		}
		size += metas[i].Size
		sizes[i] = metas[i].Size
		raw, err := hex.DecodeString(metas[i].ETag)
		if err != nil {
			return ObjectInfo{}, fmt.Errorf("%w: part %d ETag %q", ErrCorrupt, p.Number, metas[i].ETag)
		}
		sums.Write(raw)
	}
	m := &fileMeta{
		Key:       key,
		Size:      size,
		ETag:      hex.EncodeToString(sums.Sum(nil)) + "-" + strconv.Itoa(len(parts)),
		Modified:  d.modified(),
		Parts:     len(parts),
		PartSizes: sizes,
	}
	setOptions(m, &up.Options)
	if err := sealCompleted(m, up, metas); err != nil {
		return ObjectInfo{}, err
	}
	m.Checksums = nil
	m.UploadID = uploadID
	if alg != "" {
		m.ChecksumType = typ
		m.PartChecksums = make([]string, len(metas))
		for i, pm := range metas {
			m.PartChecksums[i] = pm.Checksums[alg]
		}
		var sum string
		if typ == ChecksumFullObject {
			sum, err = fullChecksum(alg, m.PartChecksums, sizes)
		} else {
			sum, err = compositeChecksum(alg, m.PartChecksums)
		}
		if err != nil {
			return ObjectInfo{}, err
		}
		if opts.Checksum != "" && opts.Checksum != sum && opts.Checksum+"-"+strconv.Itoa(len(parts)) != sum {
			return ObjectInfo{}, ErrChecksumMismatch
		}
		m.Checksums = map[string]string{alg: sum}
	}
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
	d.removeUpload(dir)
	info := m.info(bucket)
	info.Sequencer = seq
	return info, nil
}

// appendPart copies a part's content to the end of w.
func appendPart(w *os.File, path string, size int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("objstore: open part: %w", err)
	}
	defer f.Close()
	n, err := io.Copy(w, &io.LimitedReader{R: f, N: size})
	if err != nil {
		return n, fmt.Errorf("objstore: join part: %w", err)
	}
	if n != size {
		return n, fmt.Errorf("%w: part %s is short", ErrCorrupt, path)
	}
	return n, nil
}

// removeUpload moves an upload's directory out of sight, then deletes it.
func (d *Disk) removeUpload(dir string) error {
	gone := filepath.Join(d.tmp, "gone-"+filepath.Base(dir))
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("objstore: remove upload: %w", err)
	}
	syncDir(filepath.Dir(dir))
	return os.RemoveAll(gone)
}

// AbortUpload ends an upload and removes its parts.
func (d *Disk) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	unlock := d.uploads.lock(uploadID)
	defer unlock()
	_, dir, err := d.loadUpload(bucket, key, uploadID)
	if err != nil {
		return d.uploadError(bucket, err)
	}
	return d.removeUpload(dir)
}
