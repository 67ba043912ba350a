package alofttest

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 returns an S3 client for this server that addresses buckets
// path-style (http://127.0.0.1:PORT/BUCKET/KEY).
func (s *Server) S3(opts ...func(*s3.Options)) *s3.Client {
	return s3.NewFromConfig(s.Config(), append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.UsePathStyle = true
	}}, opts...)...)
}

// S3VirtualHost returns an S3 client configured as the SDK is by default
// for a host name: endpoint http://localhost:PORT without UsePathStyle, so
// requests go to http://BUCKET.localhost:PORT/KEY. Names under localhost
// do not resolve on every host, so the client dials the server's address
// for any of them; the Host header still names the bucket.
func (s *Server) S3VirtualHost(opts ...func(*s3.Options)) *s3.Client {
	addr := strings.TrimPrefix(s.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, hostport string) (net.Conn, error) {
		if h, _, err := net.SplitHostPort(hostport); err == nil && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
			hostport = addr
		}
		return dialer.DialContext(ctx, network, hostport)
	}
	cfg := s.Config()
	cfg.HTTPClient = &http.Client{Transport: transport, Timeout: 5 * time.Minute}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://localhost:" + port)
	}}, opts...)...)
}
