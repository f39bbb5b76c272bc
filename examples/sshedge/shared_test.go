package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/examples/internal/storeopen"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/internal/redistest"
)

// TestSharedStore: the edge started with -store (or its alias -redis) on a store that
// something else writes to (here the test, standing in for the API server) lets in the SSH key
// registered there, with its ACL.
func TestSharedStore(t *testing.T) {
	for _, c := range []struct {
		name, flag string
		spec       func(t *testing.T) string
	}{
		// The edge reads under redisstore's default key prefix: a Redis of its own.
		{"redis", "-redis", func(t *testing.T) string { return redistest.Start(t, redistest.WithPrivate()).URL }},
		{"postgres", "-store", func(t *testing.T) string { return pgtest.Start(t).Database(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec(t)
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
			user := newClientKey(t, "id_user")
			pubPath := filepath.Join(t.TempDir(), "id_user.pub")
			if err := os.WriteFile(pubPath, []byte(user.authorized), 0o644); err != nil {
				t.Fatal(err)
			}
			st, closeStore, err := storeopen.Open(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			if err := seedDemo(t.Context(), st, pubPath, []string{"bind:127.0.0.1:8080"}, addr, io.Discard); err != nil {
				t.Fatal(err)
			}

			hostKey := newClientKey(t, "host_key")
			ctx, stop := context.WithCancel(t.Context())
			defer stop()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-addr", addr, "-host-key", hostKey.path, c.flag, spec}, io.Discard, t.Output())
			}()

			var client *ssh.Client
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				client, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{
					User:            "x",
					Auth:            []ssh.AuthMethod{ssh.PublicKeys(user.signer)},
					HostKeyCallback: ssh.FixedHostKey(hostKey.signer.PublicKey()),
					Timeout:         5 * time.Second,
				})
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ssh.Dial: %v", err)
				}
			}
			defer client.Close()
			sess, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			banner, err := sess.Output("")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(banner), "bind:127.0.0.1:8080") {
				t.Errorf("banner does not show the ACL written to the shared store:\n%s", banner)
			}
			stop()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("run did not return after cancellation")
			}
		})
	}
}
