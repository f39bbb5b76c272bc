package storetest

import (
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

func (e *env) newDomain(accountID, name string) store.Domain {
	e.t.Helper()
	d := e.newIDIn(id.Domain, accountID)
	return store.Domain{ID: d, AccountID: accountID, Name: name, Token: "tok-" + suffix(d), CreatedAt: e.now()}
}

// testDomains covers the domains accounts claim and verify: a name once per account, a
// verified name once in the whole store, and the lookups sign-in uses.
func testDomains(t *testing.T, ns NewStore) {
	verify := func(e *env, d store.Domain) store.Domain {
		d.VerifiedAt = e.now().Add(time.Minute)
		return d
	}
	leaf(t, "put_get_list", ns, func(e *env) {
		acct := e.putAccount()
		a, b := e.newDomain(acct, "example.com"), e.newDomain(acct, "example.org")
		b.VerifiedAt, b.RequireSSO = e.now(), true
		head := e.head()
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, a) })
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, b) })
		got := mustRead(e, func(r store.Reader) (store.Domain, error) { return r.Domain(e.ctx, a.ID) })
		diff(e.t, "domain", a, got)
		got = mustRead(e, func(r store.Reader) (store.Domain, error) { return r.DomainByName(e.ctx, acct, "example.org") })
		diff(e.t, "domain by name", b, got)
		all := mustRead(e, func(r store.Reader) ([]store.Domain, error) { return r.Domains(e.ctx, acct, store.Page{Limit: 10}) })
		diff(e.t, "domains, newest first", []store.Domain{b, a}, all)
		cs, _ := e.commits(head, 2)
		diff(e.t, "changes", []store.Change{{Kind: store.KindDomain, Op: store.OpPut, AccountID: acct, ID: a.ID}}, cs[0].Changes)
	})
	leaf(t, "unverified_is_not_found_as_verified", ns, func(e *env) {
		acct := e.putAccount()
		d := e.newDomain(acct, "example.com")
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, d) })
		_, err := read(e, func(r store.Reader) (store.Domain, error) { return r.VerifiedDomain(e.ctx, "example.com") })
		wantNotFound(e.t, "VerifiedDomain before verification", err)
		d = verify(e, d)
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, d) })
		got := mustRead(e, func(r store.Reader) (store.Domain, error) { return r.VerifiedDomain(e.ctx, "example.com") })
		diff(e.t, "verified domain", d, got)
		_, err = read(e, func(r store.Reader) (store.Domain, error) { return r.VerifiedDomain(e.ctx, "") })
		wantNotFound(e.t, "VerifiedDomain(\"\")", err)
		e.update(func(tx store.Tx) error { return tx.DeleteDomain(e.ctx, d.ID) })
		_, err = read(e, func(r store.Reader) (store.Domain, error) { return r.VerifiedDomain(e.ctx, "example.com") })
		wantNotFound(e.t, "VerifiedDomain after delete", err)
	})
	leaf(t, "name_unique_per_account", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, e.newDomain(acct, "example.com")) })
		err := e.tryUpdate(func(tx store.Tx) error { return tx.PutDomain(e.ctx, e.newDomain(acct, "example.com")) })
		wantConflict(e.t, "a second claim in one account", err, store.KindDomain, store.IndexName)
		// Another account may claim the name while nobody has verified it.
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, e.newDomain(other, "example.com")) })
	})
	leaf(t, "verified_unique_across_accounts", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		mine, theirs := e.newDomain(acct, "example.com"), e.newDomain(other, "example.com")
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, mine) })
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, theirs) })
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, verify(e, mine)) })
		err := e.tryUpdate(func(tx store.Tx) error { return tx.PutDomain(e.ctx, verify(e, theirs)) })
		wantConflict(e.t, "a second verification across accounts", err, store.KindDomain, store.IndexVerified)
		got := mustRead(e, func(r store.Reader) (store.Domain, error) { return r.VerifiedDomain(e.ctx, "example.com") })
		if got.ID != mine.ID {
			e.t.Fatalf("VerifiedDomain = %s, want the first verifier's %s", got.ID, mine.ID)
		}
		// Once the first account lets it go, the other may verify it.
		e.update(func(tx store.Tx) error { return tx.DeleteDomain(e.ctx, mine.ID) })
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, verify(e, theirs)) })
		got = mustRead(e, func(r store.Reader) (store.Domain, error) { return r.VerifiedDomain(e.ctx, "example.com") })
		if got.ID != theirs.ID {
			e.t.Fatalf("VerifiedDomain = %s, want %s", got.ID, theirs.ID)
		}
	})
	leaf(t, "fixed_fields_and_validation", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		d := e.newDomain(acct, "example.com")
		e.update(func(tx store.Tx) error { return tx.PutDomain(e.ctx, d) })
		renamed := d
		renamed.Name = "example.net"
		wantImmutable(e.t, "rename", e.tryUpdate(func(tx store.Tx) error { return tx.PutDomain(e.ctx, renamed) }), store.KindDomain, "name")
		moved := d
		moved.AccountID = other
		wantImmutable(e.t, "move", e.tryUpdate(func(tx store.Tx) error { return tx.PutDomain(e.ctx, moved) }), store.KindDomain, "account_id")
		for _, c := range []struct {
			field string
			mod   func(*store.Domain)
		}{
			{"domain.name", func(d *store.Domain) { d.Name = "" }},
			{"domain.token", func(d *store.Domain) { d.Token = "" }},
			{"domain.name", func(d *store.Domain) { d.Name = string(make([]byte, store.MaxDomainLen+1)) }},
		} {
			bad := e.newDomain(acct, "example.org")
			c.mod(&bad)
			wantInvalid(e.t, c.field, e.tryUpdate(func(tx store.Tx) error { return tx.PutDomain(e.ctx, bad) }), c.field)
		}
	})
}

// testOIDCProvider: an OpenID Connect identity provider's fields are kept like a SAML one's.
func testOIDCProvider(t *testing.T, ns NewStore) {
	leaf(t, "put_get", ns, func(e *env) {
		acct := e.putAccount()
		p := e.newIdP(acct)
		p.Protocol, p.EntityID, p.MetadataXML = "oidc", "https://login.example.com", ""
		p.ClientID, p.ClientSecret, p.Scopes = "iamkit-dashboard", "s3cret", []string{"email", "profile", "groups"}
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, p) })
		got := mustRead(e, func(r store.Reader) (store.IdentityProvider, error) { return r.IdentityProvider(e.ctx, p.ID) })
		diff(e.t, "OIDC identity provider", p, got)
	})
}
