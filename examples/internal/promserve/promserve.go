package promserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Server is a running metrics endpoint.
type Server struct {
	// Provider is the MeterProvider whose instruments the endpoint serves.
	Provider metric.MeterProvider
	// URL is the endpoint's address, http://host:port/metrics.
	URL string

	sdk  *sdkmetric.MeterProvider
	srv  *http.Server
	done chan error
}

// Start listens on addr ("127.0.0.1:9464", or port 0 for any) and serves GET /metrics
// until Close. Errors of the server after it started go to logger.
func Start(addr string, logger *slog.Logger) (*Server, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	s := &Server{
		sdk:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		URL:  "http://" + ln.Addr().String() + "/metrics",
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	s.Provider = s.sdk
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops serving and shuts the MeterProvider down.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, s.sdk.Shutdown(ctx))
}
