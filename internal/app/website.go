package app

import (
	"net/http"

	"github.com/aloft-dev/aloft/internal/s3api"
)

// websiteHosts puts S3's website endpoints in front of the API
// listener's front door: a request whose Host is a bucket's website
// (<bucket>.s3-website.<domain>, <bucket>.s3-website-<region>.<domain>)
// is the website's, whatever its path, since every path of a website is
// one of its bucket's keys; every other request goes to api.
func (s *Server) websiteHosts(api http.Handler) http.Handler {
	sites := s3api.NewWebsites(s.s3)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sites.Bucket(r.Host); ok {
			sites.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
