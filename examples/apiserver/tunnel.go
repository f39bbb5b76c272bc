package main

import (
	"context"
	"flag"
	"log/slog"
	"net"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
)

func addTunnelFlag(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.tunnelAddr, "tunnel-addr", "", "also run the tunnel edge (examples/tunneledge) on this address, in this process, sharing the store and the verifier")
}

// startTunnel starts the tunnel edge when -tunnel-addr is set, so that the memory store serves
// both the API and the agents. It returns the edge's address ("" when off) and a function
// that stops the edge, closing its sessions, and waits for it.
func startTunnel(ctx context.Context, cfg config, v *credential.Verifier, logger *slog.Logger) (string, func(), error) {
	if cfg.tunnelAddr == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.tunnelAddr)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := tunnel.New(v, tunnel.WithLogger(logger.With("component", "tunnel"))).Serve(ctx, ln); err != nil {
			logger.Error("tunnel edge stopped", "err", err)
		}
	}()
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}
