package s3api

import (
	"net"
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Change describes one durable change to an object, the raw material of an
// S3 event notification record.
type Change struct {
	Bucket string
	Key    string // as stored, not URL-encoded
	// EventName is the event without its "s3:" prefix:
	// "ObjectCreated:Put", "ObjectCreated:Copy",
	// "ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete" or
	// "ObjectRemoved:DeleteMarkerCreated".
	EventName string
	Size      int64  // 0 for removals
	ETag      string // unquoted hex (with "-N" for multipart); "" for removals
	VersionID string // the version made or removed; "" for the null version
	// Sequencer orders changes to the same key: 16 upper-case hex digits
	// that grow with every change the store makes.
	Sequencer   string
	SourceIP    string // the client's address
	RequestID   string // the x-amz-request-id of the request
	HostID      string // the x-amz-id-2 of the request
	PrincipalID string // the access key that signed the request
	Time        time.Time
	Region      string // the bucket's region
}

// changed reports a durable change to OnChange; an error from it fails the
// request with InternalError.
func (h *Handler) changed(r *http.Request, rq *request, event string, info objstore.ObjectInfo) error {
	if h.d.OnChange == nil {
		return nil
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	c := Change{
		Bucket: rq.bucket, Key: rq.key, EventName: event, Size: info.Size, ETag: info.ETag, VersionID: info.VersionID,
		Sequencer: info.Sequencer, SourceIP: ip, RequestID: rq.id, HostID: rq.hostID,
		PrincipalID: rq.auth.AccessKeyID, Time: info.LastModified, Region: h.region(r, rq.bucket),
	}
	if c.Time.IsZero() {
		c.Time = time.Now().UTC()
	}
	if err := h.d.OnChange(r.Context(), c); err != nil {
		return toError(err, rq.bucket, rq.key) // InternalError, or ServiceUnavailable to try again
	}
	return nil
}
