package main

import (
	"io"
	"net/http"
	"net/url"
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
