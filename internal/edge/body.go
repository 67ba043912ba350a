package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// memBody is how much of a request body is held in memory before its
// signature is checked; the rest waits in a spool file.
const memBody = 64 << 10

// readVerified reads r's body, at most svc.MaxBody bytes, and checks r's
// signature over it. Nobody can make the server hold more than memBody
// bytes of a request without signing it: a request without a valid
// signature form, date and key is refused before its body is read, and
// the body of any other is hashed as it arrives, with what exceeds
// memBody written to an unlinked spool file, and read into memory only
// once the signature matches.
func (e *Edge) readVerified(r *http.Request, svc *Service) ([]byte, sigv4.Identity, *awsproto.Error) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") || (r.URL.RawQuery != "" && r.URL.Query().Has("AWSAccessKeyId")) {
		return nil, sigv4.Identity{}, &awsproto.Error{Status: http.StatusBadRequest, Code: "InvalidSignatureException",
			Message: "Signature Version 2 is accepted by S3 alone; sign requests to " + svc.Name + " with Signature Version 4."}
	}
	var pending sigv4.Pending
	if err := e.c.Verifier.Precheck(r, &pending); err != nil {
		return nil, sigv4.Identity{}, authError(err, svc, r)
	}
	limit := svc.MaxBody
	if r.ContentLength > limit {
		return nil, sigv4.Identity{}, tooLarge(r, svc)
	}
	if r.ContentLength >= 0 && r.ContentLength < memBody {
		// The common case, a small body of known size: read it whole,
		// with no copying buffer (the server's reader ends it at its
		// Content-Length).
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, sigv4.Identity{}, unreadable(err)
		}
		id, err := pending.Verify(r, sigv4.PayloadHash(body))
		if err != nil {
			return nil, sigv4.Identity{}, authError(err, svc, r)
		}
		return body, id, nil
	}
	h := sha256.New()
	first := make([]byte, 0, min(max(r.ContentLength, 0), memBody))
	mem := bytes.NewBuffer(first)
	n, err := io.Copy(io.MultiWriter(mem, h), io.LimitReader(r.Body, memBody))
	var spool *os.File
	if err == nil && n == memBody {
		// More may follow: spool it, hashing as it goes.
		if spool, err = os.CreateTemp(e.c.SpoolDir, "aloft-body-*"); err != nil {
			return nil, sigv4.Identity{}, internal(fmt.Errorf("edge: spool a request body: %w", err))
		}
		os.Remove(spool.Name())
		defer spool.Close()
		var more int64
		more, err = io.Copy(io.MultiWriter(spool, h), io.LimitReader(r.Body, limit+1-n))
		n += more
	}
	if err != nil {
		return nil, sigv4.Identity{}, unreadable(err)
	}
	if n > limit {
		return nil, sigv4.Identity{}, tooLarge(r, svc)
	}
	id, err := pending.Verify(r, hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		return nil, sigv4.Identity{}, authError(err, svc, r)
	}
	if spool == nil {
		return mem.Bytes(), id, nil
	}
	body := make([]byte, n)
	copy(body, mem.Bytes())
	if _, err := spool.ReadAt(body[mem.Len():], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, sigv4.Identity{}, internal(fmt.Errorf("edge: read a spooled request body: %w", err))
	}
	return body, id, nil
}

// authError is a signature failure as svc words it: the query protocol's
// services with the query codes (SignatureDoesNotMatch,
// InvalidClientTokenId, ...), which SQS's JSON clients also read.
func authError(err error, svc *Service, r *http.Request) *awsproto.Error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return &awsproto.Error{Status: http.StatusForbidden, Code: "AccessDeniedException", Message: err.Error()}
	}
	e := &awsproto.Error{Status: http.StatusForbidden, Code: se.AWSCode(svc.Name), Message: se.Message}
	switch svc.protocol(r) {
	case awsproto.QueryXML:
		e.Code = queryAuthCode(se)
	case awsproto.JSON10Query:
		e.QueryCode = queryAuthCode(se)
	}
	return e
}

// queryAuthCode is a signature failure's code in the query protocol.
func queryAuthCode(se *sigv4.Error) string {
	switch se.Kind {
	case sigv4.Missing:
		return "MissingAuthenticationToken"
	case sigv4.Malformed:
		return "IncompleteSignature"
	case sigv4.UnknownKey:
		return "InvalidClientTokenId"
	}
	return "SignatureDoesNotMatch"
}

// tooLarge refuses a body over svc's limit.
func tooLarge(r *http.Request, svc *Service) *awsproto.Error {
	if svc.TooLarge != nil {
		return svc.TooLarge(r, svc.MaxBody)
	}
	return awsproto.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request must be smaller than %d bytes", svc.MaxBody)
}

// unreadable is a body that could not be read.
func unreadable(err error) *awsproto.Error {
	return awsproto.Errorf(http.StatusBadRequest, "InvalidRequestContentException", "could not read request body: %v", err)
}

// internal is the front door's own failure.
func internal(err error) *awsproto.Error {
	return &awsproto.Error{Status: http.StatusInternalServerError, Code: "ServiceException", Message: "The service cannot complete the request.", Err: err}
}
