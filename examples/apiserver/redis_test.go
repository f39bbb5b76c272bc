package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/redistest"
)

// TestRunRedisBootstrapOnce runs the server twice on one Redis: the first run bootstraps,
// the second finds the marker (the administrator, a member of an account with an API key),
// creates nothing and accepts the key the first run printed.
func TestRunRedisBootstrapOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	// The server writes under redisstore's default key prefix: give it a Redis of its own.
	url := redistest.Start(t, redistest.WithPrivate()).URL
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := func(args ...string) (base string, out *syncBuffer, stop func()) {
		out = &syncBuffer{}
		runCtx, cancelRun := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(runCtx, append([]string{"-addr", "127.0.0.1:0", "-redis", url}, args...), out) }()
		base = waitForListening(t, out, done)
		return base, out, func() {
			cancelRun()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}

	path := filepath.Join(t.TempDir(), "boot.json")
	base, out, stop := start("-bootstrap-json", path)
	key := between(out.String(), "shown this once:\n\n    ", "\n")
	if !strings.HasPrefix(key, "iak_") {
		t.Fatalf("no key in the banner:\n%s", out)
	}
	if status := get(t, base+"/bot_users", key); status != http.StatusOK {
		t.Fatalf("first run: GET /bot_users = %d", status)
	}
	stop()

	base, out, stop = start()
	defer stop()
	if !strings.Contains(out.String(), "Store already bootstrapped") || strings.Contains(out.String(), "iak_") {
		t.Fatalf("second run bootstrapped again:\n%s", out)
	}
	if status := get(t, base+"/bot_users", key); status != http.StatusOK {
		t.Fatalf("second run: GET /bot_users with the first run's key = %d", status)
	}
}

// waitForListening waits for run's "listening on" line and returns the base URL.
func waitForListening(t *testing.T, out *syncBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s := out.String()
		if base := between(s, "listening on ", "\n"); base != "" && (strings.Contains(s, "Try:") || strings.Contains(s, "already bootstrapped")) {
			return base
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before listening: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("run did not start:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(after, end)
	if !ok {
		return ""
	}
	return v
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Ngrok-Version", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
