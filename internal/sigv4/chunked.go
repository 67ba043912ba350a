package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"slices"
	"strings"
)

// Payload hash values that announce an aws-chunked body.
const (
	StreamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// UnsignedPayload is the payload hash of a request whose body is not
	// signed.
	UnsignedPayload = unsignedPayload
)

const (
	chunkAlgorithm   = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgorithm = "AWS4-HMAC-SHA256-TRAILER"
	chunkBufSize     = 64 << 10 // also bounds a chunk header or trailer line
	maxTrailerBytes  = 16 << 10
)

// chunkSigner holds what signed chunks are verified with.
type chunkSigner struct {
	key     [sha256.Size]byte
	amzDate string
	scope   string // day/region/service/aws4_request
	prev    [sha256.Size]byte
}

// sign returns the signature of a chunk (or, with trailerAlgorithm, of the
// trailer) whose content hashes to sum, chained from the previous one.
func (s *chunkSigner) sign(alg string, sum []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.key[:])
	var b []byte
	b = append(b, alg...)
	b = append(b, '\n')
	b = append(b, s.amzDate...)
	b = append(b, '\n')
	b = append(b, s.scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, s.prev[:])
	b = append(b, '\n')
	if alg == chunkAlgorithm {
		b = append(b, emptyHash...)
		b = append(b, '\n')
	}
	b = hex.AppendEncode(b, sum)
	m.Write(b)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// chunkReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[trailer-name:value\r\n ... [x-amz-trailer-signature:sig\r\n]] \r\n
//
// With a signer it checks every chunk's signature as the chunk ends, and the
// trailer's when trailerSigned. It returns io.EOF only after the final chunk
// and the trailer have been read and checked; a stream that ends early, has
// a bad frame or a bad signature fails with a *PayloadError.
type chunkReader struct {
	r             *bufio.Reader
	signer        *chunkSigner // nil: chunks carry no signatures
	trailer       bool         // a trailer section may follow the last chunk
	trailerSigned bool
	limit         int64 // most decoded bytes allowed

	decoded   int64
	remaining int64 // data bytes left in the current chunk
	inData    bool
	chunkSum  hash.Hash
	wantSig   [sha256.Size]byte
	trailers  map[string]string // lower-case name → value
	err       error             // sticky
}

func newChunkReader(src io.Reader, signer *chunkSigner, trailer, trailerSigned bool, limit int64) *chunkReader {
	c := &chunkReader{r: bufio.NewReaderSize(src, chunkBufSize), signer: signer, trailer: trailer,
		trailerSigned: trailerSigned, limit: limit}
	if signer != nil {
		c.chunkSum = sha256.New()
	}
	return c
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.err == nil {
		if c.inData && c.remaining == 0 {
			c.err = c.endChunk()
			continue
		}
		if !c.inData {
			c.err = c.readHeader()
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		if int64(len(p)) > c.remaining {
			p = p[:c.remaining]
		}
		n, err := c.r.Read(p)
		c.remaining -= int64(n)
		if c.chunkSum != nil {
			c.chunkSum.Write(p[:n])
		}
		if err == io.EOF && c.remaining > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			c.err = streamReadError(err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, c.err
}

// streamReadError turns a failure to read the underlying body into the
// error a client sees.
func streamReadError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return payloadError(codeIncompleteBody, msgIncompleteBody)
	}
	return err
}

// readLine reads one line without its line ending. A line longer than the
// buffer is malformed.
func (c *chunkReader) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", malformedChunk("a chunk header is too long")
	}
	if err != nil {
		return "", streamReadError(err)
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	return string(line), nil
}

// readHeader reads a chunk header. After the final chunk it reads the
// trailer and reports io.EOF.
func (c *chunkReader) readHeader() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeHex, ext, hasExt := strings.Cut(line, ";")
	size, ok := parseHexSize(sizeHex)
	if !ok {
		return malformedChunk("a chunk size is not a hexadecimal number")
	}
	if c.signer != nil {
		sig, found := strings.CutPrefix(ext, "chunk-signature=")
		if !hasExt || !found || !decodeHex(&c.wantSig, sig) {
			return malformedChunk("a chunk has no valid chunk-signature")
		}
		c.chunkSum.Reset()
	} else if hasExt && strings.HasPrefix(ext, "chunk-signature=") {
		return malformedChunk("an unsigned payload carries chunk signatures")
	}
	if size > c.limit-c.decoded {
		return payloadError(codeIncompleteBody, "The decoded length of the chunks exceeds X-Amz-Decoded-Content-Length.")
	}
	c.decoded += size
	if size > 0 {
		c.remaining, c.inData = size, true
		return nil
	}
	if c.signer != nil {
		if err := c.checkChunk(); err != nil {
			return err
		}
	}
	if err := c.readTrailer(); err != nil {
		return err
	}
	return io.EOF
}

// endChunk reads the line ending after a chunk's data and checks its
// signature.
func (c *chunkReader) endChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	if line != "" {
		return malformedChunk("chunk data is longer than its size")
	}
	c.inData = false
	if c.signer != nil {
		return c.checkChunk()
	}
	return nil
}

// checkChunk compares the signature of the chunk just read with the one it
// came with, and chains it.
func (c *chunkReader) checkChunk() error {
	var sum [sha256.Size]byte
	got := c.signer.sign(chunkAlgorithm, c.chunkSum.Sum(sum[:0]))
	if !hmac.Equal(got[:], c.wantSig[:]) {
		return payloadError(codeSignatureMismatch, msgMismatchS3)
	}
	c.signer.prev = got
	return nil
}

// readTrailer reads what follows the final chunk: nothing but an empty
// line, or trailer headers up to an empty line (or the end of the body).
func (c *chunkReader) readTrailer() error {
	type field struct{ name, value string }
	var fields []field
	var sig string
	total := 0
	for first := true; ; first = false {
		line, err := c.r.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 && (len(fields) > 0 || !c.trailer) {
			break // some clients end the body right after the trailer or the final chunk
		}
		if err == bufio.ErrBufferFull {
			return payloadError(codeMalformedTrailer, msgMalformedTrailer)
		}
		if err != nil && err != io.EOF {
			return streamReadError(err)
		}
		total += len(line)
		if total > maxTrailerBytes {
			return payloadError(codeMalformedTrailer, msgMalformedTrailer)
		}
		text := strings.TrimRight(string(line), "\r\n")
		if text == "" {
			if first && c.trailer && err == nil {
				continue // a blank line before the trailer fields
			}
			break
		}
		if !c.trailer {
			return malformedChunk("data follows the final chunk")
		}
		name, value, ok := strings.Cut(text, ":")
		if !ok || name == "" {
			return payloadError(codeMalformedTrailer, msgMalformedTrailer)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			sig = value
		} else {
			fields = append(fields, field{name, value})
		}
		if err == io.EOF {
			break
		}
	}
	if extra, _ := c.r.Peek(1); len(extra) > 0 {
		return malformedChunk("data follows the end of the body")
	}
	c.trailers = make(map[string]string, len(fields))
	for _, f := range fields {
		c.trailers[f.name] = f.value
	}
	if !c.trailerSigned {
		if sig != "" {
			return payloadError(codeMalformedTrailer, msgMalformedTrailer)
		}
		return nil
	}
	var want [sha256.Size]byte
	if !decodeHex(&want, sig) {
		return payloadError(codeSignatureMismatch, msgMismatchS3)
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(f.name + ":" + f.value + "\n"))
	}
	var sum [sha256.Size]byte
	got := c.signer.sign(trailerAlgorithm, h.Sum(sum[:0]))
	if !hmac.Equal(got[:], want[:]) {
		return payloadError(codeSignatureMismatch, msgMismatchS3)
	}
	return nil
}

// parseHexSize parses a chunk size of 1 to 15 hex digits.
func parseHexSize(s string) (int64, bool) {
	if s == "" || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

func malformedChunk(why string) *PayloadError {
	return payloadError(codeInvalidRequest, "The aws-chunked body is malformed: "+why+".")
}
