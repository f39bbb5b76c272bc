package main

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
)

// hookReceiver accepts deliveries whose signature verifies, unless told to refuse them.
type hookReceiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	secret  string
	refuse  bool
	events  []string // event types accepted
	badSigs int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := eventstream.Verify(h.secret, r.Header.Get(eventstream.HeaderSignature), body, time.Now(), 0); err != nil {
			h.badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if h.refuse {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var env eventstream.Envelope
		_ = json.Unmarshal(body, &env)
		h.events = append(h.events, env.EventType)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) set(secret string, refuse bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret, h.refuse = secret, refuse
}

func (h *hookReceiver) accepted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.events...)
}

type destinationOutT struct {
	ID            string `json:"id"`
	URI           string `json:"uri"`
	CreatedAt     string `json:"created_at"`
	Description   string `json:"description"`
	Metadata      string `json:"metadata"`
	Format        string `json:"format"`
	SigningSecret string `json:"signing_secret"`
	Target        struct {
		Webhook struct {
			URL string `json:"url"`
		} `json:"webhook"`
	} `json:"target"`
}

type subscriptionOutT struct {
	ID          string `json:"id"`
	URI         string `json:"uri"`
	CreatedAt   string `json:"created_at"`
	Description string `json:"description"`
	Metadata    string `json:"metadata"`
	Sources     []struct {
		Type string `json:"type"`
		URI  string `json:"uri"`
	} `json:"sources"`
	Destinations []struct {
		ID  string `json:"id"`
		URI string `json:"uri"`
	} `json:"destinations"`
}

// TestEventStreamsAPI: /event_destinations and /event_subscriptions in ngrok's shapes, for
// administrators only; the signing secret in the create response alone; deliveries signed;
// a refused delivery in the destination's dead letters, replayed through the API.
func TestEventStreamsAPI(t *testing.T) {
	hook := newHookReceiver(t)
	roots := x509.NewCertPool()
	roots.AddCert(hook.srv.Certificate())
	e := newEnv(t, withIAMOptions(iamkit.WithAuditStreaming(eventstream.WithLoopback(), eventstream.WithRootCAs(roots),
		eventstream.WithRetry(2, time.Millisecond, 5*time.Millisecond))))
	base := e.srv.URL

	var dest destinationOutT
	e.req("POST", "/event_destinations", map[string]any{
		"description": "SIEM", "metadata": `{"team":"sec"}`, "target": map[string]any{"webhook": map[string]any{"url": hook.srv.URL + "/in"}},
	}).want(http.StatusCreated, &dest)
	if dest.URI != base+"/event_destinations/"+dest.ID || dest.Format != "json" || dest.Target.Webhook.URL != hook.srv.URL+"/in" ||
		!strings.HasPrefix(dest.SigningSecret, "whsec_") || dest.Description != "SIEM" {
		t.Fatalf("created destination %+v", dest)
	}
	hook.set(dest.SigningSecret, true)
	var got destinationOutT
	raw := e.req("GET", "/event_destinations/"+dest.ID, nil).want(http.StatusOK, &got).raw()
	if _, has := raw["signing_secret"]; has || got.Target.Webhook.URL != dest.Target.Webhook.URL {
		t.Fatalf("GET shows %v: the secret is shown once, at creation", raw)
	}
	var listed struct {
		Destinations []destinationOutT `json:"event_destinations"`
		URI          string            `json:"uri"`
		NextPageURI  *string           `json:"next_page_uri"`
	}
	e.req("GET", "/event_destinations", nil).want(http.StatusOK, &listed)
	if len(listed.Destinations) != 1 || listed.Destinations[0].SigningSecret != "" {
		t.Fatalf("listed %+v", listed)
	}

	e.req("POST", "/event_destinations", map[string]any{"target": map[string]any{"webhook": map[string]any{"url": "http://siem.example.com/h"}}}).
		wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "target.webhook.url")
	e.req("POST", "/event_destinations", map[string]any{"description": "no target"}).
		wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "target.webhook.url")

	var sub subscriptionOutT
	e.req("POST", "/event_subscriptions", map[string]any{
		"sources": []map[string]any{{"type": "bot_user_created.v0"}}, "destination_ids": []string{dest.ID},
	}).want(http.StatusCreated, &sub)
	if sub.URI != base+"/event_subscriptions/"+sub.ID || len(sub.Sources) != 1 || sub.Sources[0].Type != "bot_user_created.v0" ||
		sub.Sources[0].URI != sub.URI+"/sources/bot_user_created.v0" || len(sub.Destinations) != 1 || sub.Destinations[0].URI != dest.URI {
		t.Fatalf("created subscription %+v", sub)
	}
	e.req("PATCH", "/event_subscriptions/"+sub.ID, map[string]any{"sources": []map[string]any{{"type": "bot_user_created.v0"}, {"type": "bot_user_deleted.v0"}}}).
		want(http.StatusOK, &sub)
	if len(sub.Sources) != 2 {
		t.Fatalf("updated subscription %+v", sub)
	}

	// The sources as a resource of their own (ngrok's EventSources).
	var src struct {
		Type string `json:"type"`
		URI  string `json:"uri"`
	}
	e.req("POST", "/event_subscriptions/"+sub.ID+"/sources", map[string]any{"type": "role_created.v0"}).want(http.StatusCreated, &src)
	if src.Type != "role_created.v0" || src.URI != sub.URI+"/sources/role_created.v0" {
		t.Fatalf("source created: %+v", src)
	}
	e.req("GET", src.URI[len(base):], nil).want(http.StatusOK, &src)
	e.req("POST", "/event_subscriptions/"+sub.ID+"/sources", map[string]any{"type": "role_created.v0"}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "type")
	e.req("POST", "/event_subscriptions/"+sub.ID+"/sources", map[string]any{"type": "nope.v0"}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_238", "type")
	var sources struct {
		Sources []struct {
			Type string `json:"type"`
			URI  string `json:"uri"`
		} `json:"sources"`
		URI string `json:"uri"`
	}
	e.req("GET", "/event_subscriptions/"+sub.ID+"/sources", nil).want(http.StatusOK, &sources)
	if len(sources.Sources) != 3 {
		t.Fatalf("sources: %+v", sources)
	}
	e.req("DELETE", "/event_subscriptions/"+sub.ID+"/sources/role_created.v0", nil).want(http.StatusNoContent, nil)
	e.req("GET", "/event_subscriptions/"+sub.ID+"/sources/role_created.v0", nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("DELETE", "/event_subscriptions/"+sub.ID+"/sources/role_created.v0", nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")

	// A refused delivery becomes a dead letter; a replay once the receiver accepts delivers it.
	e.createBot("streamed")
	var letters struct {
		DeadLetters []struct {
			ID          string `json:"id"`
			EventID     string `json:"event_id"`
			Attempts    int    `json:"attempts"`
			LastStatus  int    `json:"last_status"`
			LastError   string `json:"last_error"`
			CreatedAt   string `json:"created_at"`
			URI         string `json:"uri"`
			Destination struct {
				ID  string `json:"id"`
				URI string `json:"uri"`
			} `json:"destination"`
		} `json:"dead_letters"`
		URI         string  `json:"uri"`
		NextPageURI *string `json:"next_page_uri"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(letters.DeadLetters) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter after the receiver refused every try")
		}
		time.Sleep(10 * time.Millisecond)
		e.req("GET", "/event_destinations/"+dest.ID+"/dead_letters", nil).want(http.StatusOK, &letters)
	}
	l := letters.DeadLetters[0]
	if l.Attempts != 2 || l.LastStatus != http.StatusServiceUnavailable || l.Destination.ID != dest.ID {
		t.Fatalf("dead letter %+v", l)
	}
	e.req("POST", "/dead_letters/"+l.ID+"/replay", nil).wantError(http.StatusServiceUnavailable, "ERR_NGROK_90503")
	hook.set(dest.SigningSecret, false)
	e.req("POST", "/dead_letters/"+l.ID+"/replay", nil).want(http.StatusNoContent, nil)
	if acc := hook.accepted(); len(acc) != 1 || acc[0] != "bot_user_created.v0" {
		t.Fatalf("the receiver accepted %v, want the replayed bot_user_created.v0", acc)
	}
	e.req("GET", "/event_destinations/"+dest.ID+"/dead_letters", nil).want(http.StatusOK, &letters)
	if len(letters.DeadLetters) != 0 {
		t.Fatalf("dead letters after the replay: %+v", letters)
	}
	// And new events flow.
	e.createBot("streamed-too")
	deadline = time.Now().Add(10 * time.Second)
	for len(hook.accepted()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the next event never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Administrators only.
	devKey := *e.createAPIKey(e.addMember("dev@example.com", rbac.RoleDeveloper)).Token
	for _, c := range []struct{ method, path string }{
		{"GET", "/event_destinations"}, {"GET", "/event_subscriptions"}, {"GET", "/event_destinations/" + dest.ID + "/dead_letters"},
	} {
		e.reqAs(devKey, c.method, c.path, nil).wantError(http.StatusForbidden, "ERR_NGROK_1220")
	}

	e.req("DELETE", "/event_destinations/"+dest.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/event_subscriptions/"+sub.ID, nil).want(http.StatusOK, &sub)
	if len(sub.Destinations) != 0 {
		t.Fatalf("a deleted destination is still in %+v", sub)
	}
	e.req("DELETE", "/event_subscriptions/"+sub.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/event_subscriptions/"+sub.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.badSigs != 0 {
		t.Errorf("%d deliveries failed verification", hook.badSigs)
	}
}
