package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRawRequestsGetJSONErrors writes requests on a TCP connection to the server as run
// starts it, so that no client library cleans a path or trims a header first, and wants
// every one answered with ngrok's JSON error body and its status: no redirect to a cleaned
// path (with an HTML body, and a Location a client would follow with its API key), no
// plain-text 431 for a large header.
func TestRawRequestsGetJSONErrors(t *testing.T) {
	base, key := startRun(t)
	addr := strings.TrimPrefix(base, "http://")
	auth := "Authorization: Bearer " + key + "\r\nNgrok-Version: 2\r\n"

	for _, tc := range []struct {
		name    string
		request string // up to the blank line; Host and Connection are added
		status  int
		code    string
	}{
		{"dot-dot segment", "GET /bot_users/../api_keys HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"dot-dot at the end", "GET /api_keys/.. HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"dot segment", "GET /./bot_users HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"dot at the end", "GET /bot_users/. HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"double slash", "GET //bot_users HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"double slash inside", "GET /bot_users//x HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"trailing double slash", "DELETE /api_keys// HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"dot-dot above the root", "GET /../bot_users HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"dot-dot into SSO", "GET /bot_users/../sso/x HTTP/1.1\r\n", 404, "ERR_NGROK_90404"},
		{"dot-dot with a query", "GET /x/../bot_users?limit=1 HTTP/1.1\r\n" + auth, 404, "ERR_NGROK_90404"},
		{"SSO prefix without its slash", "GET /sso HTTP/1.1\r\n", 404, "ERR_NGROK_90404"},
		{"asterisk form", "OPTIONS * HTTP/1.1\r\n", 404, "ERR_NGROK_90404"},
		{"authority form", "CONNECT " + addr + " HTTP/1.1\r\n", 404, "ERR_NGROK_90404"},
		{"escaped dot-dot is a segment", "GET /api_keys/%2e%2e HTTP/1.1\r\n" + auth, 400, "ERR_NGROK_227"},
		{"header over the limit", "GET /bot_users HTTP/1.1\r\n" + auth + "X-Filler: " + strings.Repeat("a", maxRequestHeaderBytes) + "\r\n", 431, "ERR_NGROK_90431"},
		{"many headers over the limit", "GET /bot_users HTTP/1.1\r\n" + auth + strings.Repeat("X-Filler: "+strings.Repeat("a", 1000)+"\r\n", maxRequestHeaderBytes/1000+1), 431, "ERR_NGROK_90431"},
		{"header just under the server's own limit", "GET /bot_users HTTP/1.1\r\n" + auth + "X-Filler: " + strings.Repeat("a", serverMaxHeaderBytes-1024) + "\r\n", 431, "ERR_NGROK_90431"},
		{"request line over the limit", "GET /bot_users?" + strings.Repeat("a", maxRequestHeaderBytes) + " HTTP/1.1\r\n" + auth, 431, "ERR_NGROK_90431"},
		{"large header without a key", "GET /bot_users HTTP/1.1\r\nX-Filler: " + strings.Repeat("a", maxRequestHeaderBytes) + "\r\n", 431, "ERR_NGROK_90431"},
		{"absolute form with another host", "GET http://evil.example/bot_users?limit=0 HTTP/1.1\r\n" + auth, 400, "ERR_NGROK_233"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawRequest(t, addr, tc.request)
			var e ngrokError
			if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode == "" {
				t.Fatalf("%d %s, %q: want ngrok's JSON error body", resp.StatusCode, resp.Header.Get("Content-Type"), truncate(body))
			}
			if resp.StatusCode != tc.status || e.ErrorCode != tc.code || int(e.StatusCode) != resp.StatusCode ||
				resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Location") != "" {
				t.Fatalf("%d %v: %s; want %d %s", resp.StatusCode, resp.Header, truncate(body), tc.status, tc.code)
			}
		})
	}

	// A clean request on the same server works, so the refusals above are not a broken server.
	resp, body := rawRequest(t, addr, "GET /bot_users HTTP/1.1\r\n"+auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("clean request: %d %s", resp.StatusCode, truncate(body))
	}
}

// rawRequest writes request (its request line and headers), a Host header and a blank line
// on a new connection to addr, and reads one response.
func rawRequest(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, request+"Host: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "... (" + strconv.Itoa(len(b)) + " bytes)"
	}
	return string(b)
}

// FuzzIsCleanPath: isCleanPath accepts exactly the absolute paths without empty, "." or ".."
// segments (a trailing slash allowed), the ones net/http's ServeMux serves without a redirect.
func FuzzIsCleanPath(f *testing.F) {
	for _, seed := range []string{"/", "/bot_users", "/bot_users/", "//", "/./x", "/x/..", "/x/.", "/x//y", "", "*", "x", "/..", "/.x", "/x..", "/%2e%2e"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		want := strings.HasPrefix(p, "/") && !strings.Contains(p, "//") && !strings.Contains(p, "/./") &&
			!strings.Contains(p, "/../") && !strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
		if got := isCleanPath(p); got != want {
			t.Fatalf("isCleanPath(%q) = %v, want %v", p, got, want)
		}
	})
}
