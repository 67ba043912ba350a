package app

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// startDebug serves Go's profiler on the address in ALOFT_DEBUG_PPROF, when
// set. It is an unstable knob for diagnosing the server, not part of the
// contract. The returned function stops it.
func startDebug(log *slog.Logger) func() {
	addr := os.Getenv("ALOFT_DEBUG_PPROF")
	if addr == "" {
		return func() {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn("debug profiler not started", "addr", addr, "err", err)
		return func() {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	log.Warn("debug profiler listening", "addr", ln.Addr().String())
	return func() { srv.Close() }
}
