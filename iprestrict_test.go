package iamkit_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

func ptr[T any](v T) *T { return &v }

// ipPolicy creates an IP policy with rules ("allow 10.0.0.0/8", ...) and returns it and the
// rules' IDs by CIDR.
func (w *world) ipPolicy(rules ...[2]string) (store.IPPolicy, map[string]string) {
	w.t.Helper()
	svc := w.iam.IPRestrictions()
	pol, err := svc.CreatePolicy(w.ctx, w.boot.Admin, iprestrict.PolicyParams{Description: ptr("test")})
	if err != nil {
		w.t.Fatal(err)
	}
	ids := map[string]string{}
	for _, r := range rules {
		rule, err := svc.CreateRule(w.ctx, w.boot.Admin, iprestrict.RuleParams{PolicyID: pol.ID, Action: ptr(r[0]), CIDR: ptr(r[1])})
		if err != nil {
			w.t.Fatal(err)
		}
		ids[r[1]] = rule.ID
	}
	return pol, ids
}

func (w *world) ipRestriction(typ string, enforced bool, policies ...string) store.IPRestriction {
	w.t.Helper()
	x, err := w.iam.IPRestrictions().CreateRestriction(w.ctx, w.boot.Admin,
		iprestrict.RestrictionParams{Type: typ, PolicyIDs: &policies, Enforced: &enforced})
	if err != nil {
		w.t.Fatal(err)
	}
	w.sync()
	return x
}

func (w *world) sync() {
	w.t.Helper()
	if err := w.iam.Sync(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

func wantIPRestricted(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrDenied) || store.CodeOf(err) != iprestrict.CodeIPRestricted {
		t.Errorf("%s: %v, want ErrDenied with code %s", what, err, iprestrict.CodeIPRestricted)
	}
}

// TestIPRestrictions_API: an enforced restriction of type api refuses, with its code, every
// address its policies do not allow, IPv4 and IPv6 (the longest matching rule decides), and
// from a warm cache reads nothing from the store; removing a rule takes effect through the
// change feed.
func TestIPRestrictions_API(t *testing.T) {
	w := newWorld(t)
	key := w.boot.APIKey.Token.Reveal()
	auth := func(addr string) error {
		var a netip.Addr
		if addr != "" {
			a = netip.MustParseAddr(addr)
		}
		_, err := w.iam.AuthenticateFrom(w.ctx, key, a)
		return err
	}
	if err := auth("198.51.100.1"); err != nil {
		t.Fatalf("before any restriction: %v", err)
	}
	pol, rules := w.ipPolicy([2]string{store.IPAllow, "192.0.2.0/24"}, [2]string{store.IPDeny, "192.0.2.128/25"},
		[2]string{store.IPAllow, "2001:db8::/32"}, [2]string{store.IPDeny, "2001:db8:bad::/48"})
	w.ipRestriction(store.RestrictAPI, true, pol.ID)

	for _, c := range []struct {
		addr  string
		allow bool
	}{
		{"192.0.2.7", true},
		{"::ffff:192.0.2.7", true},
		{"192.0.2.200", false}, // the longer deny rule wins
		{"198.51.100.1", false},
		{"2001:db8::1", true},
		{"2001:db8:bad::1", false},
		{"2001:db9::1", false},
		{"", false}, // an unknown address
	} {
		err := auth(c.addr)
		if c.allow && err != nil {
			t.Errorf("%q: %v, want allowed", c.addr, err)
		}
		if !c.allow {
			wantIPRestricted(t, c.addr, err)
		}
	}

	before := w.backend.calls.Load()
	for range 100 {
		if err := auth("192.0.2.7"); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.backend.calls.Load() - before; n != 0 {
		t.Errorf("100 warm checks made %d store calls, want 0", n)
	}

	// Through the HTTP layer: 403 with the code. httptest's requests come from 192.0.2.1.
	h := w.iam.BearerAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for addr, want := range map[string]int{"192.0.2.1:1234": http.StatusOK, "198.51.100.1:1234": http.StatusForbidden} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		r.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body struct{ Error struct{ Code string } }
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != want || (want != http.StatusOK && body.Error.Code != iprestrict.CodeIPRestricted) {
			t.Errorf("BearerAuth from %s: %d %s, want %d", addr, rec.Code, rec.Body, want)
		}
	}

	if err := w.iam.IPRestrictions().DeleteRule(w.ctx, w.boot.Admin, rules["192.0.2.0/24"]); err != nil {
		t.Fatal(err)
	}
	w.sync()
	wantIPRestricted(t, "after its allow rule was deleted", auth("192.0.2.7"))
}

// TestIPRestrictions_ByType: a restriction of type api does not affect agents, one of type
// agent does not affect the API, and an agent refused by one is refused by VerifyAgent
// (ReasonIPRestricted).
func TestIPRestrictions_ByType(t *testing.T) {
	w := newWorld(t)
	key := w.boot.APIKey.Token.Reveal()
	at, err := w.iam.Credentials().Create(w.ctx, w.boot.Admin, credential.CreateRequest{Kind: store.Authtoken})
	if err != nil {
		t.Fatal(err)
	}
	office := netip.MustParseAddr("192.0.2.7")
	home := netip.MustParseAddr("2001:db8:1::7")
	apiPol, _ := w.ipPolicy([2]string{store.IPAllow, "192.0.2.0/24"})
	w.ipRestriction(store.RestrictAPI, true, apiPol.ID)

	if _, err := w.iam.Verifier().VerifyAgent(w.ctx, at.Token.Reveal(), home); err != nil {
		t.Errorf("agent under an api restriction: %v", err)
	}
	if _, err := w.iam.AuthenticateFrom(w.ctx, key, home); err == nil {
		t.Error("API from outside the api restriction: allowed")
	}

	agentPol, _ := w.ipPolicy([2]string{store.IPAllow, "2001:db8:1::/48"})
	w.ipRestriction(store.RestrictAgent, true, agentPol.ID)
	if _, err := w.iam.AuthenticateFrom(w.ctx, key, office); err != nil {
		t.Errorf("API under an agent restriction: %v", err)
	}
	if _, err := w.iam.Verifier().VerifyAgent(w.ctx, at.Token.Reveal(), home); err != nil {
		t.Errorf("agent inside the agent restriction: %v", err)
	}
	_, err = w.iam.Verifier().VerifyAgent(w.ctx, at.Token.Reveal(), office)
	if !errors.Is(err, credential.ReasonIPRestricted) || store.CodeOf(err) != credential.CodeIPRestricted {
		t.Errorf("agent outside the agent restriction: %v, want %v", err, credential.ReasonIPRestricted)
	}
}

// TestIPRestrictions_WarnOnly: a restriction that is not enforced lets the request in and
// records the would-be refusal once (per minute) as an event naming who and from where;
// enforcing it refuses.
func TestIPRestrictions_WarnOnly(t *testing.T) {
	w := newWorld(t)
	key := w.boot.APIKey.Token.Reveal()
	pol, _ := w.ipPolicy([2]string{store.IPAllow, "10.0.0.0/8"})
	x := w.ipRestriction(store.RestrictAPI, false, pol.ID)
	outside := netip.MustParseAddr("2001:db8::9")
	for range 3 {
		if _, err := w.iam.AuthenticateFrom(w.ctx, key, outside); err != nil {
			t.Fatalf("warn-only: %v", err)
		}
	}
	if _, err := w.iam.AuthenticateFrom(w.ctx, key, netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Fatal(err)
	}
	warned := w.events(identity.EventIPRestrictionWarned)
	if len(warned) != 1 {
		t.Fatalf("%d warnings recorded, want 1", len(warned))
	}
	ev := warned[0]
	var obj iprestrict.WarningObject
	if err := json.Unmarshal(ev.Object, &obj); err != nil {
		t.Fatal(err)
	}
	if want := (iprestrict.WarningObject{ID: x.ID, Type: "api", ClientIP: "2001:db8::9"}); obj != want {
		t.Errorf("warning object %+v, want %+v", obj, want)
	}
	if ev.Principal.ID != w.boot.Admin.ID || ev.Principal.CredentialID != w.boot.APIKey.ID {
		t.Errorf("warning principal %+v, want the admin with the API key", ev.Principal)
	}

	if _, err := w.iam.IPRestrictions().UpdateRestriction(w.ctx, w.boot.Admin, x.ID, iprestrict.RestrictionParams{Enforced: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	w.sync()
	_, err := w.iam.AuthenticateFrom(w.ctx, key, outside)
	wantIPRestricted(t, "enforced", err)
}

// events returns the account's events of one type, newest first.
func (w *world) events(typ store.EventType) []store.Event {
	w.t.Helper()
	page, err := w.iam.Authorizer().Events(w.ctx, w.boot.Admin, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []store.Event
	for _, ev := range page.Events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestIPRestrictions_AdminsOnly: only administrators change IP policies and restrictions;
// members who see the account read them.
func TestIPRestrictions_AdminsOnly(t *testing.T) {
	w := newWorld(t)
	bot, err := w.iam.BotUsers().Create(w.ctx, w.boot.Admin, botuser.CreateParams{Name: "ci", Roles: []string{rbac.RoleDeveloper}})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := w.iam.Directory().Principal(w.ctx, w.boot.Account.ID, bot.ID, identity.SourceAPI, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := w.iam.IPRestrictions()
	if _, err := svc.CreatePolicy(w.ctx, dev, iprestrict.PolicyParams{}); !errors.Is(err, store.ErrDenied) {
		t.Errorf("a developer created an IP policy: %v", err)
	}
	pol, _ := w.ipPolicy([2]string{store.IPAllow, "10.0.0.0/8"})
	if _, err := svc.Policy(w.ctx, dev, pol.ID); err != nil {
		t.Errorf("a developer reading an IP policy: %v", err)
	}
	if err := svc.DeletePolicy(w.ctx, dev, pol.ID); !errors.Is(err, store.ErrDenied) {
		t.Errorf("a developer deleted an IP policy: %v", err)
	}
}

// TestIPRestrictions_Dashboard: an enforced restriction of type dashboard refuses dashboard
// sessions (SessionAuth) from outside its policies, with its code, and leaves the API alone.
func TestIPRestrictions_Dashboard(t *testing.T) {
	w := newDashboardWorld(t)
	acct := w.boot.Account.ID
	token := w.signIn(t, acct, "admin@acme.test")
	h := w.iam.SessionAuth(func(*http.Request) string { return acct })(http.HandlerFunc(whoami))
	call := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(w.ctx, http.MethodGet, "https://dash.acme.test/x", nil)
		req.RemoteAddr = remote
		req.AddCookie(&http.Cookie{Name: sso.DefaultSessionCookie, Value: token})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := call("192.0.2.1:1234"); rec.Code != http.StatusOK {
		t.Fatalf("before any restriction: %d %s", rec.Code, rec.Body)
	}
	pol, _ := w.ipPolicy([2]string{store.IPAllow, "198.51.100.0/24"}, [2]string{store.IPAllow, "2001:db8::/32"})
	w.ipRestriction(store.RestrictDashboard, true, pol.ID)
	for remote, want := range map[string]int{
		"192.0.2.1:1234": http.StatusForbidden, "198.51.100.7:1234": http.StatusOK,
		"[2001:db8::7]:1234": http.StatusOK, "[2001:db9::7]:1234": http.StatusForbidden,
	} {
		rec := call(remote)
		var body struct{ Error struct{ Code string } }
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != want || (want == http.StatusForbidden && body.Error.Code != iprestrict.CodeIPRestricted) {
			t.Errorf("dashboard from %s: %d %s, want %d", remote, rec.Code, rec.Body, want)
		}
	}
	if _, err := w.iam.AuthenticateFrom(w.ctx, w.boot.APIKey.Token.Reveal(), netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("the API under a dashboard restriction: %v", err)
	}
}
