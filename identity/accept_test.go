package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestAcceptInvitation_OnlyTheInvitee: only the invited user, authenticated as itself (here
// through an API key of its own account), accepts; a team manager can neither accept for an
// existing user of another account nor complete an administrator invitation it could not
// have created. To anyone but the invitee the invitation reads as not found. The events name
// the real caller, its source and its credential.
func TestAcceptInvitation_OnlyTheInvitee(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	tm := e.Member(admin, "tm@example.com", rbac.RoleTeamManager)
	_, vic := e.Account("vic@example.com", "payg")
	vic.CredentialID = "ak_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"

	inv, err := e.Dir.Invite(e.Ctx, tm, "vic@example.com", []string{rbac.RoleTeamReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	boss, err := e.Dir.Invite(e.Ctx, admin, "boss@example.com", []string{rbac.RoleAdministrator})
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := e.IDs.NewIn(id.Invitation, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	bot := admin
	bot.Kind, bot.ID = identity.KindBotUser, "bot_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	for _, c := range []struct {
		name  string
		by    identity.Principal
		invID string
	}{
		{"team manager for vic", tm, inv.ID},
		{"administrator for vic", admin, inv.ID},
		{"team manager for an administrator", tm, boss.ID},
		{"a bot user", bot, inv.ID},
		{"vic, an unknown invitation", vic, unknown},
		{"vic, another's invitation", vic, boss.ID},
	} {
		_, err := e.Dir.AcceptInvitation(e.Ctx, c.by, c.invID)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
	if _, err := e.Dir.UserByEmail(e.Ctx, "boss@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused acceptance created a user: %v", err)
	}
	if _, err := e.Dir.Member(e.Ctx, admin, vic.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vic became a member without accepting: %v", err)
	}
	malformed := vic
	malformed.Kind = 0
	_, err = e.Dir.AcceptInvitation(e.Ctx, malformed, inv.ID)
	wantField(t, "malformed principal", err, "principal.kind")

	m, err := e.Dir.AcceptInvitation(e.Ctx, vic, inv.ID)
	if err != nil || m.UserID != vic.ID || m.AccountID != a.ID || !slices.Equal(m.Roles, []string{rbac.RoleTeamReadOnly}) {
		t.Fatalf("vic accepts: %+v, %v", m, err)
	}
	evs := e.Events(a.ID)[:2]
	for i, want := range []store.EventType{identity.EventMemberCreated, identity.EventInvitationAccepted} {
		if evs[i].Type != want || evs[i].Principal != vic.Audit() {
			t.Errorf("event %d: %+v, want %s by %+v", i, evs[i], want, vic.Audit())
		}
	}
	_, err = e.Dir.AcceptInvitation(e.Ctx, vic, inv.ID)
	wantErr(t, err, store.ErrNotFound) // accepted invitations are gone
}

// TestAcceptInvitationToken: the token proves control of the invited address. It creates the
// user of a person who has none (with the account's shard tag), joins an existing user (who
// keeps its name), works once, and is attributed to that user.
func TestAcceptInvitationToken(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	carol, err := e.Dir.Invite(e.Ctx, admin, "carol@example.com", []string{rbac.RoleDeveloper})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Dir.AcceptInvitationToken(e.Ctx, carol.Token.Reveal(), "Carol", identity.SourceDashboard)
	if err != nil || m.AccountID != a.ID || !slices.Equal(m.Roles, []string{rbac.RoleDeveloper}) {
		t.Fatalf("carol accepts: %+v, %v", m, err)
	}
	u, err := e.Dir.UserByEmail(e.Ctx, "carol@example.com")
	if err != nil || u.ID != m.UserID || u.Name != "Carol" || id.Tag(u.ID) != id.Tag(a.ID) {
		t.Fatalf("carol's user: %+v, %v (account %s)", u, err, a.ID)
	}
	ev := e.LastEvent(a.ID)
	if ev.Type != identity.EventMemberCreated || ev.Principal != (store.Principal{ID: u.ID, Subject: u.Email, Source: "dashboard"}) {
		t.Fatalf("event %+v", ev)
	}
	_, err = e.Dir.AcceptInvitationToken(e.Ctx, carol.Token.Reveal(), "Carol", identity.SourceDashboard)
	wantErr(t, err, store.ErrNotFound)

	_, dan := e.Account("dan@example.com", "payg")
	inv, err := e.Dir.Invite(e.Ctx, admin, "dan@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err = e.Dir.AcceptInvitationToken(e.Ctx, inv.Token.Reveal(), "Not Dan", identity.SourceDashboard)
	if err != nil || m.UserID != dan.ID {
		t.Fatalf("dan accepts: %+v, %v", m, err)
	}
	if u, _ := e.Dir.User(e.Ctx, dan, dan.ID); u.Name != "" {
		t.Fatalf("an existing user was renamed to %q", u.Name)
	}
	_, err = e.Dir.AcceptInvitationToken(e.Ctx, inv.Token.Reveal(), "", identity.Source("carrier pigeon"))
	wantField(t, "bad source", err, "source")
}

// TestInvitationToken_Secret: the token is long and random, stored only as a SHA-256 hash,
// never returned by reads nor recorded in events, and redacts itself wherever it is printed,
// logged or marshalled.
func TestInvitationToken_Secret(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	inv, err := e.Dir.Invite(e.Ctx, admin, "carol@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.Dir.Invite(e.Ctx, admin, "dan@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := inv.Token.Reveal()
	if len(tok) != identity.InvitationTokenLen || tok == other.Token.Reveal() || inv.Token.IsZero() || !(identity.InvitationToken{}).IsZero() {
		t.Fatalf("tokens %d characters, distinct: %v", len(tok), tok != other.Token.Reveal())
	}
	secret := tok[len(tok)-43:] // the 32 random bytes in base64url, which may hold '_' too
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("invited", "inv", inv, "token", inv.Token)
	js, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var txt []byte
	txt, _ = inv.Token.MarshalText()
	shown := []string{
		fmt.Sprint(inv.Token), fmt.Sprintf("%v %+v %#v %s %q %x", inv, inv, inv, inv.Token, inv.Token, inv.Token),
		string(js), logged.String(), string(txt),
	}
	for _, s := range shown {
		if strings.Contains(s, secret) || !strings.Contains(s, "[REDACTED]") {
			t.Errorf("token shown: %s", s)
		}
	}
	var stored store.Invitation
	err = e.Store.View(e.Ctx, func(r store.Reader) error {
		stored, err = r.Invitation(e.Ctx, inv.ID)
		return err
	})
	if err != nil || len(stored.TokenHash) != 64 || strings.Contains(stored.TokenHash, secret) {
		t.Fatalf("stored hash %q, %v", stored.TokenHash, err)
	}
	got, err := e.Dir.Invitation(e.Ctx, admin, inv.ID)
	list, _ := e.Dir.Invitations(e.Ctx, admin, store.Page{Limit: 10})
	if err != nil || got.TokenHash != "" || inv.TokenHash != "" || len(list) != 2 || list[0].TokenHash != "" || list[1].TokenHash != "" {
		t.Fatalf("a read returned the hash: %+v %+v %v", got, list, err)
	}
	evs := e.Events(a.ID)
	for _, ev := range evs {
		if bytes.Contains(ev.Object, []byte(stored.TokenHash)) || bytes.Contains(ev.Object, []byte("token_hash")) {
			t.Fatalf("event %s holds the token hash: %s", ev.Type, ev.Object)
		}
	}
}
