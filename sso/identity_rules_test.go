package sso_test

import (
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
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
		u, err := e.dir.User(e.ctx, l.UserID)
		if err != nil || u.Name != c.want || l.Name != c.want {
			t.Fatalf("%q: user %+v (%v), login name %q; want %q", c.cn, u, err, l.Name, c.want)
		}
	}
}
