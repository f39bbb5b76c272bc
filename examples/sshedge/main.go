package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iamkit/iamkit/examples/internal/storeopen"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"github.com/iamkit/iamkit/credential"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "sshedge:", err)
		os.Exit(1)
	}
}

// run runs the command with the given arguments until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sshedge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:2222", "address to listen on")
	hostKeyPath := fs.String("host-key", "", "host private key file (default: a new ed25519 key each run)")
	stores := storeopen.AddFlags(fs, "to share with the API server (default: in memory)")
	authorizedKey := fs.String("authorized-key", "", "in-memory mode: a public key file (id_*.pub) to register "+
		"as the SSH credential of a demo bot user")
	acl := fs.String("acl", "bind:127.0.0.1:8080", "in-memory mode: comma-separated ACL of that credential")
	interval := fs.Duration("check-interval", 200*time.Millisecond, "how often connections are re-verified")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed
		}
		return err
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))

	hostKey, err := loadHostKey(*hostKeyPath)
	if err != nil {
		return err
	}
	spec, err := stores.Spec()
	if err != nil {
		return err
	}
	st, closeStore, err := storeopen.Open(ctx, spec)
	if err != nil {
		return err
	}
	defer closeStore()
	if storeopen.InMemory(spec) {
		if *authorizedKey == "" {
			log.Warn("in-memory store and no -authorized-key: no key can log in")
		} else if err := seedDemo(ctx, st, *authorizedKey, splitList(*acl), *addr, stdout); err != nil {
			return fmt.Errorf("demo account: %w", err)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	v, err := credential.NewVerifier(st, credential.WithLogger(log))
	if err != nil {
		return err
	}
	srv := &server{v: v, hostKey: hostKey, log: log, checkInterval: *interval}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := v.Run(ctx); ctx.Err() == nil {
			return fmt.Errorf("verifier stopped: %w", err)
		}
		return nil
	})
	g.Go(func() error { return srv.serve(ctx, ln) })
	err = g.Wait()
	log.Info("ssh edge stopped")
	return err
}

// loadHostKey reads the host key at path, or generates an ed25519 key when path is empty.
func loadHostKey(path string) (ssh.Signer, error) {
	if path == "" {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate host key: %w", err)
		}
		return ssh.NewSignerFromKey(priv)
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
