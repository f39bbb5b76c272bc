package main

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// outsider creates, through the library, a user with an account of its own and an API key
// there: someone an account may invite, who authenticates with a key of another account.
func (e *env) outsider(email string) (store.User, string) {
	e.t.Helper()
	ctx := e.t.Context()
	u, err := e.iam.Directory().CreateUser(ctx, email, "Outsider")
	if err != nil {
		e.t.Fatal(err)
	}
	acct, err := e.iam.Directory().CreateAccount(ctx, u.ID, "own", identity.PayAsYouGo().Name)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.iam.Directory().Principal(ctx, acct.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := e.iam.Credentials().Create(ctx, p, credential.CreateRequest{Kind: store.APIKey, Description: "own key"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u, k.Token.Reveal()
}

// memberOf reports whether userID is a member of the bootstrap account.
func (e *env) memberOf(userID string) bool {
	e.t.Helper()
	admin, err := e.iam.Directory().Principal(e.t.Context(), e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.iam.Directory().Member(e.t.Context(), admin, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

// TestAcceptInvitation_OnlyTheInvitee: only the invited user, calling with one of its own API
// keys (of any account), accepts an invitation; a team manager can neither accept for an
// existing user of another account nor complete an administrator invitation, nor does the
// endpoint create users. The events name the real caller and its key.
func TestAcceptInvitation_OnlyTheInvitee(t *testing.T) {
	e := newEnv(t)
	tm := e.addMember("tm@example.com", rbac.RoleTeamManager)
	tmKey := *e.createAPIKey(tm).Token
	vic, vicKey := e.outsider("vic@example.com")

	var inv, boss invitationOutT
	e.reqAs(tmKey, "POST", "/invitations", map[string]any{"email": "vic@example.com", "roles": []string{rbac.RoleTeamReadOnly}}).want(http.StatusCreated, &inv)
	e.req("POST", "/invitations", map[string]any{"email": "boss@example.com", "roles": []string{rbac.RoleAdministrator}}).want(http.StatusCreated, &boss)

	// Nobody accepts on another's behalf: the invitation reads as not found.
	e.reqAs(tmKey, "POST", "/invitations/"+inv.ID+"/accept", nil).wantError(http.StatusNotFound, "ERR_NGROK_10080")
	e.req("POST", "/invitations/"+inv.ID+"/accept", nil).wantError(http.StatusNotFound, "ERR_NGROK_10080")
	e.reqAs(tmKey, "POST", "/invitations/"+boss.ID+"/accept", nil).wantError(http.StatusNotFound, "ERR_NGROK_10080")
	e.reqAs(tmKey, "POST", "/invitations/"+boss.ID+"/accept", map[string]any{"name": "Boss"}).wantError(http.StatusBadRequest, "ERR_NGROK_214")
	e.reqAs(tmKey, "POST", "/invitations/"+inv.ID+"/accept", map[string]any{"user_id": vic.ID}).wantError(http.StatusBadRequest, "ERR_NGROK_214")
	if e.memberOf(vic.ID) {
		t.Fatal("the team manager made vic a member")
	}
	if _, err := e.iam.Directory().UserByEmail(t.Context(), "boss@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("accepting created a user: %v", err)
	}
	// A bot user's key is no invitee either.
	bot := e.createBot("ci")
	e.reqAs(*e.createAPIKey(bot.ID).Token, "POST", "/invitations/"+inv.ID+"/accept", nil).wantError(http.StatusNotFound, "ERR_NGROK_10080")

	// Vic accepts with a key of her own account.
	var m memberOutT
	e.reqAs(vicKey, "POST", "/invitations/"+inv.ID+"/accept", nil).want(http.StatusCreated, &m)
	if m.ID != vic.ID || !slices.Equal(m.Roles, []string{rbac.RoleTeamReadOnly}) || !e.memberOf(vic.ID) {
		t.Fatalf("member %+v", m)
	}
	vicKeyID := apiKeyIDOf(t, e, vicKey)
	var evs eventListT
	e.req("GET", "/events?limit=2", nil).want(http.StatusOK, &evs)
	for i, want := range []string{"member_created.v0", "invitation_accepted.v0"} {
		ev := evs.Events[i]
		p := ev.Principal
		if ev.EventType != want || p.ID != vic.ID || p.Subject != "vic@example.com" || p.Source != "API" || p.Credential == nil || p.Credential.ID != vicKeyID {
			t.Errorf("event %d: %+v, want %s by vic with her key %s", i, ev, want, vicKeyID)
		}
	}
}

// pastClock is a store.Clock running d behind the wall clock.
type pastClock time.Duration

func (c pastClock) Now() time.Time { return time.Now().Add(-time.Duration(c)) }

// TestAcceptInvitation_RefusedStoresNothing: accepting an expired invitation fails and stores
// nothing, whoever asks; before, the endpoint created the invited user first and left it.
func TestAcceptInvitation_RefusedStoresNothing(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	late, lateKey := e.outsider("late@example.com")
	// Invitations made two hours ago, valid for one: a Directory on a clock in the past.
	past, err := identity.New(e.st, e.iam.Authorizer(), identity.WithClock(pastClock(2*time.Hour)), identity.WithInvitationTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := past.Principal(ctx, e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	expire := func(email string) string {
		inv, err := past.Invite(ctx, admin, email, []string{rbac.RoleDeveloper})
		if err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	newcomer, lateInv := expire("new@example.com"), expire("late@example.com")
	before := e.snapshot()
	res := e.req("POST", "/invitations/"+newcomer+"/accept", map[string]any{})
	if _, err := e.iam.Directory().UserByEmail(ctx, "new@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused acceptance stored a user: %v", err)
	}
	res.wantError(http.StatusNotFound, "ERR_NGROK_10080")
	e.reqAs(lateKey, "POST", "/invitations/"+lateInv+"/accept", nil).wantError(http.StatusBadRequest, "ERR_NGROK_4404")
	if e.memberOf(late.ID) {
		t.Fatal("an expired invitation made a member")
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused acceptances changed the store: %+v, was %+v", after, before)
	}
}
