package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long requests in flight get to finish once the context ends.
const ShutdownGrace = 10 * time.Second

// Run serves srv on ln until srv fails or ctx ends; then it shuts srv down, giving requests in
// flight ShutdownGrace to finish. With certFile and keyFile set it serves TLS. It returns the
// serving error, or the shutdown's, or nil after a clean shutdown.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string, logger *slog.Logger) error {
	served := make(chan error, 1)
	go func() {
		if certFile != "" {
			served <- srv.ServeTLS(ln, certFile, keyFile)
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-served
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
