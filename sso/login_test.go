package sso_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// TestLoginPolicyModes: off, mixed and enforced against members who joined before and after
// enforcement left off, for a password and an SSO login.
func TestLoginPolicyModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		enforcement sso.Enforcement
		joined      string // "before" or "after" enforcement left off
		method      sso.LoginMethod
		allowed     bool
		reason      sso.LoginReason
	}{
		{sso.EnforcementOff, "before", sso.MethodPassword, true, sso.ReasonSSOOff},
		{sso.EnforcementOff, "after", sso.MethodPassword, true, sso.ReasonSSOOff},
		{sso.EnforcementOff, "after", sso.MethodSSO, true, sso.ReasonSSOLogin},
		{sso.EnforcementMixed, "before", sso.MethodPassword, true, sso.ReasonGrandfathered},
		{sso.EnforcementMixed, "before", sso.MethodOAuth, true, sso.ReasonGrandfathered},
		{sso.EnforcementMixed, "after", sso.MethodPassword, false, sso.ReasonSSORequired},
		{sso.EnforcementMixed, "after", sso.MethodSSO, true, sso.ReasonSSOLogin},
		{sso.EnforcementEnforced, "before", sso.MethodPassword, false, sso.ReasonSSOEnforced},
		{sso.EnforcementEnforced, "after", sso.MethodPassword, false, sso.ReasonSSOEnforced},
		{sso.EnforcementEnforced, "before", sso.MethodSSO, true, sso.ReasonSSOLogin},
	}
	for _, c := range cases {
		t.Run(string(c.enforcement)+"/"+c.joined+"/"+string(c.method), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, identity.Enterprise().Name)
			e.newIdP(sso.IdPParams{})
			old := e.member("old@example.com", rbac.RoleDeveloper)
			e.setSettings(sso.ProvisioningInviteOnly, c.enforcement)
			young := e.member("young@example.com", rbac.RoleDeveloper)
			u := old
			if c.joined == "after" {
				u = young
			}
			d, err := e.svc.LoginPolicy(e.ctx, e.acct.ID, u.ID, c.method)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed || d.Reason != c.reason || d.Method != c.method || d.Enforcement != c.enforcement {
				t.Fatalf("decision %+v", d)
			}
			if err := d.Err(); (err == nil) != c.allowed || (err != nil && !errors.Is(err, store.ErrDenied)) {
				t.Fatalf("Err() = %v", err)
			}
		})
	}
}

func TestLoginPolicyPrincipals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	bots := e.bots()
	bot, err := bots.Create(e.ctx, e.admin, botuser.CreateParams{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	off := e.member("off@example.com", rbac.RoleDeveloper)
	if _, err := e.dir.DisableMember(e.ctx, e.admin, off.ID); err != nil {
		t.Fatal(err)
	}
	stranger := e.user("stranger@example.com")
	for _, c := range []struct {
		name, id string
		reason   sso.LoginReason
	}{
		{"bot", bot.ID, sso.ReasonBotUser},
		{"disabled", off.ID, sso.ReasonMemberDisabled},
		{"not a member", stranger.ID, sso.ReasonNotMember},
	} {
		for _, m := range []sso.LoginMethod{sso.MethodPassword, sso.MethodSSO} {
			d, err := e.svc.LoginPolicy(e.ctx, e.acct.ID, c.id, m)
			if err != nil || d.Allowed || d.Reason != c.reason {
				t.Fatalf("%s/%s: %+v %v", c.name, m, d, err)
			}
		}
	}
	// A downgraded plan turns enforcement off rather than locking members out.
	e.newIdP(sso.IdPParams{})
	young := e.member("young@example.com")
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
	if _, err := e.dir.ChangePlan(e.ctx, e.admin, identity.PayAsYouGo().Name); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.LoginPolicy(e.ctx, e.acct.ID, young.ID, sso.MethodPassword)
	if err != nil || !d.Allowed || d.Reason != sso.ReasonSSOOff {
		t.Fatalf("after downgrade: %+v %v", d, err)
	}
}

// TestProvisioningModes: JIT and invite-only against every kind of arriving user.
func TestProvisioningModes(t *testing.T) {
	t.Parallel()
	type outcome struct {
		reason  sso.LoginReason // empty: logged in
		created bool            // user created by the login
		joined  bool            // membership created by the login
		roles   []string
	}
	cases := []struct {
		name    string
		setup   func(e *env) string // returns the email the IdP asserts
		results map[sso.Provisioning]outcome
	}{
		{"existing member", func(e *env) string {
			e.member("bob@example.com", rbac.RoleTeamReadOnly)
			return "bob@example.com"
		}, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {roles: []string{rbac.RoleTeamReadOnly}},
			sso.ProvisioningInviteOnly: {roles: []string{rbac.RoleTeamReadOnly}},
		}},
		{"invited, no user yet", func(e *env) string {
			if _, err := e.dir.Invite(e.ctx, e.admin, "carol@example.com", []string{rbac.RoleBilling}); err != nil {
				e.t.Fatal(err)
			}
			return "carol@example.com"
		}, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {created: true, joined: true, roles: []string{rbac.RoleBilling}},
			sso.ProvisioningInviteOnly: {created: true, joined: true, roles: []string{rbac.RoleBilling}},
		}},
		{"invited existing user", func(e *env) string {
			e.user("dan@example.com")
			if _, err := e.dir.Invite(e.ctx, e.admin, "dan@example.com", nil); err != nil {
				e.t.Fatal(err)
			}
			return "DAN@example.com" // emails are normalised
		}, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {joined: true, roles: rbac.DefaultMemberRoles()},
			sso.ProvisioningInviteOnly: {joined: true, roles: rbac.DefaultMemberRoles()},
		}},
		{"not invited", func(*env) string { return "erin@example.com" }, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {created: true, joined: true, roles: []string{rbac.RoleDeveloperReadOnly}},
			sso.ProvisioningInviteOnly: {reason: sso.ReasonNotInvited},
		}},
		{"expired invitation", func(e *env) string {
			// Invited in the past (crewjam stamps assertions with the wall clock).
			now := e.clk.Now()
			e.clk.Set(now.Add(-identity.DefaultInvitationTTL - time.Minute))
			if _, err := e.dir.Invite(e.ctx, e.admin, "frank@example.com", nil); err != nil {
				e.t.Fatal(err)
			}
			e.clk.Set(now)
			return "frank@example.com"
		}, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {created: true, joined: true, roles: []string{rbac.RoleDeveloperReadOnly}},
			sso.ProvisioningInviteOnly: {reason: sso.ReasonInvitationExpired},
		}},
		{"disabled member", func(e *env) string {
			u := e.member("gina@example.com")
			if _, err := e.dir.DisableMember(e.ctx, e.admin, u.ID); err != nil {
				e.t.Fatal(err)
			}
			return "gina@example.com"
		}, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {reason: sso.ReasonMemberDisabled},
			sso.ProvisioningInviteOnly: {reason: sso.ReasonMemberDisabled},
		}},
		{"existing user of another domain", func(e *env) string {
			e.member("hal@other.org")
			return "hal@other.org"
		}, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {reason: sso.ReasonUntrustedDomain},
			sso.ProvisioningInviteOnly: {reason: sso.ReasonUntrustedDomain},
		}},
		{"new user of another domain", func(*env) string { return "ivy@other.org" }, map[sso.Provisioning]outcome{
			sso.ProvisioningJIT:        {reason: sso.ReasonUntrustedDomain},
			sso.ProvisioningInviteOnly: {reason: sso.ReasonUntrustedDomain},
		}},
	}
	for _, c := range cases {
		for _, mode := range []sso.Provisioning{sso.ProvisioningJIT, sso.ProvisioningInviteOnly} {
			want := c.results[mode]
			t.Run(c.name+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, identity.Enterprise().Name)
				idp := e.newIdP(sso.IdPParams{DefaultRoles: []string{rbac.RoleDeveloperReadOnly}})
				e.setSettings(mode, sso.EnforcementMixed)
				email := c.setup(e)
				l, err := e.login(idp, email, "/after")
				if want.reason != "" {
					wantDenied(t, err, want.reason)
					if l != nil {
						t.Fatal("a denied login returned a Login")
					}
					if want.reason == sso.ReasonNotInvited || want.reason == sso.ReasonInvitationExpired || c.name == "new user of another domain" {
						if _, err := e.dir.UserByEmail(e.ctx, email); !errors.Is(err, store.ErrNotFound) {
							t.Fatalf("a refused login created a user: %v", err)
						}
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				m, err := e.dir.Member(e.ctx, e.admin, l.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if l.UserCreated != want.created || l.Joined != want.joined || !slices.Equal(m.Roles, want.roles) ||
					l.ReturnTo != "/after" || l.IdPID != idp.rec.ID || l.AccountID != e.acct.ID || l.IdPInitiated {
					t.Fatalf("login %+v, roles %v", l, m.Roles)
				}
				// The session the handler would issue.
				if _, _, err := e.sessions.IssueLoginSession(e.ctx, l); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestJITSeatLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ssoPlan.Name) // 3 seats, the founder holds one
	idp := e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	for _, email := range []string{"a1@example.com", "a2@example.com"} {
		if _, err := e.login(idp, email, ""); err != nil {
			t.Fatalf("%s: %v", email, err)
		}
	}
	_, err := e.login(idp, "a3@example.com", "")
	var se *store.Error
	if !errors.Is(err, store.ErrLimitExceeded) || !errors.As(err, &se) || se.Code != identity.CodeSeatLimit || se.Limit != 3 {
		t.Fatalf("error %v", err)
	}
	if _, err := e.dir.UserByEmail(e.ctx, "a3@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a user was created though no seat was free: %v", err)
	}
	// An existing member still logs in with the account full.
	if _, err := e.login(idp, "a1@example.com", ""); err != nil {
		t.Fatal(err)
	}
}

// TestBotUsersNeverGetASession covers every path: IssueSession, an SP-initiated login
// asserting a bot user's name, and an IdP-initiated one.
func TestBotUsersNeverGetASession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	bots := e.bots()
	bot, err := bots.Create(e.ctx, e.admin, botuser.CreateParams{Name: "deploy@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	bp := e.principal(bot.ID)

	for _, m := range []sso.LoginMethod{sso.MethodPassword, sso.MethodSSO} {
		tok, _, err := e.sessions.IssueSession(e.ctx, bp, m, "")
		wantDenied(t, err, sso.ReasonBotUser)
		if tok != "" {
			t.Fatal("token issued to a bot")
		}
	}
	// A principal that claims to be a user but carries a bot ID.
	forged := bp
	forged.Kind = identity.KindUser
	_, _, err = e.sessions.IssueSession(e.ctx, forged, sso.MethodPassword, "")
	wantDenied(t, err, sso.ReasonBotUser)

	idp := e.newIdP(sso.IdPParams{AllowIdPInitiated: true})
	for _, mode := range []sso.Provisioning{sso.ProvisioningJIT, sso.ProvisioningInviteOnly} {
		e.setSettings(mode, sso.EnforcementOff)
		_, err = e.login(idp, "deploy@example.com", "")
		wantDenied(t, err, sso.ReasonBotUser)

		idp.asUser("Deploy@Example.com")
		form := idp.unsolicited(t, "/x")
		_, err = e.svc.CompleteLogin(e.ctx, sso.ACSRequest{AccountID: e.acct.ID, IdPID: idp.rec.ID, SAMLResponse: form})
		wantDenied(t, err, sso.ReasonBotUser)
	}
	if _, err := e.dir.UserByEmail(e.ctx, "deploy@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a user was created with a bot's name: %v", err)
	}
}

func TestIdPInitiatedLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.member("alice@example.com")
	complete := func(relay string) (*sso.Login, error) {
		return e.svc.CompleteLogin(e.ctx, sso.ACSRequest{AccountID: e.acct.ID, IdPID: idp.rec.ID,
			SAMLResponse: idp.unsolicited(t, relay), RelayState: relay})
	}
	_, err := complete("/x")
	wantCode(t, err, sso.CodeUnsolicited)

	allow := true
	if _, err := e.svc.UpdateIdentityProvider(e.ctx, e.admin, idp.rec.ID, sso.IdPUpdate{AllowIdPInitiated: &allow}); err != nil {
		t.Fatal(err)
	}
	for relay, want := range map[string]string{
		"/projects/1":          "/projects/1",
		"":                     sso.DefaultReturnPath,
		"https://evil.example": sso.DefaultReturnPath,
		"//evil.example/x":     sso.DefaultReturnPath,
		"/\\evil.example":      sso.DefaultReturnPath,
		"javascript:alert(1)":  sso.DefaultReturnPath,
	} {
		l, err := complete(relay)
		if err != nil {
			t.Fatalf("%q: %v", relay, err)
		}
		if l.ReturnTo != want || !l.IdPInitiated {
			t.Fatalf("RelayState %q: return to %q", relay, l.ReturnTo)
		}
	}
}

// TestSPInitiatedRelayState: the RelayState of an SP-initiated login is an opaque key bound
// to its request and its browser.
func TestSPInitiatedRelayState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.member("alice@example.com")

	for _, bad := range []string{"//evil.example", "https://evil.example/", "/\\evil", "/a\tb", "evil"} {
		_, err := e.svc.BeginLogin(e.ctx, e.acct.ID, idp.rec.ID, bad)
		if invalidField(err) != "return_to" {
			t.Fatalf("return_to %q: %v", bad, err)
		}
	}

	begin := func() (*sso.LoginRequest, string) {
		lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, idp.rec.ID, "/home")
		if err != nil {
			t.Fatal(err)
		}
		if len(lr.RelayState) > sso.MaxRelayStateSize || lr.RelayState == "/home" {
			t.Fatalf("RelayState %q is not an opaque key", lr.RelayState)
		}
		u, err := lr.AuthnRequest.RedirectURL(lr.RelayState)
		if err != nil {
			t.Fatal(err)
		}
		form, relay := idp.idpRespond(t, u)
		if relay != lr.RelayState {
			t.Fatalf("IdP returned RelayState %q", relay)
		}
		return lr, form
	}
	acs := func(form, relay, browser string) (*sso.Login, error) {
		return e.svc.CompleteLogin(e.ctx, sso.ACSRequest{AccountID: e.acct.ID, IdPID: idp.rec.ID,
			SAMLResponse: form, RelayState: relay, BrowserState: browser})
	}

	// Another browser (no or another state) cannot complete it: login CSRF.
	lr, form := begin()
	_, err := acs(form, lr.RelayState, "")
	wantCode(t, err, sso.CodeRelayState)
	if !isResponseErr(err) {
		t.Fatalf("error %v, want a rejected response", err)
	}

	// The RelayState of another request does not fit this response.
	lr1, form1 := begin()
	lr2, _ := begin()
	_, err = acs(form1, lr2.RelayState, lr2.RelayState)
	wantCode(t, err, sso.CodeRelayState)
	_ = lr1

	// A path instead of the key is never used as a redirect.
	_, form3 := begin()
	_, err = acs(form3, "/evil", "/evil")
	wantCode(t, err, sso.CodeRelayState)

	// The right browser with the right key lands on the stored path.
	lr4, form4 := begin()
	l, err := acs(form4, lr4.RelayState, lr4.RelayState)
	if err != nil || l.ReturnTo != "/home" {
		t.Fatalf("login %+v %v", l, err)
	}
}

// TestConcurrentFirstLogins: simultaneous first JIT logins of one person make one user and
// one membership, and all of them succeed.
func TestConcurrentFirstLogins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	idp.asUser("zoe@example.com")
	// Responses are fetched first (test helpers may fail the test only from its goroutine);
	// the ACS calls race.
	type attempt struct {
		in  sso.ACSRequest
		out *sso.Login
		err error
	}
	attempts := make([]attempt, 6)
	for i := range attempts {
		lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, idp.rec.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		u, err := lr.AuthnRequest.RedirectURL(lr.RelayState)
		if err != nil {
			t.Fatal(err)
		}
		form, relay := idp.idpRespond(t, u)
		attempts[i].in = sso.ACSRequest{AccountID: e.acct.ID, IdPID: idp.rec.ID, SAMLResponse: form, RelayState: relay, BrowserState: lr.RelayState}
	}
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() { attempts[i].out, attempts[i].err = e.svc.CompleteLogin(e.ctx, attempts[i].in) })
	}
	wg.Wait()
	var userID string
	joined := 0
	for _, a := range attempts {
		if a.err != nil {
			t.Fatal(a.err)
		}
		if userID == "" {
			userID = a.out.UserID
		}
		if a.out.UserID != userID {
			t.Fatalf("two users: %s and %s", userID, a.out.UserID)
		}
		if a.out.Joined {
			joined++
		}
	}
	if joined != 1 {
		t.Fatalf("%d logins report creating the membership", joined)
	}
	ms, err := e.dir.Members(e.ctx, e.admin, store.Page{Limit: 10})
	if err != nil || len(ms) != 2 {
		t.Fatalf("members %v %v", ms, err)
	}
}

// TestSubjectLinkIdentifiesUser: once a subject has logged in, the (IdP, NameID) pair
// identifies the user, whatever email the IdP asserts later and whichever domains it is
// still trusted for; the same subject at another IdP is another identity.
func TestSubjectLinkIdentifiesUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ssoPlan.Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	idp := e.newIdP(sso.IdPParams{})
	loginAs := func(p *testIdP, subject, email string) (*sso.Login, error) {
		p.asUser(email)
		p.mu.Lock()
		p.user.NameID, p.user.NameIDFormat = subject, sso.NameIDFormatPersistent
		p.mu.Unlock()
		lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, p.rec.ID, "/")
		if err != nil {
			return nil, err
		}
		u, err := lr.AuthnRequest.RedirectURL(lr.RelayState)
		if err != nil {
			t.Fatal(err)
		}
		form, relay := p.idpRespond(t, u)
		return e.svc.CompleteLogin(e.ctx, sso.ACSRequest{
			AccountID: e.acct.ID, IdPID: p.rec.ID, SAMLResponse: form, RelayState: relay, BrowserState: lr.RelayState,
		})
	}

	first, err := loginAs(idp, "00u1opaque", "ann@example.com")
	if err != nil {
		t.Fatalf("first login: %v", err)
	}
	// The IdP renames her: the pair still finds her, no second user.
	renamed, err := loginAs(idp, "00u1opaque", "ann.smith@example.com")
	if err != nil || renamed.UserID != first.UserID || renamed.UserCreated {
		t.Fatalf("renamed login: %+v, %v; want user %s", renamed, err, first.UserID)
	}
	// The domain is no longer trusted: the linked subject still logs in...
	other := []string{"other.example"}
	e.verifyDomains("other.example")
	if _, err := e.svc.UpdateIdentityProvider(e.ctx, e.admin, idp.rec.ID, sso.IdPUpdate{Domains: &other}); err != nil {
		t.Fatal(err)
	}
	e.tick()
	if l, err := loginAs(idp, "00u1opaque", "ann@example.com"); err != nil || l.UserID != first.UserID {
		t.Fatalf("linked login, domain no longer trusted: %+v, %v", l, err)
	}
	// ...but an unlinked subject with the same email is matched by email only, and refused.
	_, err = loginAs(idp, "00u2someoneelse", "ann@example.com")
	wantDenied(t, err, sso.ReasonUntrustedDomain)
}
