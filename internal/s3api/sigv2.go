package s3api

import (
	"errors"
	"net/http"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv2"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// verifyV2 checks a Signature Version 2 request and returns its signer
// as the rest of the handler knows signers. Version 2 signs no payload
// hash: the body is taken as an unsigned payload (its Content-MD5, when
// sent, is still checked).
func (h *Handler) verifyV2(r *http.Request) (sigv4.Identity, error) {
	if h.d.VerifierV2 == nil {
		return sigv4.Identity{}, s3err("InvalidRequest", "Signature Version 2 is not accepted by this server; sign with Signature Version 4.")
	}
	id, err := h.d.VerifierV2.Verify(r)
	switch {
	case errors.Is(err, sigv2.ErrUnknown):
		return sigv4.Identity{}, s3err("InvalidAccessKeyId", "")
	case errors.Is(err, sigv2.ErrMismatch):
		return sigv4.Identity{}, s3err("SignatureDoesNotMatch", "")
	case errors.Is(err, sigv2.ErrExpired):
		return sigv4.Identity{}, s3err("AccessDenied", "Request has expired")
	case errors.Is(err, sigv2.ErrSkewed):
		return sigv4.Identity{}, s3err("RequestTimeTooSkewed", "")
	case err != nil:
		return sigv4.Identity{}, s3err("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header, or the Signature, Expires and AWSAccessKeyId query parameters")
	}
	return sigv4.Identity{AccessKeyID: id.AccessKeyID, SessionToken: id.SessionToken, Presigned: id.Presigned,
		Service: "s3", Region: objstore.DefaultRegion, PayloadHash: "UNSIGNED-PAYLOAD"}, nil
}
