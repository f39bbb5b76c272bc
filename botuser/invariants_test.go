package botuser_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Invariant 1: a bot user belongs to exactly one account, fixed at creation.
func TestInvariant1_BotBelongsToOneAccount(t *testing.T) {
	e := newEnv(t)
	a, adminA := e.Account("a@example.com", "payg")
	b, adminB := e.Account("b@example.com", "payg")
	bot := e.create(adminA, "ci")
	if bot.AccountID != a.ID {
		t.Fatalf("bot in %s", bot.AccountID)
	}
	// Through account B it does not exist.
	_, err := e.bots.Get(e.Ctx, adminB, bot.ID)
	wantErr(t, err, store.ErrNotFound)
	on := true
	_, err = e.bots.Update(e.Ctx, adminB, bot.ID, botuser.UpdateParams{Active: &on})
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, e.bots.Delete(e.Ctx, adminB, bot.ID), store.ErrNotFound)
	_, err = e.Dir.Principal(e.Ctx, b.ID, bot.ID, identity.SourceAPI, "")
	wantErr(t, err, store.ErrNotFound)
	// A principal built by hand for B is denied everything there.
	forged := identity.Principal{ID: bot.ID, Kind: identity.KindBotUser, AccountID: b.ID, Subject: "ci", Source: identity.SourceAPI}
	if d, _ := e.Authz.Check(e.Ctx, forged, rbac.CredentialsRead); d.Allowed || d.Reason != rbac.ReasonNotMember {
		t.Fatalf("bot acting in another account: %v", d)
	}
	// It cannot become a member of any account: it is not a user.
	_, err = e.Dir.AddMember(e.Ctx, adminB, bot.ID, nil)
	wantErr(t, err, store.ErrInvalid)
	// No API moves it; the store refuses it too.
	err = e.Store.Update(e.Ctx, func(tx store.Tx) error {
		moved := bot
		moved.AccountID = b.ID
		return tx.PutBotUser(e.Ctx, moved)
	})
	if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != store.CodeImmutable {
		t.Fatalf("moving a bot through the store: %v", err)
	}
	got, err := e.bots.Get(e.Ctx, adminA, bot.ID)
	if err != nil || got.AccountID != a.ID {
		t.Fatalf("after all that: %+v, %v", got, err)
	}
}

// Invariant 2: a bot user can never obtain a dashboard session.
func TestInvariant2_BotNeverLogsIn(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "ci@example.com") // a name that looks like an email
	p := e.Principal(a.ID, bot.ID)
	if p.Kind != identity.KindBotUser || !p.IsBot() {
		t.Fatalf("principal kind %v", p.Kind)
	}
	if err := botuser.CanLogIn(p); store.CodeOf(err) != botuser.CodeNoDashboard {
		t.Fatalf("CanLogIn(bot) = %v", err)
	}
	// Mislabelled as a user, its ID still gives it away.
	p.Kind = identity.KindUser
	if err := botuser.CanLogIn(p); store.CodeOf(err) != botuser.CodeNoDashboard {
		t.Fatalf("CanLogIn(bot labelled user) = %v", err)
	}
	if err := botuser.CanLogInID(bot.ID); store.CodeOf(err) != botuser.CodeNoDashboard {
		t.Fatalf("CanLogInID(bot) = %v", err)
	}
	if err := botuser.CanLogIn(admin); err != nil {
		t.Fatalf("CanLogIn(user) = %v", err)
	}
	if err := botuser.CanLogInID(a.ID); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("CanLogInID(account) = %v", err)
	}
	// An SSO or password login finds users by email: a bot's name is never one.
	_, err := e.Dir.UserByEmail(e.Ctx, "ci@example.com")
	wantErr(t, err, store.ErrNotFound)
	// Nor can a bot accept an invitation: to a bot principal it does not exist, and a
	// principal that claims to be a user with a bot's ID is malformed.
	inv, err := e.Dir.Invite(e.Ctx, admin, "ci@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	bp := e.Principal(a.ID, bot.ID)
	_, err = e.Dir.AcceptInvitation(e.Ctx, bp, inv.ID)
	wantErr(t, err, store.ErrNotFound)
	bp.Kind = identity.KindUser
	_, err = e.Dir.AcceptInvitation(e.Ctx, bp, inv.ID)
	wantErr(t, err, store.ErrInvalid)
}

// Invariant 3: bot users never take a seat.
func TestInvariant3_BotsDoNotUseSeats(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("a@example.com", "two") // two seats, the founder holds one
	for _, name := range []string{"ci", "deploy", "backup", "monitor", "etl"} {
		e.create(admin, name)
	}
	seats, err := e.Dir.Seats(e.Ctx, admin)
	if err != nil || seats.Used() != 1 {
		t.Fatalf("Seats = %+v, %v", seats, err)
	}
	if _, err := e.Dir.Invite(e.Ctx, admin, "b@example.com", nil); err != nil {
		t.Fatalf("second seat with five bots: %v", err)
	}
	_, err = e.Dir.Invite(e.Ctx, admin, "c@example.com", nil)
	wantCode(t, err, store.ErrLimitExceeded, identity.CodeSeatLimit)
	// Bots can still be created on a full account.
	e.create(admin, "one-more")
}

// Invariant 5: deactivating a bot user suspends all its credentials in one write, without
// touching them; reactivating restores them.
func TestInvariant5_DeactivatingBotSuspendsCredentials(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "ci")
	other := e.create(admin, "other")
	var creds []store.Credential
	for range 50 {
		creds = append(creds, e.Credential(a.ID, bot.ID))
	}
	untouched := e.Credential(a.ID, other.ID)

	off, on := false, true
	writes := e.WritesOf(func() {
		got, err := e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Active: &off})
		if err != nil || got.Active {
			t.Fatalf("Update = %+v, %v", got, err)
		}
	})
	if len(writes) != 1 || writes[0].Kind != store.KindBotUser || writes[0].ID != bot.ID {
		t.Fatalf("deactivation wrote %v, want the bot user only", writes)
	}
	for _, c := range creds {
		got, state, err := e.Auth(c.ID)
		if err != nil || state != store.OwnerInactive || got.SecretHash != c.SecretHash {
			t.Fatalf("credential of an inactive bot: %v, %v", state, err)
		}
	}
	if _, state, _ := e.Auth(untouched.ID); state != store.OwnerActive {
		t.Fatalf("another bot's credential: %v", state)
	}
	bp := e.Principal(a.ID, bot.ID)
	if d, _ := e.Authz.Check(e.Ctx, bp, rbac.CredentialsRead); d.Allowed || d.Reason != rbac.ReasonInactive {
		t.Fatalf("inactive bot acts: %v", d)
	}
	writes = e.WritesOf(func() {
		if _, err := e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Active: &on}); err != nil {
			t.Fatal(err)
		}
	})
	if len(writes) != 1 {
		t.Fatalf("reactivation wrote %v", writes)
	}
	for _, c := range creds {
		if _, state, err := e.Auth(c.ID); err != nil || state != store.OwnerActive {
			t.Fatalf("credential of a reactivated bot: %v, %v", state, err)
		}
	}
}

// Invariant 6: deleting a bot user revokes all its credentials atomically: one small commit
// (the bot and a tombstone) after which no read finds them; they are purged later
// (credential.TestPurge_BotWithManyCredentials).
func TestInvariant6_DeletingBotDeletesCredentials(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "ci")
	keep := e.create(admin, "keep")
	var creds []store.Credential
	for range 10 {
		creds = append(creds, e.Credential(a.ID, bot.ID))
	}
	kept := e.Credential(a.ID, keep.ID)
	writes := e.WritesOf(func() {
		if err := e.bots.Delete(e.Ctx, admin, bot.ID); err != nil {
			t.Fatal(err)
		}
	})
	if len(writes) != 2 || writes[0].Kind != store.KindBotUser || writes[1].Kind != store.KindTombstone {
		t.Fatalf("deletion wrote %v, want the bot and the tombstone of its 10 credentials in one commit", writes)
	}
	for _, c := range creds {
		if _, _, err := e.Auth(c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("credential of a deleted bot: %v", err)
		}
	}
	if _, state, err := e.Auth(kept.ID); err != nil || state != store.OwnerActive {
		t.Fatalf("other bot's credential: %v, %v", state, err)
	}
	_, err := e.bots.Get(e.Ctx, admin, bot.ID)
	wantErr(t, err, store.ErrNotFound)
	// A new bot with the same name is a new principal: nothing comes back.
	again := e.create(admin, "ci")
	if again.ID == bot.ID {
		t.Fatal("ID reused")
	}
	var left []store.Credential
	e.Store.View(e.Ctx, func(r store.Reader) error {
		var err error
		left, err = r.CredentialsByOwner(e.Ctx, a.ID, again.ID, store.Page{Limit: 100})
		return err
	})
	if len(left) != 0 {
		t.Fatalf("credentials restored: %v", left)
	}
}

// Invariant 8: every bot user mutation records an event attributed to the principal.
func TestInvariant8_BotMutationsRecordEvents(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	admin.CredentialID = "ak_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	bot := e.create(admin, "ci")
	check := func(want store.EventType) {
		t.Helper()
		ev := e.LastEvent(a.ID)
		if ev.Type != want || ev.Principal != admin.Audit() || len(ev.Object) == 0 {
			t.Fatalf("event %+v, want %s by %+v", ev, want, admin.Audit())
		}
	}
	check(identity.EventBotUserCreated)
	name := "ci-2"
	e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Name: &name})
	check(identity.EventBotUserUpdated)
	e.bots.Delete(e.Ctx, admin, bot.ID)
	check(identity.EventBotUserDeleted)
}
