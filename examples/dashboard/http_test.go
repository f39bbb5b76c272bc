package main

import (
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// httpSession is a signed-in HTTP client of a dashboard.
type httpSession struct {
	e *env
	c *http.Client
}

// signInHTTP signs email in with the password form and returns its client.
func (e *env) signInHTTP(email string) *httpSession {
	e.t.Helper()
	s := &httpSession{e: e, c: e.client()}
	res := s.post("/login", url.Values{"email": {email}, "password": {password}, "account": {e.account()}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign-in of %s: status %d", email, res.StatusCode)
	}
	return s
}

type response struct {
	StatusCode int
	Location   string
	Body       string
	Header     http.Header
}

func (s *httpSession) do(req *http.Request) response {
	s.e.t.Helper()
	res, err := s.c.Do(req)
	if err != nil {
		s.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.e.t.Fatal(err)
	}
	return response{StatusCode: res.StatusCode, Location: res.Header.Get("Location"), Body: string(b), Header: res.Header}
}

func (s *httpSession) get(path string) response {
	s.e.t.Helper()
	req, err := http.NewRequestWithContext(s.e.ctx, http.MethodGet, s.e.URL+path, nil)
	if err != nil {
		s.e.t.Fatal(err)
	}
	return s.do(req)
}

// post sends a form as a browser on the dashboard's own pages would (Sec-Fetch-Site:
// same-origin).
func (s *httpSession) post(path string, form url.Values) response {
	s.e.t.Helper()
	return s.postFrom(path, form, "same-origin")
}

func (s *httpSession) postFrom(path string, form url.Values, site string) response {
	s.e.t.Helper()
	req, err := http.NewRequestWithContext(s.e.ctx, http.MethodPost, s.e.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", site)
	return s.do(req)
}

// TestEveryPageRenders: an administrator opens every page of the dashboard; each answers 200
// with the layout, and none shows a template error.
func TestEveryPageRenders(t *testing.T) {
	e := newEnv(t)
	admin := e.signInHTTP(adminEmail)
	dev := e.addMember("dev@example.test", rbac.RoleDeveloper)
	ctx, by := e.ctx, e.app.Boot.Admin
	bot, err := e.app.IAM.BotUsers().Create(ctx, by, botuser.CreateParams{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.app.IAM.Credentials().Create(ctx, by, credential.CreateRequest{Kind: store.Authtoken, OwnerID: bot.ID, Description: "ci token"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.app.IAM.Directory().Invite(ctx, by, "new@example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.sync()
	base := "/a/" + e.account()
	for _, path := range []string{
		base + "/members", base + "/members/" + dev.ID, base + "/members/" + dev.ID + "/remove",
		base + "/bots", base + "/bots/" + bot.ID, base + "/bots/" + bot.ID + "/delete",
		base + "/credentials", base + "/credentials?kind=api_key", base + "/credentials?kind=ssh_key", base + "/credentials/new",
		base + "/credentials/" + tok.ID + "/revoke",
		base + "/settings/sso", base + "/settings/sso/new", base + "/security", base + "/audit", base + "/audit?type=bot_user_created.v0",
		"/accounts",
	} {
		t.Run(path, func(t *testing.T) {
			res := admin.get(path)
			if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "</html>") || strings.Contains(res.Body, "ZgotmplZ") {
				t.Fatalf("status %d, body %.300s", res.StatusCode, res.Body)
			}
		})
	}
	anonymous := &httpSession{e: e, c: e.client()}
	for _, path := range []string{"/login", base + "/login", "/login/sso", "/reset", "/reset?token=x", "/invitations/accept?token=" + url.QueryEscape(inv.Token.Reveal())} {
		t.Run(path, func(t *testing.T) {
			res := anonymous.get(path)
			if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "</html>") {
				t.Fatalf("status %d, body %.300s", res.StatusCode, res.Body)
			}
		})
	}
}

// TestInvitationRolesNeverAboveTheInviter: a team manager is offered only the roles whose
// permissions they hold, and the roles they are not offered are refused if sent anyway,
// with a message that says why; nothing is sent to the invited address.
func TestInvitationRolesNeverAboveTheInviter(t *testing.T) {
	e := newEnv(t)
	e.addMember("manager@example.test", rbac.RoleTeamManager)
	manager := e.signInHTTP("manager@example.test")
	base := "/a/" + e.account()
	page := manager.get(base + "/members")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("members page: status %d", page.StatusCode)
	}
	for role, offered := range map[string]bool{
		rbac.RoleTeamManager: true, rbac.RoleTeamInvite: true, rbac.RoleTeamReadOnly: true,
		rbac.RoleAdministrator: false, rbac.RoleBilling: false, rbac.RoleDeveloper: false,
	} {
		if got := strings.Contains(page.Body, `name="roles" value="`+role+`"`); got != offered {
			t.Errorf("role %s offered: %v, want %v", role, got, offered)
		}
	}
	for _, c := range []struct {
		role, says string
	}{
		{rbac.RoleAdministrator, "Only administrators can grant the Administrator role"},
		{rbac.RoleBilling, "You can only give roles whose permissions you hold yourself"},
	} {
		res := manager.post(base+"/members/invite", url.Values{"email": {"someone@example.test"}, "roles": {c.role}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, c.says) || !strings.Contains(res.Body, `id="error-summary"`) {
			t.Errorf("inviting as %s: status %d, want 403 saying %q", c.role, res.StatusCode, c.says)
		}
	}
	if n := e.mail.count("someone@example.test"); n != 0 {
		t.Errorf("%d mails sent for refused invitations", n)
	}
	res := manager.post(base+"/members/invite", url.Values{"email": {"someone@example.test"}, "roles": {rbac.RoleTeamReadOnly}})
	if res.StatusCode != http.StatusSeeOther || e.mail.count("someone@example.test") != 1 {
		t.Errorf("inviting as team read-only: status %d, %d mails", res.StatusCode, e.mail.count("someone@example.test"))
	}
	if invitations := manager.get(base + "/members").Body; strings.Contains(invitations, e.mail.last(t, "someone@example.test").Link) ||
		strings.Contains(invitations, "ivt_") {
		t.Error("the members page shows the invitation's link to the inviter")
	}
}

// TestCrossSiteFormsAreRefused: a form posted from another site is refused, signed in
// (an account page) or not (the sign-in form), and changes nothing.
func TestCrossSiteFormsAreRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.signInHTTP(adminEmail)
	base := "/a/" + e.account()
	res := admin.postFrom(base+"/bots", url.Values{"name": {"evil"}}, "cross-site")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "sent from another site") {
		t.Errorf("cross-site post to an account page: status %d", res.StatusCode)
	}
	bots, err := e.app.IAM.BotUsers().List(e.ctx, e.app.Boot.Admin, store.Page{Limit: 10})
	if err != nil || len(bots) != 0 {
		t.Errorf("bots after a cross-site post: %v, %v", bots, err)
	}
	anonymous := &httpSession{e: e, c: e.client()}
	res = anonymous.postFrom("/login", url.Values{"email": {adminEmail}, "password": {password}}, "cross-site")
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("cross-site sign-in: status %d, cookies %q", res.StatusCode, res.Header.Values("Set-Cookie"))
	}
	if res := admin.postFrom(base+"/bots", url.Values{"name": {"fine"}}, "same-origin"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin post: status %d", res.StatusCode)
	}
}

// TestSessionsArePerAccount: a session is good in its own account only; another account's
// pages send the browser to that account's sign-in, and the session's cookie never leaves
// the browser but as a __Host- cookie, HttpOnly, SameSite=Lax.
func TestSessionsArePerAccount(t *testing.T) {
	e := newEnv(t)
	dev := e.addMember("dev@example.test", rbac.RoleDeveloper)
	other, err := e.app.IAM.Directory().CreateAccount(e.ctx, dev.ID, "Other", "enterprise")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpSession{e: e, c: e.client()}
	res := s.post("/login", url.Values{"email": {"dev@example.test"}, "password": {password}, "account": {e.account()}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == sessionCookieName(e.account()) {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Domain != "" {
		t.Fatalf("session cookie %+v, want __Host-, Secure, HttpOnly, SameSite=Lax, Path=/", cookie)
	}
	if res := s.get("/a/" + e.account() + "/bots"); res.StatusCode != http.StatusOK {
		t.Errorf("own account: status %d", res.StatusCode)
	}
	res = s.get("/a/" + other.ID + "/bots")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/a/"+other.ID+"/login") {
		t.Errorf("another account of the same person: status %d to %q, want its sign-in", res.StatusCode, res.Location)
	}
	if res := s.get("/a/" + e.account() + "/members"); res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "Your roles in this account do not allow this") {
		t.Errorf("a developer on the members page: status %d", res.StatusCode)
	}
}

// TestLastAdministratorIsKept: the only administrator cannot disable, demote or remove
// themselves; the page says what to do instead.
func TestLastAdministratorIsKept(t *testing.T) {
	e := newEnv(t)
	admin := e.signInHTTP(adminEmail)
	me := "/a/" + e.account() + "/members/" + e.app.Boot.Admin.ID
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{me + "/disable", nil},
		{me + "/remove", nil},
		{me + "/roles", url.Values{"roles": {rbac.RoleDeveloper}}},
	} {
		res := admin.post(c.path, c.form)
		if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, "Make another member an administrator first") {
			t.Errorf("%s: status %d, want 409 saying what to do", c.path, res.StatusCode)
		}
	}
	if m := e.member(adminEmail); m.Status != store.MemberActive || !strings.Contains(strings.Join(m.Roles, ","), rbac.RoleAdministrator) {
		t.Errorf("the administrator after the refusals: %+v", m)
	}
}

// TestSecretsShownOnce: a new credential's token is on the page that created it, which no
// cache keeps, and on no page after.
func TestSecretsShownOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.signInHTTP(adminEmail)
	base := "/a/" + e.account()
	res := admin.post(base+"/credentials", url.Values{"kind": {"api_key"}, "description": {"laptop"}})
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created page: status %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	i := strings.Index(res.Body, "iak_")
	if i < 0 {
		t.Fatal("the created page shows no API key")
	}
	token := res.Body[i : i+strings.IndexAny(res.Body[i:], `"<`)]
	for _, path := range []string{base + "/credentials?kind=api_key", base + "/audit", base + "/security"} {
		if strings.Contains(admin.get(path).Body, token) {
			t.Errorf("%s shows the token again", path)
		}
	}
	if _, err := e.app.IAM.Authenticate(e.ctx, token); err != nil {
		t.Errorf("the shown token does not authenticate: %v", err)
	}
}

// TestSignInErrors: the sign-in form says what is missing or wrong, next to the field, in
// a summary that links to it.
func TestSignInErrors(t *testing.T) {
	e := newEnv(t)
	s := &httpSession{e: e, c: e.client()}
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		says   []string
	}{
		{"empty", url.Values{}, http.StatusBadRequest, []string{`href="#email"`, "Enter your email address.", `href="#password"`, "Enter your password."}},
		{"wrong password", url.Values{"email": {adminEmail}, "password": {"not the password"}}, http.StatusUnauthorized,
			[]string{`href="#password"`, "The email address or password is not right"}},
		{"nobody", url.Values{"email": {"nobody@example.test"}, "password": {password}}, http.StatusUnauthorized,
			[]string{"The email address or password is not right"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := s.post("/login", c.form)
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d", res.StatusCode, c.status)
			}
			contains(t, "page", res.Body, append(c.says, `id="error-summary"`, `aria-invalid="true"`)...)
		})
	}
}

// TestBootstrapPasswordLink: the link the command prints for the bootstrapped
// administrator sets a password once; used again, it says so.
func TestBootstrapPasswordLink(t *testing.T) {
	e := newEnvWithoutPassword(t)
	link, err := e.app.adminPasswordLink(e.ctx)
	if err != nil || !strings.HasPrefix(link, e.URL+"/reset?token=") {
		t.Fatalf("link %q, %v", link, err)
	}
	token, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	s := &httpSession{e: e, c: e.client()}
	if res := s.get(pathOf(t, link)); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Choose a new password") {
		t.Fatalf("the link's page: status %d", res.StatusCode)
	}
	form := url.Values{"token": {token.Query().Get("token")}, "password": {password}}
	if res := s.post("/reset/confirm", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting the password: status %d", res.StatusCode)
	}
	if link, err := e.app.adminPasswordLink(e.ctx); link != "" || err != nil {
		t.Errorf("a second start prints %q, %v; want nothing: the administrator has a password", link, err)
	}
	e.signInHTTP(adminEmail)
	res := s.post("/reset/confirm", form)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "This link has expired or was already used") {
		t.Errorf("the link used again: status %d", res.StatusCode)
	}
}

// TestInvitationsResendAndRevoke: resending replaces the invitation's link (the earlier one
// stops working); revoking makes the link say it is not valid, and frees the seat.
func TestInvitationsResendAndRevoke(t *testing.T) {
	e := newEnv(t)
	admin := e.signInHTTP(adminEmail)
	base := "/a/" + e.account()
	invite := func(email string) string {
		t.Helper()
		if res := admin.post(base+"/members/invite", url.Values{"email": {email}, "roles": {rbac.RoleDeveloper}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("invite %s: status %d", email, res.StatusCode)
		}
		return e.mail.last(t, email).Link
	}
	invitationID := func(email string) string {
		t.Helper()
		invs, err := e.app.IAM.Directory().Invitations(e.ctx, e.app.Boot.Admin, store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if inv.Email == email {
				return inv.ID
			}
		}
		return ""
	}
	accept := func(link string) response {
		t.Helper()
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		return (&httpSession{e: e, c: e.client()}).post("/invitations/accept", url.Values{"token": {u.Query().Get("token")}})
	}

	first := invite("a@example.test")
	if res := admin.post(base+"/invitations/"+invitationID("a@example.test")+"/resend", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: status %d", res.StatusCode)
	}
	second := e.mail.last(t, "a@example.test").Link
	if second == first || e.mail.count("a@example.test") != 2 {
		t.Fatalf("resend sent %d mails, new link: %v", e.mail.count("a@example.test"), second != first)
	}
	if res := accept(first); res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, "This invitation link is not valid") {
		t.Errorf("the replaced link: status %d", res.StatusCode)
	}
	if res := accept(second); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "You have joined Example") {
		t.Errorf("the resent link: status %d", res.StatusCode)
	}

	link := invite("b@example.test")
	if res := admin.post(base+"/invitations/"+invitationID("b@example.test")+"/revoke", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: status %d", res.StatusCode)
	}
	if id := invitationID("b@example.test"); id != "" {
		t.Errorf("the revoked invitation is still there: %s", id)
	}
	if res := accept(link); res.StatusCode != http.StatusNotFound {
		t.Errorf("the revoked invitation's link: status %d", res.StatusCode)
	}
}

// TestBotRenameAndCredentialRevoke: a bot user is renamed (a taken name is refused, by the
// field); a credential revoked from the dashboard stops authenticating.
func TestBotRenameAndCredentialRevoke(t *testing.T) {
	e := newEnv(t)
	admin := e.signInHTTP(adminEmail)
	base := "/a/" + e.account()
	for _, name := range []string{"ci", "deploy"} {
		if res := admin.post(base+"/bots", url.Values{"name": {name}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("create %s: status %d", name, res.StatusCode)
		}
	}
	ci := e.bot("ci")
	res := admin.post(base+"/bots/"+ci.ID+"/rename", url.Values{"name": {"deploy"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, `href="#name"`) || !strings.Contains(res.Body, "already has this name") {
		t.Errorf("renaming to a taken name: status %d", res.StatusCode)
	}
	if res := admin.post(base+"/bots/"+ci.ID+"/rename", url.Values{"name": {"ci-2"}}); res.StatusCode != http.StatusSeeOther || e.bot("ci-2").ID != ci.ID {
		t.Errorf("rename: status %d", res.StatusCode)
	}

	res = admin.post(base+"/credentials", url.Values{"kind": {"authtoken"}, "owner": {ci.ID}, "description": {"to revoke"}})
	i := strings.Index(res.Body, "iat_")
	if res.StatusCode != http.StatusOK || i < 0 {
		t.Fatalf("create: status %d", res.StatusCode)
	}
	token := res.Body[i : i+strings.IndexAny(res.Body[i:], `"<`)]
	p, err := e.app.IAM.Authenticate(e.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if res := admin.get(base + "/credentials/" + p.CredentialID + "/revoke"); !strings.Contains(res.Body, "Anything using it stops working at once") {
		t.Errorf("revoke confirmation: status %d", res.StatusCode)
	}
	if res := admin.post(base+"/credentials/"+p.CredentialID+"/revoke", url.Values{"from": {"bot"}}); res.StatusCode != http.StatusSeeOther || res.Location != base+"/bots/"+ci.ID {
		t.Errorf("revoke: status %d to %q, want back to the bot", res.StatusCode, res.Location)
	}
	e.sync()
	if _, err := e.app.IAM.Authenticate(e.ctx, token); !errors.Is(err, store.ErrUnauthenticated) {
		t.Errorf("the revoked authtoken: %v, want refused", err)
	}
}

// TestAuditLogFiltersAndPages: the audit log shows 50 events a page with a link to older
// ones, and its filters keep to one actor or one type of event across pages.
func TestAuditLogFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	dev := e.addMember("dev@example.test", rbac.RoleDeveloper)
	byDev := e.principal(dev.ID)
	for i := range 60 {
		if _, err := e.app.IAM.Credentials().Create(e.ctx, byDev, credential.CreateRequest{Kind: store.APIKey, Description: "key " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.signInHTTP(adminEmail)
	base := "/a/" + e.account()
	rows := func(body string) int { return strings.Count(body, `<td data-label="When">`) }
	older := regexp.MustCompile(`href="([^"]+)" rel="next"`)

	page := admin.get(base + "/audit?actor=dev%40example.test&type=api_key_created.v0")
	if n := rows(page.Body); n != pageSize || strings.Contains(page.Body, adminEmail+"</td>") {
		t.Fatalf("first page: %d rows (want %d), all by dev@example.test", n, pageSize)
	}
	m := older.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatal("no link to older events")
	}
	next, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if next.Query().Get("actor") != "dev@example.test" || next.Query().Get("type") != "api_key_created.v0" {
		t.Errorf("the next page's link %q drops the filters", next)
	}
	page = admin.get(next.String())
	if n := rows(page.Body); n != 10 || older.MatchString(page.Body) {
		t.Errorf("second page: %d rows (want 10), link to more: %v", n, older.MatchString(page.Body))
	}
	if page := admin.get(base + "/audit?actor=nobody"); rows(page.Body) != 0 || !strings.Contains(page.Body, "No events match these filters") {
		t.Errorf("an actor with no events: %d rows", rows(page.Body))
	}
}
