package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
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

// waitMatch polls buf until re matches, and returns the match.
func waitMatch(t *testing.T, buf *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindString(buf.String()); m != "" {
			return m
		}
	}
	t.Fatalf("no match for %s in:\n%s", re, buf.String())
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDemo runs the command as the README does: the edge in memory, printing a demo authtoken,
// then the agent mode with that token, until the edge shuts down.
func TestDemo(t *testing.T) {
	addr := freeAddr(t)
	edgeCtx, stopEdge := context.WithCancel(t.Context())
	defer stopEdge()
	var edgeOut syncBuffer
	edgeDone := make(chan error, 1)
	go func() { edgeDone <- run(edgeCtx, []string{"-addr", addr}, &edgeOut, t.Output()) }()
	token := waitMatch(t, &edgeOut, regexp.MustCompile(`iat_[A-Za-z0-9_]+`))
	waitMatch(t, &edgeOut, regexp.MustCompile(`-bind app\.demo\.example\.com`))

	t.Setenv(tokenEnv, token)
	var agentOut syncBuffer
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- run(t.Context(), []string{"-agent", "-addr", addr, "-bind", "app.demo.example.com"}, &agentOut, t.Output())
	}()
	waitMatch(t, &agentOut, regexp.MustCompile(`session open: .* owner bot_`))

	err := run(t.Context(), []string{"-agent", "-addr", addr, "-bind", "app.example.org"}, &bytes.Buffer{}, t.Output())
	var refused *tunnel.Error
	if !errors.As(err, &refused) || refused.Code != tunnel.CodeBindNameDenied {
		t.Errorf("agent binding outside the ACL: %v, want %s", err, tunnel.CodeBindNameDenied)
	}

	stopEdge()
	for name, done := range map[string]chan error{"edge": edgeDone, "agent": agentDone} {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s still running after the edge was stopped", name)
		}
	}
	waitMatch(t, &agentOut, regexp.MustCompile(`session closed by the edge: `+tunnel.CodeShutdown))
}

func TestExampleTarget(t *testing.T) {
	for _, tc := range []struct {
		acl  []string
		want string
	}{
		{nil, "app.demo.example.com"},
		{[]string{"*"}, "app.demo.example.com"},
		{[]string{"bind:*.x.example.com"}, "app.x.example.com"},
		{[]string{"bind:app=*", "bind:tcp.example.com:20002"}, "tcp.example.com:20002"},
		{[]string{"bind:edge=blue"}, "edge=blue"},
	} {
		if got := exampleTarget(tc.acl); got != tc.want {
			t.Errorf("exampleTarget(%q) = %q, want %q", tc.acl, got, tc.want)
		}
	}
}
