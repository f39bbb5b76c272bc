package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestRunDemo runs the command as the README does, with a host key file and -authorized-key,
// and logs in with the registered key.
func TestRunDemo(t *testing.T) {
	hostKey := newClientKey(t, "host_key") // any private key file will do
	user := newClientKey(t, "id_user")
	pubPath := filepath.Join(t.TempDir(), "id_user.pub")
	if err := os.WriteFile(pubPath, []byte(user.authorized), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-host-key", hostKey.path, "-authorized-key", pubPath,
			"-acl", "bind:127.0.0.1:8080"}, &out, t.Output())
	}()

	var client *ssh.Client
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		client, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{
			User:            "x",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(user.signer)},
			HostKeyCallback: ssh.FixedHostKey(hostKey.signer.PublicKey()), // the key from -host-key
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
		t.Errorf("banner does not show the ACL:\n%s", banner)
	}
	if !strings.Contains(out.String(), "registered SHA256:") || !strings.Contains(out.String(), "ssh -p ") {
		t.Errorf("stdout does not tell how to log in:\n%s", out.String())
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
	client.Wait() // the edge closed the connection on shutdown; this must not hang
}
