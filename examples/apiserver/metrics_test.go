package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunMetrics: with -metrics-addr the server serves iamkit's metrics for Prometheus: the
// Verifier's hits and refusals by reason, its cache, the feed's lag, and how long a revoked
// API key kept working.
func TestRunMetrics(t *testing.T) {
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0"}, out) }()
	base := waitForListening(t, out, done)
	metrics := between(out.String(), "metrics for Prometheus at ", "\n")
	admin := between(out.String(), "shown this once:\n\n    ", "\n")
	if metrics == "" || admin == "" {
		t.Fatalf("banner:\n%s", out)
	}
	// call returns the status and, for a created key, its ID and token.
	call := func(key, method, path, body string) (status int, created struct{ ID, Token string }) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Ngrok-Version", "2")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode == http.StatusCreated {
			if err := json.NewDecoder(res.Body).Decode(&created); err != nil {
				t.Fatal(err)
			}
		}
		return res.StatusCode, created
	}
	_, key := call(admin, "POST", "/api_keys", `{"description":"short-lived"}`)
	for range 2 {
		if got, _ := call(key.Token, "GET", "/bot_users", ""); got != http.StatusOK {
			t.Fatalf("GET /bot_users with the new key: %d", got)
		}
	}
	if got, _ := call(admin, "DELETE", "/api_keys/"+key.ID, ""); got != http.StatusNoContent {
		t.Fatalf("DELETE the key: %d", got)
	}
	// The revocation reaches the Verifier through the feed: try until it refuses the key
	// (a hang is a failure after 10 s, not a timing assertion).
	deadline := time.Now().Add(10 * time.Second)
	for got, _ := call(key.Token, "GET", "/bot_users", ""); got != http.StatusUnauthorized; got, _ = call(key.Token, "GET", "/bot_users", "") {
		if time.Now().After(deadline) {
			t.Fatalf("the deleted key still answers %d after 10 s", got)
		}
	}

	res, err := http.Get(metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"iamkit_verifier_cache_hits_total{",
		"iamkit_verifier_cache_misses_total{",
		`iamkit_verifier_rejections_total{otel_scope_name="github.com/iamkit/iamkit"`,
		`reason="revoked"`,
		`iamkit_verifier_cache_entries{entry="credential"`,
		"iamkit_feed_lag_seconds_bucket{",
		"iamkit_feed_staleness_seconds{",
		"iamkit_revocation_latency_seconds_count{",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s:\n%s", want, body)
		}
	}
}
