package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/examples/internal/storeopen"
)

// TestRunBootstrap starts the server as main does, on a free loopback port with
// -bootstrap-json, calls the API with the key it wrote, and shuts it down.
func TestRunBootstrap(t *testing.T) {
	out := &syncBuffer{}
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-bootstrap-json", path}, out) }()

	base := waitForListening(t, out, done)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap json mode %v, want 0600", info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var boot struct {
		AccountID   string `json:"account_id"`
		AdminUserID string `json:"admin_user_id"`
		APIKey      string `json:"api_key"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&boot); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(boot.AccountID, "ac_") || !strings.HasPrefix(boot.AdminUserID, "usr_") || !strings.HasPrefix(boot.APIKey, "iak_") {
		t.Fatalf("bootstrap json %s", data)
	}
	banner := out.String()
	curl := `curl -H "Authorization: Bearer ` + boot.APIKey + `" -H "Ngrok-Version: 2" ` + base + "/bot_users"
	if !strings.Contains(banner, curl) {
		t.Fatalf("banner has no ready-to-paste curl line %q:\n%s", curl, banner)
	}

	// Call the API with the key, as the printed curl line does.
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+boot.APIKey)
		req.Header.Set("Ngrok-Version", "2")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	if status, m := call("GET", "/bot_users", ""); status != http.StatusOK || m["uri"] != base+"/bot_users" {
		t.Fatalf("GET /bot_users: %d %v", status, m)
	}
	status, m := call("POST", "/api_keys", `{"description":"second"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /api_keys: %d %v", status, m)
	}
	second := m["token"].(string)

	// Shut down as on SIGTERM.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}

	// The log: one line per request, with operation IDs, and no token in it. The banner is
	// the only place the bootstrap key appears.
	logs := out.String()[len(banner):]
	if !regexp.MustCompile(`method=POST path=/api_keys status=201 duration=\S+ operation_id=op_\w+ op=api_keys.create principal_id=usr_\w+ api_key_id=ak_\w+`).MatchString(logs) {
		t.Fatalf("no request log line for POST /api_keys:\n%s", logs)
	}
	if strings.Contains(logs, boot.APIKey) || strings.Contains(logs, second) || strings.Contains(logs, "Bearer") {
		t.Fatalf("a token reached the log:\n%s", logs)
	}
}

// TestRunFlags refuses bad flags before doing anything.
func TestRunFlags(t *testing.T) {
	out := &syncBuffer{}
	if err := run(t.Context(), []string{"-nope"}, out); err == nil {
		t.Fatal("run accepted an unknown flag")
	}
	for _, base := range []string{"ftp://api.example.com", "api.example.com", "https://", "https://api.example.com/?x=1", "https://u:p@api.example.com", "https://api.example.com/#f"} {
		if err := run(t.Context(), []string{"-base-url", base}, out); err == nil {
			t.Errorf("run accepted -base-url %q", base)
		}
	}
	if err := run(t.Context(), []string{"-redis", "redis://127.0.0.1:1"}, out); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("run with an unreachable Redis: %v", err)
	}
	if err := run(t.Context(), []string{"-store", "postgres://127.0.0.1:1/x", "-redis", "redis://127.0.0.1:1"}, out); !errors.Is(err, storeopen.ErrSpec) {
		t.Fatalf("run with -store and -redis naming different stores: %v, want storeopen.ErrSpec", err)
	}
	if err := run(t.Context(), []string{"-store", "mysql://127.0.0.1/x"}, out); !errors.Is(err, storeopen.ErrSpec) {
		t.Fatalf("run with -store naming no store it knows: %v, want storeopen.ErrSpec", err)
	}
}
