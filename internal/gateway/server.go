package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is the gateway's listener. Listen binds it, Serve starts serving
// and Shutdown stops it; tests bind 127.0.0.1:0 and read Addr.
type Server struct {
	ln     net.Listener
	http   *http.Server
	h      *Handler
	served chan error
}

// Listen binds addr (host:port).
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	return &Server{ln: ln}, nil
}

// Addr returns the bound address; call it before Shutdown.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port returns the bound port.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr())
	return port
}

// Serve starts serving h on its own goroutine; Shutdown waits for it.
func (s *Server) Serve(h *Handler) {
	s.h = h
	s.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
	s.served = make(chan error, 1)
	h.keepCounts()
	go func() { s.served <- s.http.Serve(s.ln) }()
}

// Shutdown stops accepting, waits (until ctx ends) for requests in flight
// and for invocations that outlived their requests, saves the quota
// counts, then closes what is left. It is safe to call on a server that never served.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return nil // already shut down
	}
	defer func() { s.ln = nil }()
	if s.http == nil {
		return s.ln.Close()
	}
	var errs []error
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: drain requests: %w", err))
		s.http.Close()
	}
	if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	if err := s.h.Wait(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: wait for invocations: %w", err))
	}
	s.h.stopCounts(ctx)
	s.http = nil
	return errors.Join(errs...)
}
