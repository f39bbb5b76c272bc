package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
)

// TestRunTunnelEdge starts the server with -tunnel-addr on the memory store: an authtoken
// created through the API opens a session on the edge for a target its ACL allows, not for
// another, and deleting the authtoken through the API cuts the session.
func TestRunTunnelEdge(t *testing.T) {
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-tunnel-addr", "127.0.0.1:0"}, out) }()
	base := waitForListening(t, out, done)
	edge := between(out.String(), "tunnel edge listening on ", "\n")
	key := between(out.String(), "shown this once:\n\n    ", "\n")
	if edge == "" || key == "" {
		t.Fatalf("banner:\n%s", out)
	}

	call := func(method, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Ngrok-Version", "2")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := call("POST", "/credentials", `{"acl":["bind:app.example.com"]}`)
	var cred struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cred); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create authtoken: %d %v", resp.StatusCode, err)
	}

	dialCtx, cancelDial := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelDial()
	var refused *tunnel.Error
	if _, err := tunnel.Dial(dialCtx, edge, tunnel.Request{Authtoken: cred.Token, Bind: "other.example.com"}); !errors.As(err, &refused) || refused.Code != "ERR_NGROK_316" {
		t.Fatalf("bind outside the ACL: %v", err)
	}
	sess, err := tunnel.Dial(dialCtx, edge, tunnel.Request{Authtoken: cred.Token, Bind: "app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if sess.Response.CredentialID != cred.ID {
		t.Fatalf("session for %+v, want credential %s", sess.Response, cred.ID)
	}

	if resp := call("DELETE", "/credentials/"+cred.ID, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete authtoken: %d", resp.StatusCode)
	}
	// The edge closes the session with a refusal: ERR_NGROK_300 (revoked) when its Verifier
	// still held the credential as the deletion reached it through the feed, ERR_NGROK_107
	// (unknown) when it had let the entry go and asked the store, which no longer has it, as a
	// loaded machine makes it do. 10 s is a hang, not a timing bound.
	closed := make(chan error, 1)
	go func() { closed <- sess.Wait() }()
	select {
	case err := <-closed:
		if !errors.As(err, &refused) || (refused.Code != "ERR_NGROK_300" && refused.Code != "ERR_NGROK_107") {
			t.Fatalf("session closed with %v, want ERR_NGROK_300 or ERR_NGROK_107", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session survived the deletion of its authtoken")
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunTunnelEdge_IPRestriction: an enforced restriction of type agent, made through the
// API, refuses agents connecting to the edge from outside its policy (ERR_IAMKIT_IP_NOT_ALLOWED)
// while the API, from the same address, goes on; a rule letting loopback in lets them in.
func TestRunTunnelEdge_IPRestriction(t *testing.T) {
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-tunnel-addr", "127.0.0.1:0"}, out) }()
	base := waitForListening(t, out, done)
	edge := between(out.String(), "tunnel edge listening on ", "\n")
	key := between(out.String(), "shown this once:\n\n    ", "\n")
	if edge == "" || key == "" {
		t.Fatalf("banner:\n%s", out)
	}
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Ngrok-Version", "2")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, m, want)
		}
		return m
	}
	cred := call("POST", "/credentials", `{}`, http.StatusCreated)
	pol := call("POST", "/ip_policies", `{"description":"elsewhere"}`, http.StatusCreated)["id"].(string)
	call("POST", "/ip_policy_rules", `{"ip_policy_id":"`+pol+`","cidr":"192.0.2.0/24"}`, http.StatusCreated)
	call("POST", "/ip_restrictions", `{"type":"agent","enforced":true,"ip_policy_ids":["`+pol+`"]}`, http.StatusCreated)

	dialCtx, cancelDial := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelDial()
	token, _ := cred["token"].(string)
	var refused *tunnel.Error
	if _, err := tunnel.Dial(dialCtx, edge, tunnel.Request{Authtoken: token, Bind: "app.example.com"}); !errors.As(err, &refused) || refused.Code != tunnel.CodeIPNotAllowed {
		t.Fatalf("an agent from outside the agent restriction: %v, want %s", err, tunnel.CodeIPNotAllowed)
	}
	call("GET", "/ip_restrictions", "", http.StatusOK) // the API is not restricted by it

	call("POST", "/ip_policy_rules", `{"ip_policy_id":"`+pol+`","cidr":"127.0.0.0/8"}`, http.StatusCreated)
	sess, err := tunnel.Dial(dialCtx, edge, tunnel.Request{Authtoken: token, Bind: "app.example.com"})
	if err != nil {
		t.Fatalf("an agent from loopback, now allowed: %v", err)
	}
	sess.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
