package sso_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// asAccount switches the environment to another account and its administrator, for tests
// of what one account may do to another's users.
func (e *env) asAccount(acct store.Account, admin identity.Principal) {
	e.acct, e.admin = acct, admin
}

// TestIdPCannotTrustAnotherAccountsDomain is the regression test of the hole issue 15
// names: an administrator of account B configured an IdP of B as trusted for example.com,
// a domain B does not control, and just-in-time provisioning brought the existing global
// user alice@example.com (a member of account A) into B through it. An IdP may now be
// trusted only for domains its account has verified, on create and update, and a login
// checks it again, so an IdP record written before the rule links nobody.
func TestIdPCannotTrustAnotherAccountsDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	alice := e.member("alice@example.com")

	mallory := e.user("mallory@evil.test")
	acctB, err := e.dir.CreateAccount(e.ctx, mallory.ID, "evil", identity.Enterprise().Name)
	if err != nil {
		t.Fatal(err)
	}
	e.asAccount(acctB, identity.Principal{})
	e.admin = e.principal(mallory.ID)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)

	idp := e.newIdP(sso.IdPParams{Domains: []string{"evil.test"}}) // a domain B controls
	_, err = e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{MetadataXML: readMetadata(t, "metadata-okta.xml"), Domains: []string{"example.com"}})
	if store.CodeOf(err) != sso.CodeDomainNotVerified || invalidField(err) != "domains" {
		t.Fatalf("account B's administrator created an IdP trusted for example.com, which B has not verified: %v", err)
	}
	ds := []string{"evil.test", "example.com"}
	if _, err := e.svc.UpdateIdentityProvider(e.ctx, e.admin, idp.rec.ID, sso.IdPUpdate{Domains: &ds}); store.CodeOf(err) != sso.CodeDomainNotVerified {
		t.Fatalf("account B's administrator made its IdP trusted for example.com, which B has not verified: %v", err)
	}

	// Account A verified example.com: B can neither claim it nor, with a record at hand,
	// verify it.
	if _, err := e.svc.ClaimDomain(e.ctx, e.admin, "Example.COM"); store.CodeOf(err) != sso.CodeDomainTaken || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("B claimed A's verified domain: %v", err)
	}

	// An IdP record trusted for example.com all the same (written before the rule existed).
	legacy := idp.rec
	legacy.Domains = []string{"evil.test", "example.com"}
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, legacy) }); err != nil {
		t.Fatal(err)
	}
	idp.asSession("alice@example.com", "", "Alice")
	l, err := e.loginCurrent(idp)
	if store.CodeOf(err) != string(sso.ReasonUntrustedDomain) || l != nil {
		t.Fatalf("alice's login through B's IdP: %+v, %v; want %s", l, err, sso.ReasonUntrustedDomain)
	}
	err = e.st.View(e.ctx, func(r store.Reader) error {
		_, err := r.Membership(e.ctx, acctB.ID, alice.ID)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("alice became a member of account B: %v", err)
	}
}

// fakeResolver answers every lookup with err.
type fakeResolver struct{ err error }

func (f fakeResolver) LookupTXT(context.Context, string) ([]string, error) { return nil, f.err }

// TestDomainVerification: a claimed domain is verified by its TXT record at _iamkit.<domain>
// or at the domain itself, with the token of the claim; a missing or wrong record, or a
// failed lookup, leaves it unverified with a code saying which.
func TestDomainVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	n := len(e.events())
	d, err := e.svc.ClaimDomain(e.ctx, e.admin, " Corp.Example.NET ")
	if err != nil || d.Name != "corp.example.net" || d.Verified() || len(d.Token) != 32 {
		t.Fatalf("ClaimDomain: %+v, %v", d, err)
	}
	rec := sso.DomainRecordOf(d)
	if rec.Name != "_iamkit.corp.example.net" || rec.Value != "iamkit-domain-verification="+d.Token {
		t.Fatalf("record %+v", rec)
	}
	verify := func() (store.Domain, error) { return e.svc.VerifyDomain(e.ctx, e.admin, d.ID) }
	if _, err := verify(); store.CodeOf(err) != sso.CodeDomainUnproven {
		t.Fatalf("no record: %v, want %s", err, sso.CodeDomainUnproven)
	}
	other, err := e.svc.ClaimDomain(e.ctx, e.admin, "other.example.net")
	if err != nil {
		t.Fatal(err)
	}
	// Another claim's token, and a look-alike prefix, prove nothing.
	if err := e.dns.SetTXT(rec.Name, sso.DomainRecordOf(other).Value, "iamkit-domain-verification "+d.Token, d.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(); store.CodeOf(err) != sso.CodeDomainUnproven {
		t.Fatalf("wrong records: %v, want %s", err, sso.CodeDomainUnproven)
	}
	// At the apex, beside other TXT records.
	if err := e.dns.SetTXT("corp.example.net", "v=spf1 -all", rec.Value); err != nil {
		t.Fatal(err)
	}
	got, err := verify()
	if err != nil || !got.Verified() || !got.VerifiedAt.Equal(e.clk.Now()) {
		t.Fatalf("VerifyDomain: %+v, %v", got, err)
	}
	// Verified stays verified without another lookup.
	if err := e.dns.SetTXT("corp.example.net"); err != nil {
		t.Fatal(err)
	}
	if again, err := verify(); err != nil || !again.Verified() {
		t.Fatalf("second VerifyDomain: %+v, %v", again, err)
	}
	evs := e.events()[n:]
	if len(evs) != 3 || evs[0].Type != identity.EventDomainCreated || evs[1].Type != identity.EventDomainCreated || evs[2].Type != identity.EventDomainVerified {
		t.Fatalf("events %v", typesOf(evs))
	}

	// A failed lookup is not a missing record.
	broken, err := sso.New(e.st, e.authz, e.sp.URL, sso.WithClock(e.clk), sso.WithResolver(fakeResolver{errors.New("connection refused")}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.VerifyDomain(e.ctx, e.admin, other.ID); store.CodeOf(err) != sso.CodeDNSUnavailable || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("failed lookup: %v, want %s", err, sso.CodeDNSUnavailable)
	}
	nx := &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}
	notFound, _ := sso.New(e.st, e.authz, e.sp.URL, sso.WithClock(e.clk), sso.WithResolver(fakeResolver{nx}))
	if _, err := notFound.VerifyDomain(e.ctx, e.admin, other.ID); store.CodeOf(err) != sso.CodeDomainUnproven {
		t.Fatalf("NXDOMAIN: %v, want %s", err, sso.CodeDomainUnproven)
	}

	for _, bad := range []string{"", "localhost", "*.example.com", "\u212Aexample.com", "example.com.", strings.Repeat("a", 250) + ".com"} {
		if _, err := e.svc.ClaimDomain(e.ctx, e.admin, bad); invalidField(err) != "domain" {
			t.Errorf("ClaimDomain(%q): %v, want an invalid domain", bad, err)
		}
	}
	if _, err := e.svc.ClaimDomain(e.ctx, e.admin, "corp.example.net"); store.CodeOf(err) != store.CodeAlreadyExists {
		t.Errorf("second claim: %v, want %s", err, store.CodeAlreadyExists)
	}
}

// TestDomainOneAccount: two accounts may claim one domain, but only the first to verify it
// holds it; it is free again once that account deletes it, which it cannot while an IdP is
// trusted for it.
func TestDomainOneAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	acctA, adminA := e.acct, e.admin
	mallory := e.user("mallory@evil.test")
	acctB, err := e.dir.CreateAccount(e.ctx, mallory.ID, "other", identity.Enterprise().Name)
	if err != nil {
		t.Fatal(err)
	}
	adminB := identity.Principal{}
	e.asAccount(acctB, adminB)
	e.admin = e.principal(mallory.ID)
	adminB = e.admin

	a, err := e.svc.ClaimDomain(e.ctx, adminA, "shared.example")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.svc.ClaimDomain(e.ctx, adminB, "shared.example")
	if err != nil {
		t.Fatalf("an unverified claim must not block another account: %v", err)
	}
	if err := e.dns.SetTXT("_iamkit.shared.example", sso.DomainRecordOf(a).Value, sso.DomainRecordOf(b).Value); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyDomain(e.ctx, adminA, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyDomain(e.ctx, adminB, b.ID); store.CodeOf(err) != sso.CodeDomainTaken {
		t.Fatalf("second verification: %v, want %s", err, sso.CodeDomainTaken)
	}
	if _, err := e.svc.Domain(e.ctx, adminB, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("B read A's domain: %v", err)
	}
	e.asAccount(acctA, adminA)
	idp := e.newIdP(sso.IdPParams{Domains: []string{"shared.example"}})
	if err := e.svc.DeleteDomain(e.ctx, adminA, a.ID); store.CodeOf(err) != sso.CodeDomainInUse {
		t.Fatalf("deleting a domain an IdP trusts: %v, want %s", err, sso.CodeDomainInUse)
	}
	if err := e.svc.DeleteIdentityProvider(e.ctx, adminA, idp.rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteDomain(e.ctx, adminA, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.VerifyDomain(e.ctx, adminB, b.ID); err != nil || !got.Verified() {
		t.Fatalf("B's verification once A let go: %+v, %v", got, err)
	}
}

// TestRouteEmail: "sign in with SSO" by email finds the account that verified the domain and
// its IdPs trusted for it, and nothing for other domains.
func TestRouteEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	okta := e.newIdP(sso.IdPParams{Description: "Okta"})
	e.newIdP(sso.IdPParams{Description: "Org only", Domains: []string{"example.org"}})
	rt, err := e.svc.RouteEmail(e.ctx, "Alice@Example.com")
	if err != nil || rt.AccountID != e.acct.ID || rt.Domain != "example.com" || len(rt.Choices) != 1 || rt.Choices[0].ID != okta.rec.ID {
		t.Fatalf("RouteEmail: %+v, %v", rt, err)
	}
	for _, email := range []string{"bob@unverified.example", "bob@sub.example.com"} {
		if _, err := e.svc.RouteEmail(e.ctx, email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RouteEmail(%s): %v, want not found", email, err)
		}
	}
	e.verifyDomains("example.net") // verified, but no IdP trusts it
	if _, err := e.svc.RouteEmail(e.ctx, "bob@example.net"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RouteEmail without a trusted IdP: %v, want not found", err)
	}
	if _, err := e.svc.RouteEmail(e.ctx, "not an email"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("RouteEmail(bad address): %v, want invalid", err)
	}
}

// TestDomainRequiresSSO: with RequireSSO on a verified domain an IdP is trusted for, the
// account's members with an address there cannot sign in with a password, whatever the
// enforcement; members of other domains, and the same member once RequireSSO is off, can.
func TestDomainRequiresSSO(t *testing.T) {
	t.Parallel()
	e := newDash(t, identity.Enterprise().Name)
	e.withPassword("kim@example.com", "developer")
	e.withPassword("kim@elsewhere.example", "developer")
	e.newIdP(sso.IdPParams{})
	d := e.domainNamed("example.com")
	if _, err := e.svc.RequireDomainSSO(e.ctx, e.admin, d.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := e.signIn("kim@example.com", goodPassword)
	wantDenied(t, err, sso.ReasonDomainSSO)
	if res, err := e.signIn("kim@elsewhere.example", goodPassword); err != nil || res.Step != sso.StepDone {
		t.Fatalf("another domain: %+v, %v", res, err)
	}
	if _, err := e.svc.RequireDomainSSO(e.ctx, e.admin, d.ID, false); err != nil {
		t.Fatal(err)
	}
	if res, err := e.signIn("kim@example.com", goodPassword); err != nil || res.Step != sso.StepDone {
		t.Fatalf("RequireSSO off: %+v, %v", res, err)
	}
	un, err := e.svc.ClaimDomain(e.ctx, e.admin, "unverified.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RequireDomainSSO(e.ctx, e.admin, un.ID, true); store.CodeOf(err) != sso.CodeDomainNotVerified {
		t.Fatalf("RequireSSO on an unverified domain: %v", err)
	}
}

// domainNamed returns the account's domain called name.
func (e *env) domainNamed(name string) store.Domain {
	e.t.Helper()
	ds, err := e.svc.Domains(e.ctx, e.admin, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range ds {
		if d.Name == name {
			return d
		}
	}
	e.t.Fatalf("no domain %s in %v", name, ds)
	return store.Domain{}
}

// events returns the account's audit events, oldest first.
func (e *env) events() []store.Event {
	e.t.Helper()
	var evs []store.Event
	err := e.st.View(e.ctx, func(r store.Reader) error {
		var err error
		evs, err = r.Events(e.ctx, e.acct.ID, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(evs)
	return evs
}

func typesOf(evs []store.Event) []store.EventType {
	out := make([]store.EventType, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}
