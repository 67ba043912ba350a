package objstore

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// footerMagic ends every object and part file.
const footerMagic = "ALOFTOB1"

const footerSize = 4 + 4 + len(footerMagic)

// maxMetaSize bounds the metadata block a reader will load.
const maxMetaSize = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errNotDir is what a path walk through a file reports.
var errNotDir error = syscall.ENOTDIR

// fileMeta is the metadata block of an object or part file.
type fileMeta struct {
	Key         string            `json:"key,omitempty"`
	Part        int               `json:"part,omitempty"`
	Size        int64             `json:"size"`
	ETag        string            `json:"etag"`
	Modified    time.Time         `json:"modified"`
	ContentType string            `json:"contentType,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Checksums   map[string]string `json:"checksums,omitempty"`
	Parts       int               `json:"parts,omitempty"`
	PartSizes   []int64           `json:"partSizes,omitempty"`
	// Of a completed multipart upload: see multipart_checksum.go.
	ChecksumType  string   `json:"checksumType,omitempty"`
	PartChecksums []string `json:"partChecksums,omitempty"`
	UploadID      string   `json:"uploadId,omitempty"`
	// Tags are the object's tags.
	Tags map[string]string `json:"tags,omitempty"`
	// SSE is the content's encryption at rest, if any (see sse.go).
	SSE *sseMeta `json:"sse,omitempty"`
	// VersionID is the object's version in a bucket with versioning
	// ("" is the null version), and DeleteMarker says the file is a
	// delete marker, with no content (see versions.go).
	VersionID    string `json:"versionId,omitempty"`
	DeleteMarker bool   `json:"deleteMarker,omitempty"`
	// Object Lock: the retention and legal hold (see objectlock.go).
	LockMode  string    `json:"lockMode,omitempty"`
	LockUntil time.Time `json:"lockUntil,omitzero"`
	LegalHold bool      `json:"legalHold,omitempty"`
}

func (m *fileMeta) info(bucket string) ObjectInfo {
	return ObjectInfo{
		Bucket: bucket, Key: m.Key, Size: m.Size, ETag: m.ETag, LastModified: m.Modified,
		ContentType: m.ContentType, Metadata: m.Metadata, Headers: m.Headers,
		Checksums: m.Checksums, Parts: m.Parts, PartSizes: m.PartSizes, Encryption: m.SSE.encryption(),
		ChecksumType: m.ChecksumType, PartChecksums: m.PartChecksums, Tags: m.Tags,
		VersionID: m.VersionID, DeleteMarker: m.DeleteMarker,
		Retention: Retention{Mode: m.LockMode, Until: m.LockUntil}, LegalHold: m.LegalHold,
	}
}

// writeFooter appends the metadata block and footer after the content.
func writeFooter(w io.Writer, m *fileMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("objstore: encode metadata: %w", err)
	}
	var f [footerSize]byte
	binary.BigEndian.PutUint32(f[0:4], uint32(len(b)))
	binary.BigEndian.PutUint32(f[4:8], crc32.Checksum(b, castagnoli))
	copy(f[8:], footerMagic)
	b = append(b, f[:]...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("objstore: write metadata: %w", err)
	}
	return nil
}

// readMeta reads and checks the metadata block of an open object or part
// file: the footer's magic and CRC, and the sizes adding up to the file's
// length.
func readMeta(f *os.File) (*fileMeta, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("objstore: stat %s: %w", f.Name(), err)
	}
	size := st.Size()
	corrupt := func(why string) error { return fmt.Errorf("%w: %s: %s", ErrCorrupt, f.Name(), why) }
	if size < int64(footerSize) {
		return nil, corrupt("too short")
	}
	var ft [footerSize]byte
	if _, err := f.ReadAt(ft[:], size-int64(footerSize)); err != nil {
		return nil, fmt.Errorf("objstore: read %s: %w", f.Name(), err)
	}
	if string(ft[8:]) != footerMagic {
		return nil, corrupt("no footer")
	}
	n := int64(binary.BigEndian.Uint32(ft[0:4]))
	if n > maxMetaSize || n > size-int64(footerSize) {
		return nil, corrupt("bad metadata length")
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, size-int64(footerSize)-n); err != nil {
		return nil, fmt.Errorf("objstore: read %s: %w", f.Name(), err)
	}
	if crc32.Checksum(b, castagnoli) != binary.BigEndian.Uint32(ft[4:8]) {
		return nil, corrupt("metadata checksum mismatch")
	}
	var m fileMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, corrupt("metadata: " + err.Error())
	}
	if m.storedSize() != size-int64(footerSize)-n {
		return nil, corrupt("content size does not match")
	}
	return &m, nil
}

// openMeta opens a file and reads its metadata. A missing file is
// os.ErrNotExist.
func openMeta(path string) (*os.File, *fileMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := readMeta(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, m, nil
}

// statMeta reads the metadata of the file at path.
func statMeta(path string) (*fileMeta, error) {
	f, m, err := openMeta(path)
	if err != nil {
		return nil, err
	}
	f.Close()
	return m, nil
}

// copyBufSize is the size of the pooled buffers bodies are copied through.
const copyBufSize = 256 << 10

// writebackChunk is how much of a large body is written before its
// writeback to disk is started, ahead of the final fsync.
const writebackChunk = 4 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// tempFile is a file being written in tmp/ that becomes an object or part
// by commit, or disappears by discard.
type tempFile struct {
	f    *os.File
	path string
	seal *sealer // if set, readContent encrypts (sse.go)
}

func newTemp(dir, pattern string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("objstore: create temp file: %w", err)
	}
	return &tempFile{f: f, path: f.Name()}, nil
}

// readContent copies body into the file and returns its size and MD5. It
// fails with ErrTooLarge past limit bytes and returns body's own error
// wrapped.
func (t *tempFile) readContent(body io.Reader, limit int64) (int64, [md5.Size]byte, error) {
	if t.seal != nil {
		return t.readSealed(body, limit)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	h := md5.New()
	var n, flushed int64
	var sum [md5.Size]byte
	for {
		k, rerr := body.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > limit {
				return n, sum, ErrTooLarge
			}
			h.Write(buf[:k])
			if _, err := t.f.Write(buf[:k]); err != nil {
				return n, sum, fmt.Errorf("objstore: write: %w", err)
			}
			if n-flushed >= writebackChunk {
				startWriteback(t.f, flushed, n-flushed)
				flushed = n
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, sum, fmt.Errorf("objstore: read body: %w", rerr)
		}
	}
	h.Sum(sum[:0])
	return n, sum, nil
}

// finish writes the metadata and footer and makes the file durable.
func (t *tempFile) finish(m *fileMeta) error {
	if err := writeFooter(t.f, m); err != nil {
		return err
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("objstore: sync: %w", err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("objstore: close: %w", err)
	}
	t.f = nil
	return nil
}

// discard removes the file unless it was committed.
func (t *tempFile) discard() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	if t.path != "" {
		os.Remove(t.path)
	}
}

// commit renames the finished file to dst and makes the rename durable.
func (t *tempFile) commit(dst string) error {
	if err := os.Rename(t.path, dst); err != nil {
		return err
	}
	t.path = ""
	return syncDir(filepath.Dir(dst))
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("objstore: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("objstore: sync dir %s: %w", dir, err)
	}
	return nil
}

// writeJSONFile writes v to path atomically through tmpDir.
func writeJSONFile(tmpDir, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("objstore: encode %s: %w", filepath.Base(path), err)
	}
	t, err := newTemp(tmpDir, "json-*")
	if err != nil {
		return err
	}
	defer t.discard()
	if _, err := t.f.Write(b); err != nil {
		return fmt.Errorf("objstore: write %s: %w", filepath.Base(path), err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("objstore: sync: %w", err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("objstore: close: %w", err)
	}
	t.f = nil
	if err := t.commit(path); err != nil {
		return fmt.Errorf("objstore: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("objstore: decode %s: %w", path, err)
	}
	return nil
}

func hexMD5(sum [md5.Size]byte) string { return hex.EncodeToString(sum[:]) }
