package lambdaapi

import (
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/sigv4"
)

// isS3 reports whether r is for the S3 API: it is signed for the service
// s3, or its Host addresses a bucket virtual-host style, or it has no
// credential scope and its path is not one of Lambda's, Aloft's, the
// Scheduler's or API Gateway's (so an anonymous GET /bucket/key gets S3's
// AccessDenied). Lambda paths begin
// with a dated version, /2015-03-31/ and the like.
func (s *Server) isS3(r *http.Request) bool {
	if _, service, ok := sigv4.Scope(r); ok {
		return service == "s3"
	}
	if vh, ok := s.d.S3.(interface{ IsVirtualHost(string) bool }); ok && vh.IsVirtualHost(r.Host) {
		return true
	}
	if r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	p := r.URL.Path
	return p != "/health" && !strings.HasPrefix(p, "/aloft/") && !datedPath(p) && !otherServicePath(p)
}

// otherServicePath reports whether p is a path of the EventBridge
// Scheduler or API Gateway v2 APIs, so that an unsigned request for them
// is refused by the service it meant rather than by S3.
func otherServicePath(p string) bool {
	for _, prefix := range []string{"/schedules", "/schedule-groups", "/v2/apis", "/v2/domainnames", "/v2/vpclinks", "/v2/tags"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// datedPath reports whether p begins with an API version: /YYYY-MM-DD/.
func datedPath(p string) bool {
	if len(p) < 12 || p[0] != '/' || p[11] != '/' {
		return false
	}
	for i, c := range []byte(p[1:11]) {
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
