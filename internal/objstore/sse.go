package objstore

// Server-side encryption at rest.
//
// An encrypted object's content is sealed with AES-256-GCM under a data
// key of its own, drawn at random when the object (or multipart upload)
// is created. The data key is itself sealed (AES-256-GCM, random nonce)
// by a key-encryption key and kept, sealed, in the object's metadata:
//
//   - SSE-S3 (Encryption.Mode SSES3): the store's master key, 32 random
//     bytes in <root>/sse-s3.key (mode 0600), made at first use.
//   - SSE-C (Encryption.Mode SSECustomer): the caller's key, which is
//     never stored; only its MD5 is, to answer with and to check a key
//     against before unsealing. A wrong key that has the right MD5 still
//     fails to unseal the data key.
//
// Content is cut into streams and streams into segments. A single PUT
// is one stream; a multipart object is one stream per part, so that
// completing an upload still joins part files byte for byte. A segment
// is sseSegment bytes of plaintext (the last of a stream may be shorter,
// or empty for an empty stream) followed by its 16-byte GCM tag. Its
// nonce is the stream's 8-byte id, random per stream, then the segment's
// 4-byte index; its additional data is one byte, 1 for a stream's last
// segment and 0 otherwise, so that a stream cut short at a segment
// boundary fails to open rather than reading as a shorter object. A
// random stream id (rather than the part number) keeps nonces unique
// when a part is uploaded again under the same upload's data key.
//
// A range read opens only the segments the range touches. Plaintext
// sizes are what ObjectInfo and PartInfo report; the file's content
// length is storedSize.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/aloft-dev/aloft/internal/aesgcm"
)

// Encryption modes.
const (
	SSES3       = "AES256" // SSE-S3: keys the store keeps
	SSECustomer = "SSE-C"  // SSE-C: a key the caller gives with each request
)

// Encryption says how an object is, or is to be, encrypted at rest.
type Encryption struct {
	// Mode is "" (not encrypted), SSES3 or SSECustomer.
	Mode string `json:"mode,omitempty"`
	// CustomerKey is the 32-byte SSE-C key of a write; it is never
	// stored, and never set in what the store returns.
	CustomerKey []byte `json:"-"`
	// CustomerKeyMD5 is the base64 MD5 of the SSE-C key.
	CustomerKeyMD5 string `json:"customerKeyMD5,omitempty"`
}

// Errors of encrypted objects.
var (
	// ErrSSEKeyRequired: the object is SSE-C encrypted and no key was
	// given to read it.
	ErrSSEKeyRequired = errors.New("objstore: the object is encrypted with a customer key, which must be given")
	// ErrSSEKeyMismatch: the key given is not the object's.
	ErrSSEKeyMismatch = errors.New("objstore: the customer key given is not the object's")
	// ErrSSENotApplicable: a customer key was given for an object not
	// encrypted with one.
	ErrSSENotApplicable = errors.New("objstore: the object is not encrypted with a customer key")
	// ErrSSEUploadMismatch: a part's encryption is not its upload's.
	ErrSSEUploadMismatch = errors.New("objstore: the encryption parameters do not match the upload's")
	// ErrSSEInvalid: an Encryption that cannot be used (unknown mode,
	// key of the wrong size, MD5 that is not the key's).
	ErrSSEInvalid = errors.New("objstore: invalid encryption parameters")
	// ErrSSEAuth: encrypted content failed its integrity check.
	ErrSSEAuth = errors.New("objstore: encrypted content failed authentication")
)

// CustomerKeyMD5 returns the base64 MD5 of an SSE-C key, as
// Encryption.CustomerKeyMD5 holds it.
func CustomerKeyMD5(key []byte) string {
	s := md5.Sum(key)
	return base64.StdEncoding.EncodeToString(s[:])
}

// check reports whether e is usable for a write.
func (e *Encryption) check() error {
	switch e.Mode {
	case "", SSES3:
		if e.CustomerKey != nil {
			return fmt.Errorf("%w: a customer key without mode %s", ErrSSEInvalid, SSECustomer)
		}
		return nil
	case SSECustomer:
		if len(e.CustomerKey) != 32 {
			return fmt.Errorf("%w: the customer key must be 32 bytes", ErrSSEInvalid)
		}
		if e.CustomerKeyMD5 != CustomerKeyMD5(e.CustomerKey) {
			return fmt.Errorf("%w: the customer key's MD5 does not match", ErrSSEInvalid)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown mode %q", ErrSSEInvalid, e.Mode)
}

type customerKeyCtx struct{ source bool }

// WithCustomerKey returns ctx carrying an SSE-C key: the key Open needs
// to read an SSE-C object, and UploadPart and UploadPartCopy the
// upload's.
func WithCustomerKey(ctx context.Context, key []byte) context.Context {
	return context.WithValue(ctx, customerKeyCtx{}, key)
}

// WithCopySourceCustomerKey returns ctx carrying the SSE-C key of the
// source of CopyObject or UploadPartCopy.
func WithCopySourceCustomerKey(ctx context.Context, key []byte) context.Context {
	return context.WithValue(ctx, customerKeyCtx{source: true}, key)
}

func customerKeyOf(ctx context.Context, source bool) []byte {
	if ctx == nil {
		return nil
	}
	k, _ := ctx.Value(customerKeyCtx{source: source}).([]byte)
	return k
}

const (
	sseSegment  = 64 << 10                  // plaintext bytes of a full segment
	sseTag      = 16                        // GCM tag after each segment
	sseSealed   = sseSegment + sseTag       // stored bytes of a full segment
	sseNonce    = 12                        // GCM nonce
	sseKeyLen   = 32                        // AES-256
	sseWrapped  = sseNonce + sseKeyLen + 16 // a sealed data key
	masterFile  = "sse-s3.key"
	wrapContext = "aloft-sse-data-key:"
)

// sseMeta is the encryption of an object or part file (fileMeta.SSE),
// and of an upload (its data key and mode, without streams).
type sseMeta struct {
	Mode   string `json:"mode"`
	KeyMD5 string `json:"keyMD5,omitempty"` // SSE-C: base64 MD5 of the customer key
	Key    []byte `json:"key"`              // the data key, sealed
	// Streams are the ids of the content's streams: one, or one per part
	// of a multipart object, in order.
	Streams []uint64 `json:"streams,omitempty"`
}

func (s *sseMeta) encryption() Encryption {
	if s == nil {
		return Encryption{}
	}
	return Encryption{Mode: s.Mode, CustomerKeyMD5: s.KeyMD5}
}

// sealedLen is the stored length of a stream of n plaintext bytes.
func sealedLen(n int64) int64 {
	segs := (n + sseSegment - 1) / sseSegment
	if segs == 0 {
		segs = 1
	}
	return n + segs*sseTag
}

// storedSize is the length of a file's content as stored: its size, or
// the sealed length of its streams.
func (m *fileMeta) storedSize() int64 {
	if m.SSE == nil {
		return m.Size
	}
	if len(m.SSE.Streams) > 1 && len(m.SSE.Streams) == len(m.PartSizes) {
		var n int64
		for _, p := range m.PartSizes {
			n += sealedLen(p)
		}
		return n
	}
	return sealedLen(m.Size)
}

// masterKey is the store's SSE-S3 key, loaded or made at first use.
type masterKey struct {
	mu   sync.Mutex   // orders loading and making it
	aead atomic.Value // its cipher.AEAD, once loaded
}

// newGCM returns the AES-256-GCM AEAD of a 32-byte key.
func newGCM(key []byte) (cipher.AEAD, error) {
	g, err := aesgcm.New(key)
	if err != nil {
		return nil, fmt.Errorf("objstore: cipher: %w", err)
	}
	return g, nil
}

// master returns the SSE-S3 master key's cipher, reading the key file or
// making it: 32 random bytes written to a temporary file, synced, and
// linked into place, so that the key file is whole or absent and two
// makers agree on one key.
func (d *Disk) master() (cipher.AEAD, error) {
	if g, ok := d.sse.aead.Load().(cipher.AEAD); ok {
		return g, nil
	}
	d.sse.mu.Lock()
	defer d.sse.mu.Unlock()
	if g, ok := d.sse.aead.Load().(cipher.AEAD); ok {
		return g, nil
	}
	path := filepath.Join(d.root, masterFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = d.makeMaster(path)
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: SSE-S3 master key: %w", err)
	}
	if len(key) != sseKeyLen {
		return nil, fmt.Errorf("objstore: SSE-S3 master key %s: %d bytes, not %d", path, len(key), sseKeyLen)
	}
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	d.sse.aead.Store(g)
	return g, nil
}

func (d *Disk) makeMaster(path string) ([]byte, error) {
	key := make([]byte, sseKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	t, err := newTemp(d.tmp, "key-*")
	if err != nil {
		return nil, err
	}
	defer t.discard()
	if err := t.f.Chmod(0o600); err != nil {
		return nil, err
	}
	if _, err := t.f.Write(key); err != nil {
		return nil, err
	}
	if err := t.f.Sync(); err != nil {
		return nil, err
	}
	if err := os.Link(t.path, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path) // made meanwhile by another process
		}
		return nil, err
	}
	if err := syncDir(d.root); err != nil {
		return nil, err
	}
	return key, nil
}

// kek returns the cipher that seals the data keys of mode: the master
// key's, or one of customerKey.
func (d *Disk) kek(mode string, customerKey []byte) (cipher.AEAD, error) {
	if mode == SSECustomer {
		return newGCM(customerKey)
	}
	return d.master()
}

// newDataKey draws a data key for enc and returns its metadata (no
// streams yet), its cipher, and the key.
func (d *Disk) newDataKey(enc *Encryption) (*sseMeta, cipher.AEAD, []byte, error) {
	kek, err := d.kek(enc.Mode, enc.CustomerKey)
	if err != nil {
		return nil, nil, nil, err
	}
	key := make([]byte, sseKeyLen)
	wrapped := make([]byte, sseNonce, sseWrapped)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, nil, fmt.Errorf("objstore: data key: %w", err)
	}
	if _, err := rand.Read(wrapped); err != nil {
		return nil, nil, nil, fmt.Errorf("objstore: data key: %w", err)
	}
	wrapped = kek.Seal(wrapped, wrapped[:sseNonce], key, []byte(wrapContext+enc.Mode))
	g, err := newGCM(key)
	if err != nil {
		return nil, nil, nil, err
	}
	s := &sseMeta{Mode: enc.Mode, Key: wrapped}
	if enc.Mode == SSECustomer {
		s.KeyMD5 = enc.CustomerKeyMD5
	}
	return s, g, key, nil
}

// dataKey unseals the data key of s and returns its cipher and the key.
// For SSE-C, customerKey must be given and be the one it was sealed
// with.
func (d *Disk) dataKey(s *sseMeta, customerKey []byte) (cipher.AEAD, []byte, error) {
	if s.Mode == SSECustomer {
		if customerKey == nil {
			return nil, nil, ErrSSEKeyRequired
		}
		if len(customerKey) != sseKeyLen || CustomerKeyMD5(customerKey) != s.KeyMD5 {
			return nil, nil, ErrSSEKeyMismatch
		}
	} else if s.Mode != SSES3 {
		return nil, nil, fmt.Errorf("%w: unknown encryption mode %q", ErrCorrupt, s.Mode)
	}
	if len(s.Key) != sseWrapped {
		return nil, nil, fmt.Errorf("%w: sealed data key of %d bytes", ErrCorrupt, len(s.Key))
	}
	kek, err := d.kek(s.Mode, customerKey)
	if err != nil {
		return nil, nil, err
	}
	key, err := kek.Open(nil, s.Key[:sseNonce], s.Key[sseNonce:], []byte(wrapContext+s.Mode))
	if err != nil {
		if s.Mode == SSECustomer {
			return nil, nil, ErrSSEKeyMismatch
		}
		return nil, nil, fmt.Errorf("%w: the data key does not open with the master key", ErrSSEAuth)
	}
	g, err := newGCM(key)
	return g, key, err
}

// bucketDefault fills in a write's encryption from the bucket's default
// encryption when the write names none.
func (d *Disk) bucketDefault(bucket string, enc *Encryption) error {
	if enc.Mode != "" {
		return nil
	}
	cfg, err := d.BucketEncryption(context.Background(), bucket)
	if err != nil {
		if errors.Is(err, ErrNoEncryptionConfig) {
			return nil
		}
		return err
	}
	enc.Mode = cfg.Algorithm
	return nil
}

// sealer encrypts one stream as a tempFile's content is read.
type sealer struct {
	aead    cipher.AEAD
	meta    *sseMeta
	stream  uint64
	etagKey []byte // SSE-C: the data key, which keys the ETag
}

// seal makes t encrypt the content readContent writes, under a new data
// key for enc, unless enc is no encryption.
func (d *Disk) seal(t *tempFile, enc Encryption) error {
	if enc.Mode == "" {
		return nil
	}
	if err := enc.check(); err != nil {
		return err
	}
	s, g, key, err := d.newDataKey(&enc)
	if err != nil {
		return err
	}
	t.seal = newSealer(g, key, s)
	return nil
}

func newSealer(g cipher.AEAD, key []byte, s *sseMeta) *sealer {
	var id [8]byte
	rand.Read(id[:])
	sl := &sealer{aead: g, meta: s, stream: binary.BigEndian.Uint64(id[:])}
	if s.Mode == SSECustomer {
		sl.etagKey = key
	}
	return sl
}

// sealMeta records t's encryption in m, the metadata of its content: the
// data key and stream, and for SSE-C the ETag (see customerETag). m's
// ETag is the plaintext's MD5 when it is called.
func (t *tempFile) sealMeta(m *fileMeta) {
	if t.seal == nil {
		return
	}
	s := *t.seal.meta
	s.Streams = []uint64{t.seal.stream}
	m.SSE = &s
	if t.seal.etagKey != nil {
		m.ETag = customerETag(t.seal.etagKey, m.ETag)
	}
}

// customerETag is the ETag of SSE-C content whose MD5 is plainMD5 (hex):
// the first 16 bytes of its HMAC-SHA256 under the data key, in hex. S3's
// SSE-C ETag is not the content's MD5 either; this one is as stable (the
// same for the same content under the same data key, as parts of one
// upload are) and, without the customer's key, tells nothing of the
// content, as its MD5 would to one who guesses it.
func customerETag(dataKey []byte, plainMD5 string) string {
	h := hmac.New(sha256.New, dataKey)
	h.Write([]byte("aloft-sse-c-etag:"))
	h.Write([]byte(plainMD5))
	return hex.EncodeToString(h.Sum(nil)[:md5.Size])
}

func sseNonceOf(dst []byte, stream uint64, seg int64) []byte {
	binary.BigEndian.PutUint64(dst[0:8], stream)
	binary.BigEndian.PutUint32(dst[8:12], uint32(seg))
	return dst[:sseNonce]
}

var (
	aadMore = []byte{0}
	aadLast = []byte{1}
)

// sealBatch is how many sealed segments are written, or read and opened,
// at once: 1 MiB, which is what lets an encrypted 16 MiB object move
// nearly as fast as a plain one (fewer hand-overs between the goroutines
// that open, write and read ahead), at 1 MiB and two segments of pooled
// buffer per encrypted write in progress (up to sealRing-2 segments more
// while the file is slower than the body, see sealRing) and 2 MiB (two
// batches of plaintext, the sealed segments being opened from a mapping
// of the file) per large encrypted read. Batches of 2 MiB measured no
// faster.
const sealBatch = 16

// sealRing is how many plaintext segments a sealed write may hold: those
// read while the writer writes a batch to the file, so that reading the
// body (and its digests) does not wait for the file. A write of 1 MiB
// can take longer than reading 1 MiB when the disk is busy writing back.
// Segments beyond the first two are taken only when every one already
// held is still with the writer.
const sealRing = sealBatch + 2

// sealBufPool holds a sealer's first two plaintext segments and its
// output buffer; segPool the further segments of its ring, taken only
// when a body is long enough to need them.
var (
	sealBufPool = sync.Pool{New: func() any { b := make([]byte, 2*sseSegment+sealBatch*sseSealed); return &b }}
	segPool     = sync.Pool{New: func() any { return new([sseSegment]byte) }}
)

// readSealed is readContent for an encrypted file: the plaintext's size
// and MD5 are returned, the sealed segments written, sealBatch at a
// time. A full segment is held until more bytes or the end arrive, to
// know whether it is the stream's last. The MD5 is taken here as the
// bytes arrive (while they are in this core's cache); a segment once
// complete is sealed and written on another goroutine while the next
// one is read.
func (t *tempFile) readSealed(body io.Reader, limit int64) (int64, [md5.Size]byte, error) {
	bp := sealBufPool.Get().(*[]byte)
	defer sealBufPool.Put(bp)
	var bufs [sealRing][]byte
	bufs[0], bufs[1] = (*bp)[:sseSegment], (*bp)[sseSegment:2*sseSegment]
	defer func() {
		for _, b := range bufs[2:] {
			if b != nil {
				segPool.Put((*[sseSegment]byte)(b))
			}
		}
	}()
	w := &sealWriter{t: t, out: (*bp)[2*sseSegment : 2*sseSegment : len(*bp)]}
	defer w.stop()
	h := md5.New()
	var sum [md5.Size]byte
	var n int64
	cur, k := 0, 0 // the segment being filled and its length
	for {
		if k == sseSegment {
			// Full: read into another buffer, one the writer is done
			// with; the full one goes to the writer once more bytes
			// show it is not the last.
			next, err := w.spare(&bufs, cur)
			if err != nil {
				return n, sum, err
			}
			other := bufs[next][:sseSegment]
			j, rerr := body.Read(other)
			if j > 0 {
				n += int64(j)
				if n > limit {
					return n, sum, ErrTooLarge
				}
				h.Write(other[:j])
				w.add(cur, bufs[cur], false)
				cur, k = next, j
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return n, sum, fmt.Errorf("objstore: read body: %w", rerr)
			}
			continue
		}
		j, rerr := body.Read(bufs[cur][k:])
		if j > 0 {
			n += int64(j)
			if n > limit {
				return n, sum, ErrTooLarge
			}
			h.Write(bufs[cur][k : k+j])
			k += j
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, sum, fmt.Errorf("objstore: read body: %w", rerr)
		}
	}
	w.add(cur, bufs[cur][:k], true)
	if err := w.finish(); err != nil {
		return n, sum, err
	}
	h.Sum(sum[:0])
	return n, sum, nil
}

// sealWriter seals and writes the segments of one stream, in order, on
// a goroutine of its own. Segments live in up to sealRing buffers, which
// the reader fills again only once the writer is done with them (spare).
type sealWriter struct {
	t     *tempFile
	out   []byte // sealed bytes waiting to be written, up to sealBatch segments
	jobs  chan sealJob
	acks  chan error
	busy  [sealRing]bool
	queue [sealRing]int // buffers handed over, oldest at head
	head  int
	held  int   // how many of queue
	err   error // the first failure
	on    bool
	abort atomic.Bool // stop sealing: the write failed or was given up
	// Owned by the writer's goroutine:
	seg, written, flushed int64
}

type sealJob struct {
	p    []byte
	last bool
}

// add hands buffer i's segment p to the writer.
func (w *sealWriter) add(i int, p []byte, last bool) {
	if !w.on {
		w.on = true
		w.jobs, w.acks = make(chan sealJob, sealRing), make(chan error, sealRing)
		go w.run()
	}
	w.busy[i] = true
	w.queue[(w.head+w.held)%sealRing] = i
	w.held++
	w.jobs <- sealJob{p, last}
}

func (w *sealWriter) run() {
	var err error
	for j := range w.jobs {
		if err == nil && !w.abort.Load() {
			err = w.seal(j.p, j.last)
		}
		w.acks <- err
	}
	close(w.acks)
}

// seal seals one segment into out, writing out when it is full or the
// segment is the last.
func (w *sealWriter) seal(p []byte, last bool) error {
	s := w.t.seal
	if cap(w.out)-len(w.out) < len(p)+sseTag {
		if err := w.flush(); err != nil {
			return err
		}
	}
	aad := aadMore
	if last {
		aad = aadLast
	}
	var nonce [sseNonce]byte
	w.out = s.aead.Seal(w.out, sseNonceOf(nonce[:], s.stream, w.seg), p, aad)
	w.seg++
	if last {
		return w.flush()
	}
	return nil
}

func (w *sealWriter) flush() error {
	if len(w.out) == 0 {
		return nil
	}
	if _, err := w.t.f.Write(w.out); err != nil {
		return fmt.Errorf("objstore: write: %w", err)
	}
	w.written += int64(len(w.out))
	w.out = w.out[:0]
	if w.written-w.flushed >= writebackChunk {
		startWriteback(w.t.f, w.flushed, w.written-w.flushed)
		w.flushed = w.written
	}
	return nil
}

// ack takes the writer's answer for the oldest segment handed over,
// waiting for it.
func (w *sealWriter) ack() { w.took(<-w.acks) }

// took records the answer for the oldest segment handed over: its buffer
// is free again.
func (w *sealWriter) took(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
	w.busy[w.queue[w.head]] = false
	w.head = (w.head + 1) % sealRing
	w.held--
}

// spare returns the index of a buffer other than cur for the reader to
// fill: one the writer is done with, else a new one while there is room,
// else the oldest handed over, once the writer is done with it. A failed
// write is reported as soon as its answer is in.
func (w *sealWriter) spare(bufs *[sealRing][]byte, cur int) (int, error) {
	for drained := false; w.held > 0 && !drained; { // answers already in
		select {
		case err := <-w.acks:
			w.took(err)
		default:
			drained = true
		}
	}
	if w.err != nil {
		return 0, w.err
	}
	for i, b := range bufs {
		if i != cur && b != nil && !w.busy[i] {
			return i, nil
		}
	}
	for i, b := range bufs {
		if b == nil {
			bufs[i] = segPool.Get().(*[sseSegment]byte)[:]
			return i, nil
		}
	}
	i := w.queue[w.head]
	w.ack()
	return i, w.err
}

// finish waits for every segment to be written.
func (w *sealWriter) finish() error {
	for w.held > 0 {
		w.ack()
	}
	return w.err
}

// stop ends the writer's goroutine, waiting for it.
func (w *sealWriter) stop() {
	w.abort.Store(true)
	if w.on {
		close(w.jobs)
		for range w.acks {
		}
		w.on = false
	}
}

// sseStream is one stream of an encrypted file: where its plaintext and
// its sealed bytes begin, and its plaintext length.
type sseStream struct {
	id                uint64
	plainAt, plainLen int64
	sealedAt          int64
}

// opener reads the plaintext of an encrypted file.
type opener struct {
	f       io.ReaderAt
	aead    cipher.AEAD
	streams []sseStream
	size    int64
}

// newOpener describes the streams of m, whose data key is g.
func newOpener(f io.ReaderAt, m *fileMeta, g cipher.AEAD) (*opener, error) {
	o := &opener{f: f, aead: g, size: m.Size}
	sizes := []int64{m.Size}
	if len(m.SSE.Streams) > 1 || len(m.PartSizes) > 0 && len(m.SSE.Streams) == len(m.PartSizes) {
		sizes = m.PartSizes
	}
	if len(sizes) != len(m.SSE.Streams) {
		return nil, fmt.Errorf("%w: %d encrypted streams for %d parts", ErrCorrupt, len(m.SSE.Streams), len(sizes))
	}
	var plain, sealed int64
	for i, sz := range sizes {
		o.streams = append(o.streams, sseStream{id: m.SSE.Streams[i], plainAt: plain, plainLen: sz, sealedAt: sealed})
		plain += sz
		sealed += sealedLen(sz)
	}
	if plain != m.Size {
		return nil, fmt.Errorf("%w: part sizes do not add up to the object's", ErrCorrupt)
	}
	return o, nil
}

// reader returns a reader of length plaintext bytes from offset.
func (o *opener) reader(offset, length int64) io.Reader {
	// Up to sealBatch segments are read at once, no more than the range
	// (and the object) can use.
	n := min(int64(sealBatch*sseSealed), sealedLen(o.size), (length/sseSegment+2)*sseSealed)
	r := &openReader{o: o, off: offset, end: offset + length}
	if n == sealBatch*sseSealed {
		r.pooled = plainPool.Get().(*[]byte)
		r.plain = *r.pooled // buf comes from sealedPool if the segments are read
	} else {
		b := make([]byte, 2*n) // the plaintext is shorter than the sealed bytes
		r.buf, r.plain = b[:n], b[n:]
	}
	return r
}

// plainPool and sealedPool hold the buffers of readers of large ranges,
// given back when a range has been read to its end: room for sealBatch
// segments' plaintexts, and for the sealed segments read from the file
// (not needed when they are opened from a mapping).
var (
	plainPool  = sync.Pool{New: func() any { b := make([]byte, sealBatch*sseSegment); return &b }}
	sealedPool = sync.Pool{New: func() any { b := make([]byte, sealBatch*sseSealed); return &b }}
)

// openReader is a range of an encrypted file's plaintext. It reads up to
// sealBatch segments of one stream at a time into buf and opens them into
// plain, one after another, so that a batch's plaintext is one slice: a
// long range goes to the socket in one write per batch.
type openReader struct {
	o        *opener
	off, end int64
	buf      []byte   // sealed segments as read
	plain    []byte   // their plaintexts, in order
	n        int64    // plaintext bytes loaded in plain
	plainAt  int64    // the plaintext offset of plain[0]
	stream   int      // index of the stream last used
	checked  bool     // an empty object's segment was opened
	pooled   *[]byte  // plain's, from plainPool
	sealed   *[]byte  // buf's, from sealedPool
	mapped   *mapping // the sealed bytes, when WriteTo mapped them
}

// release gives the pooled buffers back.
func (r *openReader) release() {
	if r.pooled != nil {
		plainPool.Put(r.pooled)
	}
	if r.sealed != nil {
		sealedPool.Put(r.sealed)
	}
	r.pooled, r.sealed, r.buf, r.plain, r.n = nil, nil, nil, nil, 0
}

// mapping is part of an encrypted file mapped read-only, which segments
// are opened from without being read into a buffer first.
type mapping struct {
	data []byte
	at   int64 // the file offset of data[0]
}

// mapSealed maps the sealed bytes of the plaintext range [off, end) of
// o's file, or returns nil when it cannot (the reader then reads them).
// Object files are never changed once written, only replaced or removed,
// which leaves a mapping intact; a page that cannot be read (a disk
// error) faults, which open turns into an error.
func (o *opener) mapSealed(off, end int64) *mapping {
	f, ok := o.f.(*os.File)
	if !ok || end <= off {
		return nil
	}
	from := o.sealedOffset(off)
	to := o.sealedOffset(end-1) + sseSealed
	if last := o.streams[len(o.streams)-1]; to > last.sealedAt+sealedLen(last.plainLen) {
		to = last.sealedAt + sealedLen(last.plainLen)
	}
	from -= from % int64(os.Getpagesize())
	data, err := syscall.Mmap(int(f.Fd()), from, int(to-from), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return &mapping{data: data, at: from}
}

// unmap releases the mapping.
func (m *mapping) unmap() { syscall.Munmap(m.data) }

// sealedOffset is the file offset of the segment holding plaintext
// offset p.
func (o *opener) sealedOffset(p int64) int64 {
	i := 0
	for i < len(o.streams)-1 && p >= o.streams[i].plainAt+o.streams[i].plainLen {
		i++
	}
	s := o.streams[i]
	return s.sealedAt + (p-s.plainAt)/sseSegment*sseSealed
}

// avail returns the open plaintext at r.off, loading it if needed.
func (r *openReader) avail() ([]byte, error) {
	if r.off < r.plainAt || r.off >= r.plainAt+r.n {
		if err := r.load(); err != nil {
			return nil, err
		}
	}
	p := r.plain[r.off-r.plainAt : r.n]
	if rem := r.end - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	return p, nil
}

// done reports the end of the range. An empty object's one segment is
// opened all the same: a stream cut to nothing must not read as empty.
func (r *openReader) done() (bool, error) {
	if r.off < r.end {
		return false, nil
	}
	if r.o.size == 0 && !r.checked {
		if err := r.load(); err != nil {
			return true, err
		}
	}
	if r.pooled != nil {
		r.release()
	}
	return true, nil
}

func (r *openReader) Read(p []byte) (int, error) {
	if end, err := r.done(); end {
		if err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	a, err := r.avail()
	if err != nil {
		return 0, err
	}
	n := copy(p, a)
	r.off += int64(n)
	return n, nil
}

// WriteTo writes the rest of the range to w a batch at a time, without
// copying it through a caller's buffer. A long range is read and opened
// a batch ahead, on another goroutine, while the batch before is written.
func (r *openReader) WriteTo(w io.Writer) (int64, error) {
	if r.pooled != nil && r.end-r.off > 2*sealBatch*sseSegment {
		return r.writeAhead(w)
	}
	var total int64
	for {
		if end, err := r.done(); end {
			return total, err
		}
		a, err := r.avail()
		if err != nil {
			return total, err
		}
		n, err := w.Write(a)
		total += int64(n)
		r.off += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// writeAhead is WriteTo for a long range: two readers take turns, one
// loading the next batch while the other's is written.
func (r *openReader) writeAhead(w io.Writer) (int64, error) {
	ahead := &openReader{o: r.o, end: r.end, pooled: plainPool.Get().(*[]byte)}
	ahead.plain = *ahead.pooled
	defer ahead.release()
	if m := r.o.mapSealed(r.off, r.end); m != nil {
		r.mapped, ahead.mapped = m, m
		defer func() { r.mapped = nil; m.unmap() }()
	}
	var total int64
	if err := r.load(); err != nil {
		return 0, err
	}
	for {
		// The batch after r's, if the range goes on.
		next := r.plainAt + r.n
		var wg sync.WaitGroup
		var aheadErr error
		if next < r.end {
			ahead.off = next
			wg.Go(func() { aheadErr = ahead.load() })
		}
		for r.off < next && r.off < r.end {
			a, err := r.avail()
			if err != nil {
				wg.Wait()
				return total, err
			}
			n, err := w.Write(a)
			total += int64(n)
			r.off += int64(n)
			if err != nil {
				wg.Wait()
				return total, err
			}
		}
		wg.Wait()
		if next >= r.end {
			_, err := r.done()
			return total, err
		}
		if aheadErr != nil {
			return total, aheadErr
		}
		// Swap: ahead's batch is current; r's buffers load the next.
		r.buf, ahead.buf = ahead.buf, r.buf
		r.plain, ahead.plain = ahead.plain, r.plain
		r.pooled, ahead.pooled = ahead.pooled, r.pooled
		r.sealed, ahead.sealed = ahead.sealed, r.sealed
		r.n, r.plainAt, r.stream, r.checked = ahead.n, ahead.plainAt, ahead.stream, true
		r.off = next
	}
}

// load reads the segments from the one holding r.off, as many as buf
// holds and the range and the stream need, and opens them into plain.
func (r *openReader) load() error {
	r.n = 0
	ss := r.o.streams
	i := r.stream
	for i < len(ss)-1 && r.off >= ss[i].plainAt+ss[i].plainLen {
		i++
	}
	for i > 0 && r.off < ss[i].plainAt {
		i--
	}
	r.stream = i
	s := ss[i]
	first := (r.off - s.plainAt) / sseSegment
	last := first // the last segment to read: within the stream, the range and buf
	for last+1 < first+int64(len(r.plain)/sseSegment) && (last+1)*sseSegment < s.plainLen && s.plainAt+(last+1)*sseSegment < r.end {
		last++
	}
	plainEnd := min((last+1)*sseSegment, s.plainLen)
	at := s.sealedAt + first*sseSealed
	n := plainEnd - first*sseSegment + (last-first+1)*sseTag
	var c []byte
	if m := r.mapped; m != nil && at >= m.at && at+n <= m.at+int64(len(m.data)) {
		c = m.data[at-m.at : at-m.at+n]
	} else {
		if r.buf == nil {
			r.sealed = sealedPool.Get().(*[]byte)
			r.buf = *r.sealed
		}
		c = r.buf[:n]
		if _, err := r.o.f.ReadAt(c, at); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: encrypted content is short", ErrCorrupt)
			}
			return fmt.Errorf("objstore: read: %w", err)
		}
	}
	var sealed [sealBatch][]byte
	for seg := first; seg <= last; seg++ {
		k := min(int64(sseSegment), s.plainLen-seg*sseSegment) + sseTag
		sealed[seg-first] = c[:k]
		c = c[k:]
	}
	// Open the segments: with more than one, half of them on another
	// goroutine, so that a large read decrypts on two cores. Each one's
	// plaintext goes to its place in plain, which the sealed bytes do
	// not overlap.
	mapped := r.mapped != nil
	open := func(from, to int64) (err error) {
		if mapped { // a page of the mapping that cannot be read faults
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if p := recover(); p != nil {
					if _, fault := p.(interface{ Addr() uintptr }); !fault {
						panic(p)
					}
					err = fmt.Errorf("objstore: read: %v", p)
				}
			}()
		}
		var nonce [sseNonce]byte
		for seg := from; seg <= to; seg++ {
			aad := aadMore
			if (seg+1)*sseSegment >= s.plainLen {
				aad = aadLast
			}
			b := sealed[seg-first]
			dst := r.plain[(seg-first)*sseSegment:][:0]
			if _, err := r.o.aead.Open(dst, sseNonceOf(nonce[:], s.id, seg), b, aad); err != nil {
				return fmt.Errorf("%w: segment %d of stream %d at offset %d", ErrSSEAuth, seg, i, s.sealedAt+seg*sseSealed)
			}
		}
		return nil
	}
	var err error
	if mid := first + (last-first+1)/2; mid > first {
		var wg sync.WaitGroup
		var late error
		wg.Go(func() { late = open(mid, last) })
		err = open(first, mid-1)
		wg.Wait()
		err = cmp.Or(err, late)
	} else {
		err = open(first, last)
	}
	if err != nil {
		return err
	}
	r.n = plainEnd - first*sseSegment
	r.plainAt = s.plainAt + first*sseSegment
	r.checked = true
	return nil
}

// openSealed prepares the reading of an object file's content: for an
// encrypted one, its opener (with the customer key ctx carries for
// SSE-C); nil for one that is not encrypted. source picks the copy
// source's key. A customer key given for an object not encrypted with
// one is ErrSSENotApplicable.
func (d *Disk) openSealed(ctx context.Context, f io.ReaderAt, m *fileMeta, source bool) (*opener, error) {
	ck := customerKeyOf(ctx, source)
	if m.SSE == nil || m.SSE.Mode != SSECustomer {
		if ck != nil {
			return nil, ErrSSENotApplicable
		}
		if m.SSE == nil {
			return nil, nil
		}
	}
	g, _, err := d.dataKey(m.SSE, ck)
	if err != nil {
		return nil, err
	}
	return newOpener(f, m, g)
}

// plainSection returns a reader of length plaintext bytes at off of an
// open object file, decrypting an encrypted one with the key ctx
// carries (source: the copy source's).
func (d *Disk) plainSection(ctx context.Context, f *os.File, m *fileMeta, off, length int64, source bool) (io.Reader, error) {
	o, err := d.openSealed(ctx, f, m, source)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return io.NewSectionReader(f, off, length), nil
	}
	return o.reader(off, length), nil
}

// copySealed copies src's content into t when the source or the
// destination is encrypted, decrypting and re-encrypting it, and sets
// m's ETag (and SSE). It returns false, having done nothing, when
// neither is, for the caller's byte-for-byte copy.
func (d *Disk) copySealed(ctx context.Context, t *tempFile, f *os.File, src *fileMeta, dstBucket string, opts *PutOptions, m *fileMeta) (bool, error) {
	var enc Encryption
	if opts != nil {
		enc = opts.Encryption
	}
	if err := d.bucketDefault(dstBucket, &enc); err != nil {
		return false, err
	}
	if src.SSE == nil && enc.Mode == "" {
		return false, d.noSourceKey(ctx)
	}
	r, err := d.plainSection(ctx, f, src, 0, src.Size, true)
	if err != nil {
		return false, err
	}
	if err := d.seal(t, enc); err != nil {
		return false, err
	}
	n, sum, err := t.readContent(r, multipartLimit)
	if err != nil {
		return false, err
	}
	if n != src.Size {
		return false, fmt.Errorf("%w: the source is shorter than its metadata", ErrCorrupt)
	}
	m.ETag = hexMD5(sum)
	t.sealMeta(m)
	return true, nil
}

// noSourceKey refuses a copy source customer key for a source that is
// not SSE-C encrypted.
func (d *Disk) noSourceKey(ctx context.Context) error {
	if customerKeyOf(ctx, true) != nil {
		return ErrSSENotApplicable
	}
	return nil
}

// sealUpload draws the data key of a new upload, if it is to be
// encrypted, for its upload.json.
func (d *Disk) sealUpload(bucket string, opts *PutOptions) (*sseMeta, error) {
	if err := d.bucketDefault(bucket, &opts.Encryption); err != nil {
		return nil, err
	}
	enc := opts.Encryption
	if enc.Mode == "" {
		return nil, nil
	}
	if err := enc.check(); err != nil {
		return nil, err
	}
	s, _, _, err := d.newDataKey(&enc)
	return s, err
}

// sealPart makes t encrypt a part of upload up, under its data key (for
// SSE-C, with the customer key ctx carries, which must be the upload's).
func (d *Disk) sealPart(ctx context.Context, t *tempFile, up *uploadMeta) error {
	ck := customerKeyOf(ctx, false)
	if up.SSE == nil {
		if ck != nil {
			return ErrSSEUploadMismatch
		}
		return nil
	}
	if up.SSE.Mode == SSECustomer && (ck == nil || CustomerKeyMD5(ck) != up.SSE.KeyMD5) {
		return ErrSSEUploadMismatch
	}
	g, key, err := d.dataKey(up.SSE, ck)
	if err != nil {
		if errors.Is(err, ErrSSEKeyMismatch) {
			return ErrSSEUploadMismatch
		}
		return err
	}
	t.seal = newSealer(g, key, up.SSE)
	return nil
}

// sealCompleted sets the encryption of an object joined from parts: the
// upload's data key, and each part's stream.
func sealCompleted(m *fileMeta, up *uploadMeta, parts []*fileMeta) error {
	if up.SSE == nil {
		for _, p := range parts {
			if p.SSE != nil {
				return fmt.Errorf("%w: part %d is encrypted, its upload is not", ErrCorrupt, p.Part)
			}
		}
		return nil
	}
	s := *up.SSE
	s.Streams = make([]uint64, len(parts))
	for i, p := range parts {
		if p.SSE == nil || len(p.SSE.Streams) != 1 || !bytes.Equal(p.SSE.Key, up.SSE.Key) {
			return fmt.Errorf("%w: part %d is not encrypted as its upload", ErrCorrupt, p.Part)
		}
		s.Streams[i] = p.SSE.Streams[0]
	}
	m.SSE = &s
	return nil
}
