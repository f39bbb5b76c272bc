package oidctest

import (
	"net/http"
	"net/url"
	"os"
	"testing"

	"golang.org/x/oauth2"

	"github.com/iamkit/iamkit/internal/browsertest"
)

// browsers is the Chromium the browser tests of this binary share.
var browsers browsertest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	browsers.Close()
	os.Exit(code)
}

// TestBrowserSignIn drives the login page with a real browser through the ids the package
// documents: a wrong password first, then the right one, which lands on the app's callback.
func TestBrowserSignIn(t *testing.T) {
	b := browsers.New(t)
	p, a, cfg, _ := setup(t)
	state := "state-" + randomID()
	b.Navigate(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	b.WaitURL(browsertest.HasPrefix(p.LoginURL()))

	b.Fill("#username", ada.Username)
	b.Fill("#password", "wrong")
	if got := b.ClickAndWait("#submit"); got != http.StatusUnauthorized {
		t.Errorf("a wrong password answered %d, want 401", got)
	}
	b.WaitVisible("#error")

	b.Fill("#username", ada.Username)
	b.Fill("#password", ada.Password)
	b.ClickAndWait("#submit")
	got, err := url.Parse(b.WaitURL(browsertest.HasPrefix(a.redirectURI())))
	if err != nil {
		t.Fatal(err)
	}
	if got.Query().Get("state") != state || got.Query().Get("code") == "" {
		t.Errorf("the browser ended at %s, want the callback with a code and state %q", got, state)
	}
	if q := a.wait(t, t.Context()); q.Get("code") != got.Query().Get("code") {
		t.Errorf("the app got code %q, the browser's URL has %q", q.Get("code"), got.Query().Get("code"))
	}
}
