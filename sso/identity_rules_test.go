package sso_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// asSession makes the IdP assert nameID, and email in the mail attribute unless it is
// empty, with display name cn.
func (p *testIdP) asSession(nameID, email, cn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.user = &saml.Session{
		ID: "s-" + nameID, CreateTime: now, ExpireTime: now.Add(time.Hour), Index: "idx1",
		NameID: nameID, NameIDFormat: sso.NameIDFormatEmail, UserEmail: email, UserCommonName: cn,
	}
}

// loginCurrent runs an SP-initiated login as whoever the IdP currently asserts.
func (e *env) loginCurrent(p *testIdP) (*sso.Login, error) {
	e.t.Helper()
	lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, p.rec.ID, "")
	if err != nil {
		return nil, err
	}
	u, err := lr.AuthnRequest.RedirectURL(lr.RelayState)
	if err != nil {
		e.t.Fatal(err)
	}
	form, relay := p.idpRespond(e.t, u)
	return e.svc.CompleteLogin(e.ctx, sso.ACSRequest{
		AccountID: e.acct.ID, IdPID: p.rec.ID, SAMLResponse: form, RelayState: relay, BrowserState: lr.RelayState,
	})
}

// TestLoginDisplayNames: an IdP display name that identity.CheckName refuses (control or
// format characters, padding) does not block the login and is not stored: the user gets no
// name.
func TestLoginDisplayNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	for i, c := range []struct{ cn, want string }{
		{"Mallory \u202eevil", ""},
		{"Zero\u200bWidth", ""},
		{"Ada Lovelace", "Ada Lovelace"},
	} {
		email := string(rune('a'+i)) + "@example.com"
		idp.asSession(email, "", c.cn)
		l, err := e.loginCurrent(idp)
		if err != nil {
			t.Fatalf("%q: %v", c.cn, err)
		}
		u, err := e.dir.User(e.ctx, e.admin, l.UserID)
		if err != nil || u.Name != c.want || l.Name != c.want {
			t.Fatalf("%q: user %+v (%v), login name %q; want %q", c.cn, u, err, l.Name, c.want)
		}
	}
}

// TestLoginEmailLookalikes: an IdP-signed look-alike of an email (U+212A KELVIN SIGN,
// U+0130, U+017F, fullwidth, mixed scripts, ...), as the NameID or in the email attribute,
// neither logs in as the existing member it resembles nor, with just-in-time provisioning,
// creates the user of a person who has none yet, nor links its subject to anyone.
func TestLoginEmailLookalikes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	kim := e.member("kim@example.com")
	for i, c := range testenv.LookalikeEmails() {
		for _, via := range []string{"NameID", "attribute"} {
			subject := c.Email
			if via == "NameID" {
				idp.asSession(subject, "", "Look Alike")
			} else {
				subject = "opaque-" + strconv.Itoa(i)
				idp.asSession(subject, c.Email, "Look Alike")
			}
			l, err := e.loginCurrent(idp)
			if store.CodeOf(err) != sso.CodeNoEmail || l != nil {
				t.Errorf("%s via %s: login %+v, %v; want ErrNoEmail", c.Class, via, l, err)
			}
			err = e.st.View(e.ctx, func(r store.Reader) error {
				_, err := r.ExternalIdentity(e.ctx, idp.rec.ID, subject)
				return err
			})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s via %s: the subject was linked: %v", c.Class, via, err)
			}
		}
	}
	for _, victim := range []string{"bill@example.com", "sam@example.com", "ann@example.com"} {
		if _, err := e.dir.UserByEmail(e.ctx, victim); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a look-alike created %s: %v", victim, err)
		}
	}
	// The real address still logs in, as the member it is.
	idp.asSession("KIM@example.com", "", "Kim")
	if l, err := e.loginCurrent(idp); err != nil || l.UserID != kim.ID || l.Email != "kim@example.com" {
		t.Fatalf("kim's own login: %+v, %v", l, err)
	}
}

// TestIdPDomainLookalikes: trusted domains follow identity.NormalizeDomain: a non-ASCII
// domain (which strings.ToLower used to fold onto ASCII, U+212A to "k") is refused on create
// and update; case is folded in ASCII only.
func TestIdPDomainLookalikes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{Domains: []string{"Example.COM"}})
	if len(idp.rec.Domains) != 1 || idp.rec.Domains[0] != "example.com" {
		t.Fatalf("domains %v", idp.rec.Domains)
	}
	for _, d := range []string{"\u212Aexample.com", "b\u00fccher.example", "ex\u03bfample.com", "\uff45xample.com", "example.com.", "localhost"} {
		_, err := e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{MetadataXML: idp.rec.MetadataXML, Domains: []string{d}})
		if invalidField(err) != "domains" {
			t.Errorf("create with %q: %v, want an invalid-argument error on domains", d, err)
		}
		ds := []string{d}
		_, err = e.svc.UpdateIdentityProvider(e.ctx, e.admin, idp.rec.ID, sso.IdPUpdate{Domains: &ds})
		if invalidField(err) != "domains" {
			t.Errorf("update with %q: %v, want an invalid-argument error on domains", d, err)
		}
	}
}

// TestLoginBotNameLookalikes: the login check "no user under a bot user's name" compares
// canonical forms: a bot user's email-like name must be canonical (botuser refuses case
// variants and look-alikes), and any case variant of it asserted by the IdP is refused.
func TestLoginBotNameLookalikes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	bots := e.bots()
	for _, name := range []string{"CI@Example.com", "\u212Aim@example.com", "ci\uff20example.com"} {
		if _, err := bots.Create(e.ctx, e.admin, botuser.CreateParams{Name: name}); invalidField(err) != "name" {
			t.Errorf("bot user %q: %v, want an invalid-argument error on name", name, err)
		}
	}
	if _, err := bots.Create(e.ctx, e.admin, botuser.CreateParams{Name: "ci@example.com"}); err != nil {
		t.Fatal(err)
	}
	idp := e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	for _, asserted := range []string{"ci@example.com", "CI@Example.COM"} {
		idp.asSession(asserted, "", "")
		_, err := e.loginCurrent(idp)
		wantDenied(t, err, sso.ReasonBotUser)
	}
	if _, err := e.dir.UserByEmail(e.ctx, "ci@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a user was created under a bot user's name: %v", err)
	}
}
