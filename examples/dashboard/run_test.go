package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunPrintsTheWayIn: the command starts on a memstore, prints where it listens and a
// link that lets the bootstrapped administrator choose a password, serves it and iamkit's
// metrics (-metrics-addr), and stops when its context ends.
func TestRunPrintsTheWayIn(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-mail-dir", t.TempDir(), "-admin-email", "boss@example.test", "-metrics-addr", "127.0.0.1:0"}, out)
	}()
	link := regexp.MustCompile(`http://127\.0\.0\.1:\d+/reset\?token=\S+`)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Sign in at") {
		select {
		case err := <-done:
			t.Fatalf("run stopped: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", out)
		}
	}
	banner := out.String()
	contains(t, "banner", banner, "iamkit dashboard listening on http://127.0.0.1:", "with administrator boss@example.test",
		"Choose the administrator's password")
	u := link.FindString(banner)
	if u == "" {
		t.Fatalf("no password link in the banner:\n%s", banner)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="token"`) {
		t.Errorf("the link's page: status %d", res.StatusCode)
	}
	metrics := regexp.MustCompile(`metrics for Prometheus at (\S+)`).FindStringSubmatch(banner)
	if metrics == nil {
		t.Fatalf("no metrics address in the banner:\n%s", banner)
	}
	res, err = http.Get(metrics[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	contains(t, "/metrics", string(body), "iamkit_feed_staleness_seconds{", `iamkit_verifier_cache_entries{entry="credential"`)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop")
	}
	if strings.Count(out.String(), "token=") != 1 {
		t.Errorf("the link's token appears elsewhere than in the banner:\n%s", out)
	}
}

// TestFlags: flags that cannot work are refused before anything starts.
func TestFlags(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("abcd"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"certificate without key", []string{"-tls-cert", "c.pem"}, false},
		{"key without certificate", []string{"-tls-key", "k.pem"}, false},
		{"stray argument", []string{"extra"}, false},
		{"bad store", []string{"-store", "ftp://x"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFlags(c.args, io.Discard)
			if (err == nil) != c.ok {
				t.Errorf("parseFlags(%q) = %v", c.args, err)
			}
		})
	}
	if k, err := secretKey(key); err != nil || len(k) != 32 {
		t.Errorf("a hex key file: %d bytes, %v", len(k), err)
	}
	if _, err := secretKey(short); err == nil {
		t.Error("a short key file is accepted")
	}
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = newApp(t.Context(), appConfig{Store: st, BaseURL: "http://dashboard.example.com", Mailer: &outbox{}, SecretKey: make([]byte, 32)})
	if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != sso.CodeConfigInvalid {
		t.Errorf("a plain-http base URL off loopback: %v, want the SSO service's refusal of the base URL", err)
	}
}
