package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel"
)

// NodeAPI is what the server needs from a node. *sentinel.Node satisfies it;
// tests pass a fake.
type NodeAPI interface {
	// Status returns a snapshot of the node's view.
	Status() sentinel.Status
	// Subscribe returns the events whose type matches pattern (a Redis
	// glob) and a function that ends the subscription.
	Subscribe(pattern string) (<-chan sentinel.Event, func())
	// Failover starts a manual failover of the named master.
	Failover(name string) error
	// Switchover hands the named master's role to the replica at to
	// ("host:port", or "" for the best one) and returns when it is done.
	Switchover(ctx context.Context, name, to string) error
}

var _ NodeAPI = (*sentinel.Node)(nil)

// Server limits and timeouts.
const (
	// readHeaderTimeout bounds how long a client may take to send its
	// request headers (slowloris).
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request, body included.
	readTimeout = 10 * time.Second
	// writeTimeout bounds writing a response. The event stream and
	// switchover lift it for their own requests.
	writeTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections left unused.
	idleTimeout = 2 * time.Minute
	// shutdownTimeout bounds the graceful shutdown; connections still
	// open after it are closed.
	shutdownTimeout = 5 * time.Second
	// maxHeaderBytes bounds request headers.
	maxHeaderBytes = 16 << 10
	// maxBodyBytes bounds a request body (switchover's JSON).
	maxBodyBytes = 4 << 10
	// maxStreams bounds concurrent /v1/events streams: each holds a node
	// subscription with its own event buffer.
	maxStreams = 64
	// heartbeatPeriod is how often an idle event stream sends a comment,
	// so proxies keep it open and a vanished client is noticed.
	heartbeatPeriod = 15 * time.Second
	// scrapeTimeout bounds one /metrics request.
	scrapeTimeout = 10 * time.Second
)

// Server serves metrics and the JSON API of one node. Create it with New,
// then call Serve (optionally Listen first to learn the address).
type Server struct {
	node    NodeAPI
	cfg     config.HTTPConfig
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *eventMetrics
	series  *nodeSeries
	scrapes *metricsHandler
	handler http.Handler
	streams chan struct{} // one token per open event stream

	mu           sync.Mutex
	ln           net.Listener
	events       <-chan sentinel.Event
	cancelEvents func()
	served       bool
}

// New builds a server for node. Nothing listens until Listen or Serve. A nil
// log discards. cfg.Token, if set, is never logged.
func New(node NodeAPI, cfg config.HTTPConfig, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		node:    node,
		cfg:     cfg,
		log:     log,
		reg:     prometheus.NewRegistry(),
		streams: make(chan struct{}, maxStreams),
	}
	s.metrics = newEventMetrics(log)
	s.series = newNodeSeries(node, s.metrics)
	s.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		s.series,
		s.metrics,
	)
	s.scrapes = newMetricsHandler(s.reg, s.series, slog.NewLogLogger(log.Handler(), slog.LevelError))
	var names []string
	for _, m := range node.Status().Masters {
		names = append(names, m.Name)
	}
	s.metrics.initMasters(names)
	s.handler = s.routes()
	return s
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	if s.cfg.PprofEnabled() {
		// Go's runtime profiles (http.pprof: yes), read-only like the
		// rest of this port, for `go tool pprof http://HOST:PORT/...`.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	// A scrape is bounded as promhttp's HandlerOpts.Timeout bounds it,
	// with the same message.
	mux.Handle("GET /metrics", http.TimeoutHandler(s.scrapes, scrapeTimeout,
		fmt.Sprintf("Exceeded configured timeout of %v.\n", scrapeTimeout)))
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("GET /v1/masters", s.handleMasters)
	mux.HandleFunc("GET /v1/masters/{name}", s.handleMaster)
	mux.HandleFunc("GET /v1/masters/{name}/primary", s.handlePrimary)
	mux.HandleFunc("GET /v1/masters/{name}/replica", s.handleReplica)
	mux.HandleFunc("GET /v1/events", s.handleEvents)
	mux.HandleFunc("POST /v1/masters/{name}/failover", s.requireToken(s.handleFailover))
	mux.HandleFunc("POST /v1/masters/{name}/switchover", s.requireToken(s.handleSwitchover))
	return mux
}

// Listen binds cfg.Listen and subscribes to the node's events, so that
// events published from now on are counted. Serve calls it when it was not
// called before; call it first to learn Addr or to fail early on a busy
// port, and then call Serve, which releases the subscription.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	if s.served {
		return errors.New("httpapi: server already stopped")
	}
	if s.cfg.Listen == "" {
		return errors.New("httpapi: http.listen is empty")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %q: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	s.events, s.cancelEvents = s.node.Subscribe("*")
	return nil
}

// Registerer is the server's own metrics registry, served on /metrics, for
// collectors that live outside the server (NewWebhooks).
func (s *Server) Registerer() prometheus.Registerer { return s.reg }

// Addr is the address the server listens on, once listening; "" before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve listens (unless Listen was called), serves until ctx is cancelled,
// then shuts down gracefully: event streams end, in-flight requests get
// shutdownTimeout to finish. It returns nil after a shutdown and an error
// when the server could not listen or its listener failed. A Server serves
// once.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("httpapi: Serve called twice")
	}
	s.served = true
	ln, events, cancelEvents := s.ln, s.events, s.cancelEvents
	s.mu.Unlock()
	defer cancelEvents()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests inherit ctx, so event streams end when the server
		// stops.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.metrics.consume(ctx, events) })

	s.log.Info("http server listening", "addr", ln.Addr().String(), "actions_enabled", s.cfg.Token != "")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), shutdownTimeout)
	defer stop()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		s.log.Warn("http server shutdown timed out; closing connections", "err", serr)
		_ = srv.Close()
	}
	if err == nil {
		err = <-served
	}
	wg.Wait()
	s.log.Info("http server stopped")
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("http server: %w", err)
}
