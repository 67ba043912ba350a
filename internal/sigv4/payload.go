package sigv4

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// S3 error codes a payload can fail with.
const (
	codeSHAMismatch       = "XAmzContentSHA256Mismatch"
	codeBadDigest         = "BadDigest"
	codeInvalidDigest     = "InvalidDigest"
	codeIncompleteBody    = "IncompleteBody"
	codeInvalidRequest    = "InvalidRequest"
	codeInvalidArgument   = "InvalidArgument"
	codeSignatureMismatch = "SignatureDoesNotMatch"
	codeMalformedTrailer  = "MalformedTrailerError"
	codeMissingLength     = "MissingContentLength"
	codeTooLarge          = "EntityTooLarge"
	codeNotImplemented    = "NotImplemented"

	msgIncompleteBody   = "You did not provide the number of bytes specified by the Content-Length HTTP header."
	msgMalformedTrailer = "The request contained trailing data that was not well-formed or did not conform to our published schema."
)

// PayloadError is a request body that does not match what its request
// declares: its SHA-256, Content-MD5, x-amz-checksum-*, length, chunk
// signatures or aws-chunked framing. Code is the S3 error code and Status
// the HTTP status S3 answers with.
type PayloadError struct {
	Code    string
	Message string
	Status  int
}

// Error returns the code and message.
func (e *PayloadError) Error() string { return "payload: " + e.Code + ": " + e.Message }

func payloadError(code, msg string) *PayloadError {
	status := http.StatusBadRequest
	switch code {
	case codeSignatureMismatch:
		status = http.StatusForbidden
	case codeMissingLength:
		status = http.StatusLengthRequired
	case codeNotImplemented:
		status = http.StatusNotImplemented
	}
	return &PayloadError{Code: code, Message: msg, Status: status}
}

// Body is a request payload checked as it streams. Read returns the
// payload's bytes (decoded, for aws-chunked bodies) and, at the end, io.EOF
// only if every check passed; otherwise it returns a *PayloadError, so a
// consumer that commits only at io.EOF never keeps a bad payload.
type Body struct {
	src     io.Reader
	chunks  *chunkReader
	size    int64 // declared payload length, -1 if unknown
	n       int64
	sha     hash.Hash // nil unless a hex SHA-256 was declared
	wantSHA [sha256.Size]byte
	md5     hash.Hash // nil unless Content-MD5 was sent
	wantMD5 []byte
	sums    []*sumCheck
	trailed bool  // a checksum comes in the trailer
	err     error // sticky
}

// Body returns r's payload as a reader that checks it against what the
// request declares, as it streams, for a request Verify accepted (called
// with payloadHash ""). id.PayloadHash selects how:
//
//   - a hex SHA-256: the body must hash to it (XAmzContentSHA256Mismatch);
//   - UNSIGNED-PAYLOAD: the body is not signed;
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: an aws-chunked body
//     whose chunks are signed, chained from the request's signature, with
//     a signed trailer in the -TRAILER form;
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER: an aws-chunked body with an
//     unsigned trailer.
//
// aws-chunked bodies need X-Amz-Decoded-Content-Length, and must decode to
// exactly that many bytes. In every mode a Content-MD5 header (BadDigest,
// InvalidDigest) and one x-amz-checksum-* header or trailer (BadDigest) are
// checked too. Problems visible in the headers are returned at once as a
// *PayloadError.
func (v *Verifier) Body(r *http.Request, id Identity) (*Body, error) {
	b := &Body{src: r.Body, size: r.ContentLength}
	if b.src == nil {
		b.src = http.NoBody
		b.size = 0
	}
	sums, perr := headerChecksums(r.Header)
	if perr != nil {
		return nil, perr
	}
	b.sums = sums
	if vals, ok := r.Header["Content-Md5"]; ok {
		want, err := base64.StdEncoding.DecodeString(strings.Join(vals, ","))
		if err != nil || len(want) != md5.Size || len(vals) != 1 {
			return nil, payloadError(codeInvalidDigest, "The Content-MD5 you specified was invalid.")
		}
		b.md5, b.wantMD5 = md5.New(), want
	}
	mode := id.PayloadHash
	switch mode {
	case unsignedPayload:
	case StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer:
		if err := v.chunked(b, r, id); err != nil {
			return nil, err
		}
	default:
		if strings.HasPrefix(mode, "STREAMING-") {
			return nil, payloadError(codeNotImplemented, "The x-amz-content-sha256 value "+mode+" is not supported.")
		}
		if !decodeHex(&b.wantSHA, strings.ToLower(mode)) {
			return nil, payloadError(codeInvalidArgument,
				"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
		}
		b.sha = sha256.New()
	}
	if alg := r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"); alg != "" {
		a := checksumByName(alg)
		found := false
		for _, s := range b.sums {
			found = found || s.alg == a
		}
		if a == nil || !found {
			return nil, payloadError(codeInvalidRequest, "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
		}
	}
	return b, nil
}

// chunked sets b up to decode an aws-chunked body.
func (v *Verifier) chunked(b *Body, r *http.Request, id Identity) *PayloadError {
	dl := r.Header.Get("X-Amz-Decoded-Content-Length")
	size, err := strconv.ParseInt(dl, 10, 64)
	if dl == "" || err != nil || size < 0 {
		return payloadError(codeMissingLength, "You must provide the Content-Length HTTP header.")
	}
	b.size = size
	trailer := id.PayloadHash != StreamingSigned
	if trailer {
		for _, name := range strings.Split(r.Header.Get("X-Amz-Trailer"), ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			a := checksumByHeader(name)
			if a == nil {
				return payloadError(codeInvalidArgument, "The trailer "+name+" is not supported.")
			}
			if len(b.sums) > 0 {
				return payloadError(codeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			b.sums = append(b.sums, &sumCheck{alg: a, h: a.new()})
			b.trailed = true
		}
	}
	var signer *chunkSigner
	if id.PayloadHash != StreamingUnsignedTrailer {
		s, perr := v.chunkSigner(r, id)
		if perr != nil {
			return perr
		}
		signer = s
	}
	b.chunks = newChunkReader(b.src, signer, trailer, id.PayloadHash == StreamingSignedTrailer, size)
	b.src = b.chunks
	return nil
}

// chunkSigner prepares the verification of signed chunks: the signing key
// of the request's scope and its seed signature.
func (v *Verifier) chunkSigner(r *http.Request, id Identity) (*chunkSigner, *PayloadError) {
	var seed string
	if id.Presigned {
		seed = r.URL.Query().Get("X-Amz-Signature")
	} else {
		var a auth
		if e := parseAuthorization(r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), &a); e != nil {
			return nil, payloadError(codeSignatureMismatch, msgMismatchS3)
		}
		seed = a.signature
	}
	var secret string
	known := false
	if v.Lookup != nil {
		secret, known = v.Lookup(id.AccessKeyID)
	}
	s := &chunkSigner{amzDate: id.Time.UTC().Format(timeFormat),
		scope: id.Date + "/" + id.Region + "/" + id.Service + "/" + terminator}
	if !known || !decodeHex(&s.prev, strings.ToLower(seed)) {
		return nil, payloadError(codeSignatureMismatch, msgMismatchS3)
	}
	s.key = v.keys.get(secret, id.Date, id.Region, id.Service)
	return s, nil
}

// Size returns the payload length the request declares (the decoded
// length of an aws-chunked body), or -1 if it declares none.
func (b *Body) Size() int64 { return b.size }

// Read reads the payload; see Body.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.n += int64(n)
		data := p[:n]
		if b.sha != nil {
			b.sha.Write(data)
		}
		if b.md5 != nil {
			b.md5.Write(data)
		}
		for _, s := range b.sums {
			s.h.Write(data)
		}
	}
	switch {
	case err == io.EOF:
		b.err = b.finish()
		if b.err == nil {
			b.err = io.EOF
		}
		if n > 0 {
			return n, nil
		}
		return 0, b.err
	case errors.Is(err, io.ErrUnexpectedEOF):
		b.err = payloadError(codeIncompleteBody, msgIncompleteBody)
	case err != nil:
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			b.err = payloadError(codeTooLarge, "Your proposed upload exceeds the maximum allowed size")
		} else {
			b.err = err
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, b.err
}

// finish runs the checks that need the whole payload.
func (b *Body) finish() error {
	if b.size >= 0 && b.n != b.size {
		return payloadError(codeIncompleteBody, msgIncompleteBody)
	}
	if b.sha != nil {
		var sum [sha256.Size]byte
		if !bytes.Equal(b.sha.Sum(sum[:0]), b.wantSHA[:]) {
			return payloadError(codeSHAMismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}
	if b.md5 != nil && !bytes.Equal(b.md5.Sum(nil), b.wantMD5) {
		return payloadError(codeBadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	for _, s := range b.sums {
		if s.want == nil {
			v, ok := b.chunks.trailers[s.alg.header]
			if !ok {
				return payloadError(codeMalformedTrailer, msgMalformedTrailer)
			}
			want, ok := s.alg.decode(v)
			if !ok {
				return payloadError(codeInvalidRequest, "Value for "+s.alg.header+" trailing header is invalid.")
			}
			s.want = want
		}
		if !bytes.Equal(s.h.Sum(nil), s.want) {
			return payloadError(codeBadDigest, "The "+s.alg.name+" you specified did not match the calculated checksum.")
		}
	}
	return nil
}

// DeclaredChecksums returns the checksums the request's headers give
// (x-amz-checksum-*), by algorithm with base64 values, known before the
// payload is read; nil if there are none or the checksum comes in the
// trailer (see TrailerChecksum).
func (b *Body) DeclaredChecksums() map[string]string {
	if b.trailed || len(b.sums) == 0 {
		return nil
	}
	out := make(map[string]string, len(b.sums))
	for _, s := range b.sums {
		out[s.alg.name] = base64.StdEncoding.EncodeToString(s.want)
	}
	return out
}

// TrailerChecksum reports whether the payload's checksum comes in its
// trailer, so that its value is known only once Read has returned
// io.EOF (see Checksums).
func (b *Body) TrailerChecksum() bool { return b.trailed }

// Checksums returns the checksums the payload was verified against, by
// algorithm name (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) with base64
// values. It is complete once Read has returned io.EOF, and nil if the
// request sent none.
func (b *Body) Checksums() map[string]string {
	if b.err != io.EOF || len(b.sums) == 0 {
		return nil
	}
	out := make(map[string]string, len(b.sums))
	for _, s := range b.sums {
		out[s.alg.name] = base64.StdEncoding.EncodeToString(s.want)
	}
	return out
}
