package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
	"github.com/iamkit/iamkit/internal/browsertest"
	"github.com/iamkit/iamkit/store"
)

// startEdge runs the tunnel edge (examples/tunneledge) on the dashboard's Verifier and
// returns a function that opens a session with a token: nil, or the edge's refusal.
func startEdge(t *testing.T, e *env) func(token string) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tunnel.New(e.app.IAM.Verifier()).Serve(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func(token string) error {
		t.Helper()
		dctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		s, err := tunnel.Dial(dctx, ln.Addr().String(), tunnel.Request{Authtoken: token, Bind: "app.example.test"})
		if err != nil {
			return err
		}
		return s.Close()
	}
}

// refusedWith fails the test unless err is the edge's refusal with code.
func refusedWith(t *testing.T, what string, err error, code string) {
	t.Helper()
	var te *tunnel.Error
	if !errors.As(err, &te) || te.Code != code {
		t.Errorf("%s: the edge answered %v, want a refusal %s", what, err, code)
	}
}

// TestBrowserTeamAndBots drives the team and bot pages with Chromium: the administrator
// invites a member, who accepts in a second browser and chooses a password; their roles
// change; disabling them ends their session at their next click, and their password is
// refused until they are enabled; the last administrator cannot be disabled; they are
// removed after a confirmation. A bot user gets an authtoken, shown once, that the tunnel
// edge accepts; deactivating the bot makes the edge refuse it and reactivating lets it in
// again; deleting the bot, after a confirmation that says its credential goes too, revokes
// it. The administrator then turns on two-factor authentication and signs in with a
// recovery code.
func TestBrowserTeamAndBots(t *testing.T) {
	e := newEnv(t)
	dial := startEdge(t, e)
	base := e.URL + "/a/" + e.account()

	second, err := e.app.IAM.Directory().CreateAccount(e.ctx, e.app.Boot.Admin.ID, "Second", "enterprise")
	if err != nil {
		t.Fatal(err)
	}

	// The administrator signs in with the keyboard alone: Tab to the email field, type,
	// Tab, type the password, Enter. A member of two accounts picks one.
	b := browsers.New(t)
	b.Navigate(e.URL + "/login")
	checkPage(t, b, "login")
	for i := 0; focused(t, b) != "email"; i++ {
		if i == 5 {
			t.Fatalf("Tab does not reach the email field (at %q)", focused(t, b))
		}
		keys(t, b, "\t")
	}
	keys(t, b, adminEmail+"\t")
	if got := focused(t, b); got != "password" {
		t.Fatalf("Tab from the email goes to %q, want the password", got)
	}
	keys(t, b, password+"\r")
	b.WaitURL(browsertest.HasPath("/accounts"))
	contains(t, "account picker", b.Text("main"), "Example", "Second")
	checkPage(t, b, "accounts")

	// A tab on each account: signing in to the second keeps the first's session.
	b.ClickAndWait("a.choice[href*='" + second.ID + "']")
	b.Fill("#password", password)
	b.ClickAndWait("#sign-in")
	b.WaitURL(browsertest.HasPrefix(e.URL + "/a/" + second.ID + "/"))
	b.Navigate(e.URL + "/accounts")
	b.ClickAndWait("a.choice[href='/a/" + e.account() + "/']")
	b.WaitVisible("#send-invitation")
	if got := b.Text("h1"); got != "Team members" {
		t.Fatalf("the administrator lands on %q", got)
	}
	b.Navigate(e.URL + "/a/" + second.ID + "/members")
	if got := b.Text("h1"); got != "Team members" || !strings.Contains(b.Text("header"), "Second") {
		t.Fatalf("the second account's tab: %q", b.Text("header"))
	}
	b.Navigate(base + "/members")

	// Invite someone as a developer only.
	b.Fill("#email", "new@example.test")
	b.Click("#role-team_invite") // on by default
	b.ClickAndWait("#send-invitation")
	contains(t, "after inviting", b.Text(".notice"), "Invitation sent to new@example.test")
	contains(t, "invitations", b.Text("main"), "new@example.test", "Developer")
	checkPage(t, b, "members")

	// The invited person opens the mailed link in a browser of their own, accepts, chooses a
	// password and is in.
	nb := browsers.New(t)
	nb.Navigate(e.mail.last(t, "new@example.test").Link)
	checkPage(t, nb, "invitation")
	nb.Fill("#name", "New Person")
	nb.ClickAndWait("#accept")
	contains(t, "after accepting", nb.Text("main"), "You have joined Example", "new@example.test")
	checkPage(t, nb, "reset-password")
	nb.Fill("#password", "short")
	if status := nb.ClickAndWait("#save-password"); status != http.StatusBadRequest {
		t.Errorf("a short password: status %d, want 400", status)
	}
	contains(t, "short password", nb.Text("#error-summary"), "Use at least 12 characters")
	checkPage(t, nb, "reset-password-error")
	nb.Fill("#password", password)
	nb.ClickAndWait("#save-password")
	nb.WaitURL(browsertest.HasPrefix(base + "/"))
	nb.WaitVisible("h1")
	if got := nb.Text("h1"); got != "Bot users" { // a developer sees no members
		t.Errorf("the new member lands on %q", got)
	}
	newcomer := e.member("new@example.test")

	// The administrator makes them a developer and team read-only member too.
	b.Navigate(base + "/members/" + newcomer.UserID)
	b.Click("#role-team_read_only")
	b.ClickAndWait("#save-roles")
	contains(t, "roles", b.Text("#member-roles"), "Developer", "Team (read-only)")
	checkPage(t, b, "member")

	// Disabled: the member's next click ends their session, and their password is refused.
	b.ClickAndWait("#disable")
	contains(t, "disabled", b.Text("#member-status"), "disabled")
	nb.ClickAndWait("nav.menu a[href$='/credentials']")
	contains(t, "ended session", nb.Text("main"), "Your session in Example has ended")
	nb.Fill("#email", "new@example.test")
	nb.Fill("#password", password)
	if status := nb.ClickAndWait("#sign-in"); status != http.StatusForbidden {
		t.Errorf("a disabled member's password: status %d, want 403", status)
	}
	contains(t, "disabled member's sign-in", nb.Text("#error-summary"), "Your membership of this account is disabled")
	b.ClickAndWait("#enable")
	contains(t, "enabled", b.Text("#member-status"), "active")
	nb.Fill("#password", password)
	nb.ClickAndWait("#sign-in")
	nb.WaitURL(browsertest.HasPrefix(base + "/"))

	// The last administrator: no way to disable or remove them, and the page says why.
	b.Navigate(base + "/members/" + e.app.Boot.Admin.ID)
	contains(t, "last administrator", b.Text("#last-admin"), "last active administrator", "Make another member an administrator first")

	// Removal, after a confirmation that says what happens to their credentials.
	b.Navigate(base + "/members/" + newcomer.UserID)
	b.ClickAndWait("#remove")
	contains(t, "confirmation", b.Text("main"), "Remove new@example.test from Example?", "They hold no credentials in this account")
	checkPage(t, b, "member-remove")
	b.ClickAndWait("#confirm-remove")
	contains(t, "removed", b.Text(".notice"), "new@example.test was removed")

	// A bot user and an authtoken for it, shown once, which the tunnel edge accepts.
	b.Navigate(base + "/bots")
	b.Fill("#name", "ci")
	b.ClickAndWait("#create-bot")
	contains(t, "bot created", b.Text(".notice"), "Bot user ci created")
	b.Navigate(base + "/bots")
	checkPage(t, b, "bots")
	b.ClickAndWait("a[href$='/bots/" + e.bot("ci").ID + "']")
	b.ClickAndWait("#new-credential")
	b.Fill("#description", "CI deploys")
	setValue(t, b, "#acl", "bind:*.example.test")
	checkPage(t, b, "credential-new")
	b.ClickAndWait("#create-credential")
	contains(t, "created", b.Text("main"), "shown only this once", "ci (bot)")
	token := value(t, b, "#token")
	if !strings.HasPrefix(token, "iat_") {
		t.Fatalf("the page shows %q, want an authtoken", token)
	}
	checkPage(t, b, "credential-created")
	if err := dial(token); err != nil {
		t.Fatalf("the edge refuses the new authtoken: %v", err)
	}
	b.ClickAndWait("#done")
	contains(t, "credentials", b.Text("main"), "CI deploys", "ci (bot)")

	// Deactivated, its authtoken is refused; reactivated, accepted.
	bot := e.bot("ci")
	b.Navigate(base + "/bots/" + bot.ID)
	b.ClickAndWait("#deactivate")
	contains(t, "deactivated", b.Text("#bot-status"), "deactivated")
	checkPage(t, b, "bot")
	refusedWith(t, "a deactivated bot's authtoken", dial(token), tunnel.CodeOwnerInactive)
	b.ClickAndWait("#activate")
	if err := dial(token); err != nil {
		t.Errorf("the reactivated bot's authtoken: %v", err)
	}

	// Deleted, after a confirmation that names what is revoked.
	b.ClickAndWait("#delete")
	contains(t, "delete confirmation", b.Text("#credential-count"), "Its 1 credential (1 authtoken) will be revoked")
	checkPage(t, b, "bot-delete")
	b.ClickAndWait("#confirm-delete")
	contains(t, "deleted", b.Text(".notice"), "Bot user ci deleted")
	refusedWith(t, "a deleted bot's authtoken", dial(token), tunnel.CodeAuthtokenInvalid)

	// An API key of one's own, listed with its owner.
	b.Navigate(base + "/credentials/new?kind=api_key")
	b.Fill("#description", "laptop")
	b.ClickAndWait("#create-credential")
	b.ClickAndWait("#done")
	contains(t, "API keys", b.Text("main"), "laptop", adminEmail)
	checkPage(t, b, "credentials")

	// The audit log, filtered to what happened to bot users.
	b.Navigate(base + "/audit?type=bot_user_updated.v0")
	contains(t, "audit log", b.Text("main"), "Bot user updated", adminEmail)
	b.Navigate(base + "/audit")
	checkPage(t, b, "audit")

	// Two-factor authentication with an authenticator app; the next sign-in asks for a code
	// and takes a recovery code.
	b.Navigate(base + "/security")
	b.ClickAndWait("#begin-totp")
	checkPage(t, b, "totp-setup")
	code, err := totp.GenerateCode(b.Text("#totp-secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.Fill("#code", code)
	b.ClickAndWait("#confirm")
	checkPage(t, b, "recovery-codes")
	codes := strings.Fields(value(t, b, "#recovery-codes"))
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown", len(codes))
	}
	b.ClickAndWait("#continue")
	contains(t, "security", b.Text("#totp-state"), "On since")
	checkPage(t, b, "security")
	b.ClickAndWait("header form button")
	contains(t, "signed out", b.Text(".notice"), "You have signed out of Example")
	b.Fill("#email", adminEmail)
	b.Fill("#password", password)
	b.ClickAndWait("#sign-in")
	b.WaitVisible("#code")
	checkPage(t, b, "second-factor")
	b.Fill("#code", codes[0])
	b.ClickAndWait("#verify")
	b.WaitURL(browsertest.HasPrefix(base + "/"))
	contains(t, "after a recovery code", b.Text(".notice"), "You used a recovery code, and have 9 left")
}

// bot returns the account's bot user with a name.
func (e *env) bot(name string) store.BotUser {
	e.t.Helper()
	bots, err := e.app.IAM.BotUsers().List(e.ctx, e.app.Boot.Admin, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range bots {
		if b.Name == name {
			return b
		}
	}
	e.t.Fatalf("no bot user %s", name)
	return store.BotUser{}
}

// focused returns the id of the element that has the keyboard focus.
func focused(t *testing.T, b *browsertest.Browser) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), browsertest.DefaultTimeout)
	defer cancel()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// keys types keys as key events (\t is Tab, \r is Enter) into whatever has the focus.
func keys(t *testing.T, b *browsertest.Browser, k string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), browsertest.DefaultTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
		t.Fatal(err)
	}
}
