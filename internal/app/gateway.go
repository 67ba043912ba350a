package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gatewayapi"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/logs"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// gatewayParts are the HTTP gateway's components: its listener (bound
// early, served last, shut down first with the API listener) and its
// catalog of APIs and function URLs.
type gatewayParts struct {
	srv  *gateway.Server
	addr string // the listener's address
	port string // its port, for the addresses of APIs and URLs
	cat  *catalog.Catalog
	// counts keeps usage plan request counts across restarts and servers.
	counts *catalog.Counts
}

// listenGateway binds the gateway listener.
func (s *Server) listenGateway(addr string) (err error) {
	if s.gw.srv, err = gateway.Listen(addr); err != nil {
		return err
	}
	s.gw.addr, s.gw.port = s.gw.srv.Addr(), s.gw.srv.Port()
	return nil
}

// openGateway opens the gateway's catalog, drops the URLs of functions
// that no longer exist, and keeps dropping them as functions are deleted.
func (s *Server) openGateway(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	var err error
	if s.gw.cat, err = catalog.Open(ctx, js, log); err != nil {
		return err
	}
	if s.gw.counts, err = catalog.OpenCounts(ctx, js); err != nil {
		return err
	}
	exists := func(name string) bool { _, ok := s.reg.Get(name); return ok }
	if err := s.gw.cat.PruneURLs(ctx, exists); err != nil {
		log.Warn("could not remove the URLs of deleted functions", "err", err)
	}
	cat := s.gw.cat
	s.reg.OnChange(func(name string) {
		if exists(name) {
			return
		}
		if err := cat.DeleteURL(context.Background(), name); err != nil && fault.KindOf(err) != fault.NotFound {
			log.Warn("could not remove a deleted function's URL", "function", name, "err", err)
		}
	})
	return nil
}

// gatewayAPI returns the API Gateway v2 management handler.
func (s *Server) gatewayAPI(log *slog.Logger) http.Handler {
	d := gatewayapi.Deps{Catalog: s.gw.cat, Endpoint: s.apiEndpoint, Logger: log}
	if s.gw.counts != nil {
		d.Usage = s.gw.counts
	}
	return gatewayapi.New(d)
}

// serveGateway starts serving HTTP triggers and function URLs.
func (s *Server) serveGateway(verifier *sigv4.Verifier, log *slog.Logger) {
	d := gateway.Deps{Catalog: s.gw.cat, Functions: invoke.Functions{Store: s.reg}, Invoker: s.invoking, Verifier: verifier, Resolve: s.resolve, Logger: log,
		Report: s.reportGateway, Observe: s.gatewayObserver()}
	if s.gw.counts != nil {
		d.Counts = s.gw.counts
	}
	if s.objects != nil {
		d.Objects = s.objects // static sites
	}
	if s.tr.store != nil {
		d.Sampler, d.Traces = &s.tr.sampler, s.tr.store
	}
	s.gw.srv.Serve(gateway.NewHandler(d))
}

// apiEndpoint is the address of an HTTP API: curl and browsers resolve
// *.localhost to loopback; other clients use the /_aloft/apis/ path form.
func (s *Server) apiEndpoint(apiID string) string {
	return "http://" + apiID + ".execute-api.localhost:" + s.gw.port
}

// functionURL is the address of a function URL.
func (s *Server) functionURL(urlID, region string) string {
	return "http://" + urlID + ".lambda-url." + region + ".localhost:" + s.gw.port + "/"
}

// GatewayAddr returns the gateway listener's address.
func (s *Server) GatewayAddr() string { return s.gw.addr }

// shutdownListener stops the gateway listener: no new requests, and the
// ones in flight (and invocations that outlived them) end or ctx does.
func (g *gatewayParts) shutdownListener(ctx context.Context) error {
	if g.srv == nil {
		return nil
	}
	err := g.srv.Shutdown(ctx)
	g.srv = nil
	return err
}

// close stops the catalog's watch.
func (g *gatewayParts) close() error {
	if g.cat != nil {
		g.cat.Close()
		g.cat = nil
	}
	return nil
}

// reportGateway writes why the gateway failed a request to a function
// into the function's log group (stream "gateway"), where aloft logs
// shows it beside the function's own lines.
func (s *Server) reportGateway(fn, line string) {
	s.logStore.Append(function.LogGroup(fn), "gateway", []logs.Event{{Timestamp: time.Now().UnixMilli(), Message: line}})
}
