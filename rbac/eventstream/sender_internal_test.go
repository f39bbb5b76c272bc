package eventstream

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://siem.example.com/hooks/iamkit?token=x", false, true},
		{"https://203.0.113.9:8443/h", false, true},
		{"http://siem.example.com/h", false, false},
		{"ftp://siem.example.com/h", false, false},
		{"https://user:pw@siem.example.com/h", false, false},
		{"https://siem.example.com/h#frag", false, false},
		{"https://siem.example.com/h#", false, false},
		{"https:///h", false, false},
		{"siem.example.com/h", false, false},
		{"https:opaque", false, false},
		{"https://127.0.0.1/h", false, false},
		{"https://localhost/h", false, false},
		{"https://[::1]/h", false, false},
		{"https://[::ffff:127.0.0.1]/h", false, false},
		{"https://127.0.0.1/h", true, true},
		{"http://127.0.0.1:8080/h", true, true},
		{"http://localhost/h", true, true},
		{"http://siem.example.com/h", true, false},
		{"https://siem.example.com/" + strings.Repeat("a", store.MaxWebhookURLLen), false, false},
	} {
		err := checkURL(c.url, c.loopback)
		if (err == nil) != c.ok {
			t.Errorf("checkURL(%.60q, loopback %v) = %v, want ok %v", c.url, c.loopback, err, c.ok)
		}
		if err != nil && (!errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != CodeURLRefused) {
			t.Errorf("checkURL(%.60q): %v, want ErrInvalid with code %s", c.url, err, CodeURLRefused)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		loopback bool
		ok       bool
	}{
		{"203.0.113.9", false, true},
		{"2001:db8::1", false, true},
		{"127.0.0.1", false, false},
		{"127.0.0.1", true, true},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, false},
		{"::ffff:10.0.0.1", false, false},
		{"10.1.2.3", true, false},
		{"172.16.0.1", false, false},
		{"192.168.1.1", false, false},
		{"100.64.0.1", false, false},
		{"169.254.169.254", true, false},
		{"fe80::1", false, false},
		{"fc00::1", false, false},
		{"0.0.0.0", true, false},
		{"::", false, false},
		{"224.0.0.1", false, false},
		{"255.255.255.255", false, false},
	} {
		if got := publicAddr(netip.MustParseAddr(c.addr), c.loopback); got != c.ok {
			t.Errorf("publicAddr(%s, loopback %v) = %v, want %v", c.addr, c.loopback, got, c.ok)
		}
	}
}

func testSender(t *testing.T, loopback bool, roots *x509.CertPool) *sender {
	t.Helper()
	opts := []Option{WithTimeout(300 * time.Millisecond), WithRootCAs(roots)}
	if loopback {
		opts = append(opts, WithLoopback())
	}
	c, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(c)
	t.Cleanup(s.close)
	return s
}

// TestSenderRules: a receiver on loopback is not dialled without WithLoopback, whatever the
// URL says; a redirect is not followed; a large response is read only in part; a slow
// receiver times out; failures name no URL.
func TestSenderRules(t *testing.T) {
	var hits, slow atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		slow.Add(1)
		time.Sleep(time.Second)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	ev := store.Event{ID: "ev_1", AccountID: "ac_1", Type: "bot_user_created.v0", Object: json.RawMessage(`{}`), CreatedAt: time.Now()}
	dest := func(path string) store.EventDestination {
		return store.EventDestination{ID: "ed_1", AccountID: "ac_1", Format: "json", URL: srv.URL + path + "?token=s3cr3t", Secret: "whsec_x"}
	}

	if f := testSender(t, false, roots).send(t.Context(), dest("/ok"), ev); f == nil || hits.Load() != 0 {
		t.Fatalf("without WithLoopback a loopback receiver was reached (failure %v, hits %d)", f, hits.Load())
	}
	// Even past the URL check (a public name resolving to loopback), the dialer refuses.
	strict := testSender(t, false, roots)
	strict.loop = true
	if f := strict.send(t.Context(), dest("/ok"), ev); f == nil || hits.Load() != 0 || !strings.Contains(f.reason, "not allowed") {
		t.Fatalf("the dialer reached a loopback address (failure %v, hits %d)", f, hits.Load())
	}
	s := testSender(t, true, roots)
	if f := s.send(t.Context(), dest("/ok"), ev); f != nil || hits.Load() != 1 {
		t.Fatalf("delivery to an allowed receiver: %v, hits %d", f, hits.Load())
	}
	f := s.send(t.Context(), dest("/redirect"), ev)
	if f == nil || f.status != http.StatusTemporaryRedirect || hits.Load() != 1 {
		t.Fatalf("redirect: %+v, hits %d; want a failed try with status 307 and no hit", f, hits.Load())
	}
	if f := s.send(t.Context(), dest("/big"), ev); f != nil {
		t.Fatalf("a 200 with a large body: %v", f)
	}
	f = s.send(t.Context(), dest("/slow"), ev)
	if f == nil || f.status != 0 || slow.Load() != 1 {
		t.Fatalf("slow receiver: %+v, want a failed try without status", f)
	}
	for _, g := range []*failure{f, strict.send(t.Context(), dest("/ok"), ev)} {
		if strings.Contains(g.reason, "s3cr3t") || strings.Contains(g.reason, srv.URL) {
			t.Errorf("failure %q names the URL", g.reason)
		}
	}
}

func TestSigningSecretRedacts(t *testing.T) {
	v := "whsec_topsecret"
	s := SigningSecret{&v}
	if s.Reveal() != v {
		t.Fatal("Reveal lost the secret")
	}
	js, _ := json.Marshal(struct{ S SigningSecret }{s})
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s), string(js), logged.String(),
		fmt.Sprintf("%+v", struct{ s SigningSecret }{s})} {
		if strings.Contains(out, "topsecret") {
			t.Errorf("the secret shows in %q", out)
		}
	}
}

// FuzzCheckURL: whatever checkURL accepts without WithLoopback parses as an https URL with a
// host that is not loopback, and no user or fragment.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://siem.example.com/h?x=1", "http://127.0.0.1/", "https://[::1]:80", "https://a@b/", "https://x/#", "https:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if checkURL(raw, false) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || isLoopbackHost(u.Hostname()) {
			t.Fatalf("accepted %q (%+v, %v)", raw, u, err)
		}
	})
}
