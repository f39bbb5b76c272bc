package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRun starts the server as main does, on a free loopback port with args added, and
// returns its base URL and the bootstrap API key. It stops the server when the test ends.
func startRun(t *testing.T, args ...string) (base, key string) {
	t.Helper()
	out := &syncBuffer{}
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-bootstrap-json", path}, args...), out)
	}()
	base = waitForListening(t, out, done)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var boot bootstrapResult
	if err := json.Unmarshal(data, &boot); err != nil {
		t.Fatal(err)
	}
	return base, boot.APIKey
}

// TestLinksIgnoreHost: "uri" and "next_page_uri" come from configuration (-base-url, else the
// listen address), never from the request, so a forged Host (or X-Forwarded-*) cannot point
// a client's paging, API key and all, somewhere else.
func TestLinksIgnoreHost(t *testing.T) {
	// call sends a request to addr+path with a forged Host and forwarding headers.
	call := func(t *testing.T, method, addr, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Ngrok-Version", "2")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, m
	}
	// check calls the server at addr and wants every link to start with base.
	check := func(t *testing.T, addr, base, key string) {
		t.Helper()
		// A second API key makes a second page at limit=1.
		if status, m := call(t, "POST", addr, "/api_keys", key, `{}`); status != http.StatusCreated || !strings.HasPrefix(m["uri"].(string), base+"/api_keys/") {
			t.Fatalf("POST /api_keys with a forged Host: %d, uri %v, want it under %s", status, m["uri"], base)
		}
		status, m := call(t, "GET", addr, "/api_keys?limit=1", key, "")
		next, _ := m["next_page_uri"].(string)
		if status != http.StatusOK || m["uri"] != base+"/api_keys" || !strings.HasPrefix(next, base+"/api_keys?") {
			t.Fatalf("GET /api_keys?limit=1 with a forged Host: %d, uri %v, next_page_uri %q; want them under %s", status, m["uri"], next, base)
		}
		for _, k := range m["keys"].([]any) {
			if uri := k.(map[string]any)["uri"].(string); !strings.HasPrefix(uri, base+"/api_keys/") {
				t.Errorf("item uri %q with a forged Host, want it under %s", uri, base)
			}
		}
	}

	t.Run("listen address", func(t *testing.T) {
		e := newEnv(t)
		check(t, e.srv.URL, e.srv.URL, e.key)
	})
	t.Run("configured base URL", func(t *testing.T) {
		e := newEnv(t, withBaseURL("https://api.example.com"))
		check(t, e.srv.URL, "https://api.example.com", e.key)
	})
	t.Run("run without -base-url", func(t *testing.T) {
		base, key := startRun(t)
		check(t, base, base, key)
	})
}

// FuzzCheckBaseURL: a base URL checkBaseURL accepts is an absolute http or https URL with a
// host, to which a path can be appended to make a link that parses to that host and path.
func FuzzCheckBaseURL(f *testing.F) {
	for _, seed := range []string{"http://127.0.0.1:8080", "https://api.example.com", "https://api.example.com/v2", "ftp://x", "https://", "//x", "https://u@x", "https://x?q", "https://x#f", "http://[::1]:80", "https://x/%zz", "http://0#"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, base string) {
		if checkBaseURL(base) != nil {
			return
		}
		b, err := url.Parse(base)
		if err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
			t.Fatalf("checkBaseURL accepted %q: %+v, %v", base, b, err)
		}
		link, err := url.Parse(strings.TrimRight(base, "/") + "/bot_users?limit=1")
		if err != nil || link.Host != b.Host || !strings.HasSuffix(link.Path, "/bot_users") || link.Query().Get("limit") != "1" {
			t.Fatalf("a link under %q parses as %+v, %v", base, link, err)
		}
	})
}
