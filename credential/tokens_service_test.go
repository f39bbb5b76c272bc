package credential_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// tokEnv is a payg account (RBAC) on a fake clock, with the credential Service and a running
// Verifier reading that clock.
type tokEnv struct {
	*testenv.Env
	creds      *credential.Service
	v          *credential.Verifier
	admin, dev identity.Principal
	bot        identity.Principal
}

func newTokEnv(t *testing.T) *tokEnv {
	t.Helper()
	b := testenv.New(t, nil)
	creds, err := credential.NewService(b.Store, b.Authz, credential.WithClock(b.Clock))
	if err != nil {
		t.Fatal(err)
	}
	e := &tokEnv{Env: b, creds: creds}
	_, e.admin = b.Account("admin@example.com", identity.PayAsYouGo().Name)
	e.dev = b.Member(e.admin, "dev@example.com", rbac.RoleDeveloper)
	bots, err := botuser.New(b.Store, b.Authz, botuser.WithClock(b.Clock))
	if err != nil {
		t.Fatal(err)
	}
	bot, err := bots.Create(b.Ctx, e.admin, botuser.CreateParams{Name: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	e.bot = b.Principal(e.admin.AccountID, bot.ID)
	e.v = verifier(t, b.Store, credential.WithClock(b.Clock), credential.WithAuthorizer(b.Authz))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.sync()
	return e
}

// sync makes the Verifier see every write made so far.
func (e *tokEnv) sync() {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx, 10*time.Second)
	defer cancel()
	if err := e.v.Sync(ctx); err != nil {
		e.T.Fatalf("Sync: %v", err)
	}
}

func (e *tokEnv) create(by identity.Principal, req credential.CreateRequest) credential.Issued {
	e.T.Helper()
	iss, err := e.creds.Create(e.Ctx, by, req)
	if err != nil {
		e.T.Fatalf("Create %+v: %v", req, err)
	}
	e.sync()
	return iss
}

// wantError fails unless err matches kind with code and names field.
func wantError(t *testing.T, what string, err, kind error, code, field string) *store.Error {
	t.Helper()
	var se *store.Error
	if !errors.Is(err, kind) || !errors.As(err, &se) || se.Code != code || se.Field != field {
		t.Fatalf("%s: %v, want %v with code %s on %q", what, err, kind, code, field)
	}
	return se
}

// TestCreate_AccessTokenScopes: an access token needs scopes, each a registered permission
// held by its creator (within the creator's own scope when it acts with a token), no
// duplicate; other kinds take none.
func TestCreate_AccessTokenScopes(t *testing.T) {
	e := newTokEnv(t)
	devToken := e.create(e.dev, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"credentials:read", "credentials:write"}})
	res, err := e.v.VerifyToken(e.Ctx, devToken.Token.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	asToken := res.Principal(identity.SourceAPI)
	for _, c := range []struct {
		name   string
		by     identity.Principal
		kind   store.CredentialKind
		scopes []string
		err    error
		code   string
		field  string
	}{
		{"no_scopes", e.dev, store.AccessToken, nil, store.ErrInvalid, store.CodeRequired, "scopes"},
		{"unknown_scope", e.dev, store.AccessToken, []string{"credentials:read", "widgets:fly"}, store.ErrInvalid, rbac.CodeUnknownPermission, "scopes[1]"},
		{"duplicate_scope", e.dev, store.AccessToken, []string{"tunnel:start", "tunnel:start"}, store.ErrInvalid, store.CodeInvalidValue, "scopes[1]"},
		{"scope_the_creator_lacks", e.dev, store.AccessToken, []string{"credentials:read", "members:manage"}, store.ErrDenied, rbac.CodeExceedsGrantor, "members:manage"},
		{"scope_outside_the_creators_token", asToken, store.AccessToken, []string{"tunnel:start"}, store.ErrDenied, rbac.CodeExceedsGrantor, "tunnel:start"},
		{"scopes_on_an_api_key", e.dev, store.APIKey, []string{"credentials:read"}, store.ErrInvalid, store.CodeInvalidValue, "scopes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.creds.Create(e.Ctx, c.by, credential.CreateRequest{Kind: c.kind, Scopes: c.scopes})
			wantError(t, "Create", err, c.err, c.code, c.field)
		})
	}
	// A token within the creator's token's scope is fine, and records its scopes.
	e.Clock.Advance(time.Second) // its event is the newest
	sub, err := e.creds.Create(e.Ctx, asToken, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"credentials:read"}})
	if err != nil || sub.Kind != store.AccessToken || len(sub.Scopes) != 1 || !strings.HasPrefix(sub.Token.Reveal(), "iap_") {
		t.Fatalf("a token made with a token: %+v, %v", sub.Credential, err)
	}
	ev := e.LastEvent(e.admin.AccountID)
	if ev.Type != identity.EventAccessTokenCreated || ev.Principal.CredentialID != devToken.ID {
		t.Fatalf("event %s by %+v", ev.Type, ev.Principal)
	}
}

// TestAccessToken_ActsWithinScopeAndOwnerRoles: an access token's principal may do what its
// scopes allow of what its owner's roles grant now: refused outside its scopes, and
// shrinking with its owner's demotion, through the services' own checks.
func TestAccessToken_ActsWithinScopeAndOwnerRoles(t *testing.T) {
	e := newTokEnv(t)
	iss := e.create(e.dev, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"credentials:read", "credentials:write"}})
	principal := func() identity.Principal {
		res, err := e.v.VerifyToken(e.Ctx, iss.Token.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		return res.Principal(identity.SourceAPI)
	}
	p := principal()
	if _, err := e.creds.Create(e.Ctx, p, credential.CreateRequest{Kind: store.Authtoken}); err != nil {
		t.Fatalf("credentials:write within scope: %v", err)
	}
	if _, err := e.Authz.Events(e.Ctx, p, store.Page{Limit: 1}); store.CodeOf(err) != rbac.CodeOutOfScope {
		t.Fatalf("events:read, which the developer holds but the token's scope lacks: %v", err)
	}
	if _, err := e.Dir.SetMemberRoles(e.Ctx, e.admin, e.dev.ID, []string{rbac.RoleDeveloperReadOnly}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	p = principal()
	if _, err := e.creds.Create(e.Ctx, p, credential.CreateRequest{Kind: store.Authtoken}); store.CodeOf(err) != rbac.CodeNoRole {
		t.Fatalf("credentials:write after the owner's demotion: %v", err)
	}
	if _, err := e.creds.List(e.Ctx, p, store.Authtoken, store.Page{Limit: 10}); err != nil {
		t.Fatalf("credentials:read after the demotion: %v", err)
	}
}

// TestLifetimePolicy: the account's policy bounds new credentials' expiry per kind (a
// credential created without one gets the maximum) and updates' too, refusing with the
// maximum in seconds as the Limit; only administrators set it, and setting it is an event.
func TestLifetimePolicy(t *testing.T) {
	e := newTokEnv(t)
	policy := store.CredentialPolicy{APIKeyMaxLifetime: 30 * 24 * time.Hour, AccessTokenMaxLifetime: time.Hour}
	_, err := e.creds.SetPolicy(e.Ctx, e.dev, policy)
	if code, _ := denial(err); code != rbac.CodeNoRole {
		t.Fatalf("a developer sets the policy: %v", err)
	}
	if _, err := e.creds.SetPolicy(e.Ctx, e.admin, store.CredentialPolicy{APIKeyMaxLifetime: time.Second / 2}); invalidField(err) != "api_key_max_lifetime" {
		t.Fatalf("half a second: %v", err)
	}
	e.Clock.Advance(time.Second) // the event below is the newest
	if _, err := e.creds.SetPolicy(e.Ctx, e.admin, policy); err != nil {
		t.Fatal(err)
	}
	ev := e.LastEvent(e.admin.AccountID)
	var obj identity.AccountObject
	if err := json.Unmarshal(ev.Object, &obj); err != nil || ev.Type != identity.EventAccountUpdated ||
		obj.CredentialPolicy.AccessTokenMaxLifetime != 3600 || obj.CredentialPolicy.APIKeyMaxLifetime != 30*24*3600 {
		t.Fatalf("event %s %s", ev.Type, ev.Object)
	}
	if got, err := e.creds.Policy(e.Ctx, e.dev); err != nil || got != policy {
		t.Fatalf("Policy = %+v, %v", got, err)
	}
	now := e.Clock.Now()
	for _, c := range []struct {
		name    string
		kind    store.CredentialKind
		expires time.Time
		want    time.Time // zero with refuse
		refuse  int       // the Limit of the refusal, in seconds
	}{
		{"api_key_without_expiry_gets_the_maximum", store.APIKey, time.Time{}, now.Add(30 * 24 * time.Hour), 0},
		{"api_key_within", store.APIKey, now.Add(24 * time.Hour), now.Add(24 * time.Hour), 0},
		{"api_key_at_the_maximum", store.APIKey, now.Add(30 * 24 * time.Hour), now.Add(30 * 24 * time.Hour), 0},
		{"api_key_a_second_beyond", store.APIKey, now.Add(30*24*time.Hour + time.Second), time.Time{}, 30 * 24 * 3600},
		{"access_token_beyond", store.AccessToken, now.Add(2 * time.Hour), time.Time{}, 3600},
		{"authtoken_without_a_maximum", store.Authtoken, time.Time{}, time.Time{}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := credential.CreateRequest{Kind: c.kind, ExpiresAt: c.expires}
			if c.kind == store.AccessToken {
				req.Scopes = []string{"credentials:read"}
			}
			iss, err := e.creds.Create(e.Ctx, e.dev, req)
			if c.refuse != 0 {
				se := wantError(t, "Create", err, store.ErrInvalid, credential.CodeLifetimeExceedsPolicy, "expires_at")
				if se.Limit != c.refuse {
					t.Fatalf("Limit = %d, want %d", se.Limit, c.refuse)
				}
				return
			}
			if err != nil || !iss.ExpiresAt.Equal(c.want) {
				t.Fatalf("Create: expires %v, %v; want %v", iss.ExpiresAt, err, c.want)
			}
		})
	}
	_, err = e.creds.Create(e.Ctx, e.dev, credential.CreateRequest{Kind: store.Authtoken, ExpiresAt: now})
	wantError(t, "an expiry that is now", err, store.ErrInvalid, store.CodeOutOfRange, "expires_at")
	// Updates: the whole lifetime, from the creation, stays within the maximum.
	key := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey, ExpiresAt: now.Add(time.Hour)})
	e.Clock.Advance(24 * time.Hour)
	never := time.Time{}
	_, err = e.creds.Update(e.Ctx, e.dev, key.ID, credential.UpdateRequest{ExpiresAt: &never})
	wantError(t, "an update to never", err, store.ErrInvalid, credential.CodeLifetimeExceedsPolicy, "expires_at")
	beyond := now.Add(30*24*time.Hour + time.Second)
	_, err = e.creds.Update(e.Ctx, e.dev, key.ID, credential.UpdateRequest{ExpiresAt: &beyond})
	wantError(t, "an update beyond the lifetime", err, store.ErrInvalid, credential.CodeLifetimeExceedsPolicy, "expires_at")
	within := now.Add(29 * 24 * time.Hour)
	if c, err := e.creds.Update(e.Ctx, e.dev, key.ID, credential.UpdateRequest{ExpiresAt: &within}); err != nil || !c.ExpiresAt.Equal(within) {
		t.Fatalf("an update within: %v, %v", c.ExpiresAt, err)
	}
	past := e.Clock.Now().Add(-time.Minute)
	_, err = e.creds.Update(e.Ctx, e.dev, key.ID, credential.UpdateRequest{ExpiresAt: &past})
	wantError(t, "an update to the past", err, store.ErrInvalid, store.CodeOutOfRange, "expires_at")
}

// TestAllowedIPs_CreateAndUpdate: a credential's allow-list is normalized when written,
// refused when invalid, visible on the credential, and changed by an update.
func TestAllowedIPs_CreateAndUpdate(t *testing.T) {
	e := newTokEnv(t)
	iss := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey, AllowedIPs: []string{"192.0.2.7", "2001:db8::/32"}})
	if got := iss.AllowedIPs; len(got) != 2 || got[0] != "192.0.2.7/32" || got[1] != "2001:db8::/32" {
		t.Fatalf("AllowedIPs = %q", got)
	}
	if _, err := e.v.VerifyFrom(e.Ctx, store.APIKey, iss.Token.Reveal(), netip.MustParseAddr("192.0.2.7")); err != nil {
		t.Fatal(err)
	}
	_, err := e.v.VerifyFrom(e.Ctx, store.APIKey, iss.Token.Reveal(), netip.MustParseAddr("192.0.2.8"))
	wantReason(t, "another address", err, credential.ReasonIPNotAllowed)
	_, err = e.creds.Create(e.Ctx, e.dev, credential.CreateRequest{Kind: store.Authtoken, AllowedIPs: []string{"10.0.0.1/8"}})
	wantError(t, "host bits set", err, store.ErrInvalid, credential.CodeInvalidAllowedIP, "allowed_ips[0]")
	none := []string{}
	c, err := e.creds.Update(e.Ctx, e.dev, iss.ID, credential.UpdateRequest{AllowedIPs: &none})
	if err != nil || len(c.AllowedIPs) != 0 {
		t.Fatalf("clearing the allow-list: %v, %v", c.AllowedIPs, err)
	}
	e.sync()
	if _, err := e.v.VerifyFrom(e.Ctx, store.APIKey, iss.Token.Reveal(), netip.MustParseAddr("192.0.2.8")); err != nil {
		t.Fatalf("after clearing the allow-list: %v", err)
	}
}

// TestRotate_OverlapThenRefused: a rotated token is accepted until the overlap ends, to the
// instant, and refused after; its successor, with the same settings, is accepted from the
// start. Both are visible, linked, and recorded by one event each in one commit.
func TestRotate_OverlapThenRefused(t *testing.T) {
	e := newTokEnv(t)
	old := e.create(e.dev, credential.CreateRequest{
		Kind: store.AccessToken, Scopes: []string{"credentials:read", "tunnel:start"}, Description: "ci",
		AllowedIPs: []string{"203.0.113.0/24"}, ExpiresAt: e.Clock.Now().Add(90 * 24 * time.Hour),
	})
	e.Clock.Advance(time.Hour)
	until := e.Clock.Now().Add(30 * time.Minute)
	before := len(e.Events(e.admin.AccountID))
	next, rotated, err := e.creds.Rotate(e.Ctx, e.dev, old.ID, until)
	if err != nil {
		t.Fatal(err)
	}
	e.sync()
	switch {
	case next.RotatedFrom != old.ID || rotated.RotatedTo != next.ID || !rotated.ExpiresAt.Equal(until):
		t.Fatalf("links: successor from %q, rotated to %q expiring %v", next.RotatedFrom, rotated.RotatedTo, rotated.ExpiresAt)
	case next.OwnerID != e.dev.ID || next.Kind != store.AccessToken || next.Description != "ci" ||
		strings.Join(next.Scopes, ",") != "credentials:read,tunnel:start" || strings.Join(next.AllowedIPs, ",") != "203.0.113.0/24":
		t.Fatalf("the successor's settings: %+v", next.Credential)
	case !next.ExpiresAt.Equal(e.Clock.Now().Add(90 * 24 * time.Hour)):
		t.Fatalf("the successor expires %v, want the same lifetime from now", next.ExpiresAt)
	}
	evs := e.Events(e.admin.AccountID)
	if len(evs) != before+2 || evs[0].Type != identity.EventAccessTokenUpdated || evs[1].Type != identity.EventAccessTokenCreated {
		t.Fatalf("%d new events, newest %s", len(evs)-before, evs[0].Type)
	}
	if got, err := e.creds.Get(e.Ctx, e.dev, old.ID); err != nil || got.RotatedTo != next.ID {
		t.Fatalf("the rotated token: %+v, %v", got, err)
	}
	addr := netip.MustParseAddr("203.0.113.5")
	for _, c := range []struct {
		at       time.Time
		oldValid bool
	}{
		{until.Add(-time.Millisecond), true},
		{until, false},
		{until.Add(time.Hour), false},
	} {
		e.Clock.Set(c.at)
		_, err := e.v.VerifyTokenFrom(e.Ctx, old.Token.Reveal(), addr)
		if c.oldValid != (err == nil) {
			t.Fatalf("the old token at %v: %v, want valid %v", c.at, err, c.oldValid)
		}
		if !c.oldValid {
			wantReason(t, "the old token after the overlap", err, credential.ReasonExpired)
		}
		if _, err := e.v.VerifyTokenFrom(e.Ctx, next.Token.Reveal(), addr); err != nil {
			t.Fatalf("the successor at %v: %v", c.at, err)
		}
	}
	_, _, err = e.creds.Rotate(e.Ctx, e.dev, old.ID, time.Time{})
	wantError(t, "rotating the rotated token again", err, store.ErrConflict, credential.CodeAlreadyRotated, "id")
}

// TestRotate_Rules: the overlap is bounded by the policy (or the default), a credential of
// someone else needs the assign-owner permission, SSH keys are not rotated, and no overlap
// means the old credential stops at once.
func TestRotate_Rules(t *testing.T) {
	e := newTokEnv(t)
	key := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey})
	now := e.Clock.Now()
	_, _, err := e.creds.Rotate(e.Ctx, e.dev, key.ID, now.Add(credential.DefaultMaxRotationOverlap+time.Second))
	se := wantError(t, "an overlap beyond the default", err, store.ErrInvalid, credential.CodeOverlapExceedsPolicy, "overlap_until")
	if se.Limit != int(credential.DefaultMaxRotationOverlap/time.Second) {
		t.Fatalf("Limit = %d", se.Limit)
	}
	if _, err := e.creds.SetPolicy(e.Ctx, e.admin, store.CredentialPolicy{MaxRotationOverlap: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.creds.Rotate(e.Ctx, e.dev, key.ID, now.Add(2*time.Hour))
	se = wantError(t, "an overlap beyond the policy", err, store.ErrInvalid, credential.CodeOverlapExceedsPolicy, "overlap_until")
	if se.Limit != 3600 {
		t.Fatalf("Limit = %d", se.Limit)
	}
	_, _, err = e.creds.Rotate(e.Ctx, e.dev, key.ID, now.Add(-time.Second))
	wantError(t, "an overlap in the past", err, store.ErrInvalid, store.CodeOutOfRange, "overlap_until")
	botKey := e.create(e.admin, credential.CreateRequest{Kind: store.APIKey, OwnerID: e.bot.ID})
	_, _, err = e.creds.Rotate(e.Ctx, e.dev, botKey.ID, time.Time{})
	if code, perm := denial(err); code != rbac.CodeNoRole || perm != "credentials:assign_owner" {
		t.Fatalf("a developer rotates the bot user's key, and would get its new secret: %v", err)
	}
	if next, _, err := e.creds.Rotate(e.Ctx, e.admin, botKey.ID, time.Time{}); err != nil || next.OwnerID != e.bot.ID {
		t.Fatalf("an administrator rotates the bot user's key: %+v, %v", next.Credential, err)
	}
	_, _, err = e.creds.Rotate(e.Ctx, e.dev, "sshcr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", time.Time{})
	wantError(t, "rotating an SSH key", err, store.ErrInvalid, store.CodeInvalidValue, "id")
	next, rotated, err := e.creds.Rotate(e.Ctx, e.dev, key.ID, time.Time{})
	if err != nil || !rotated.ExpiresAt.Equal(now) || !next.ExpiresAt.IsZero() {
		t.Fatalf("a rotation without overlap: %v, old expires %v", err, rotated.ExpiresAt)
	}
	e.sync()
	_, err = e.v.VerifyToken(e.Ctx, key.Token.Reveal())
	wantReason(t, "the old key after a rotation without overlap", err, credential.ReasonExpired)
}

// TestRevokeByToken: possession of a token alone revokes its credential, expired or not, and
// the event names its owner acting with it; a wrong secret, an unknown ID and a test token
// are refused alike, without revoking anything.
func TestRevokeByToken(t *testing.T) {
	e := newTokEnv(t)
	iss := e.create(e.admin, credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.bot.ID, ExpiresAt: e.Clock.Now().Add(time.Minute)})
	forged, err := credential.NewToken(store.Authtoken, iss.ID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	test, err := credential.NewTestToken(store.Authtoken, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{forged.Reveal(), test} {
		_, err := e.creds.RevokeByToken(e.Ctx, bad)
		wantError(t, "a token not held", err, store.ErrUnauthenticated, credential.CodeUnknown, "")
	}
	_, err = e.creds.RevokeByToken(e.Ctx, "iat_nope")
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a malformed token: %v", err)
	}
	e.Clock.Advance(time.Hour) // expired: still revocable; and its event is the newest
	got, err := e.creds.RevokeByToken(e.Ctx, iss.Token.Reveal())
	if err != nil || got.ID != iss.ID {
		t.Fatalf("RevokeByToken: %+v, %v", got, err)
	}
	ev := e.LastEvent(e.admin.AccountID)
	if ev.Type != identity.EventTunnelCredentialDeleted || ev.Principal.ID != e.bot.ID || ev.Principal.CredentialID != iss.ID || ev.Principal.Subject != "deployer" {
		t.Fatalf("event %s by %+v", ev.Type, ev.Principal)
	}
	_, err = e.creds.RevokeByToken(e.Ctx, iss.Token.Reveal())
	wantError(t, "revoking it again", err, store.ErrUnauthenticated, credential.CodeUnknown, "")
}

// TestList_UnusedSince lists the credentials not used since a date: never used, or used
// before it.
func TestList_UnusedSince(t *testing.T) {
	e := newTokEnv(t)
	used := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey})
	stale := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey})
	never := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey})
	if _, err := e.v.VerifyToken(e.Ctx, stale.Token.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.v.FlushUsage(e.Ctx)
	e.Clock.Advance(48 * time.Hour)
	since := e.Clock.Now().Add(-24 * time.Hour)
	if _, err := e.v.VerifyToken(e.Ctx, used.Token.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.v.FlushUsage(e.Ctx)
	got, err := e.creds.List(e.Ctx, e.dev, store.APIKey, store.Page{Limit: 10}, credential.UnusedSince(since))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != never.ID || got[1].ID != stale.ID || got[1].LastUsedAt.IsZero() {
		t.Fatalf("unused since %v: %+v", since, got)
	}
	all, err := e.creds.List(e.Ctx, e.dev, store.APIKey, store.Page{Limit: 10})
	if err != nil || len(all) != 3 {
		t.Fatalf("List: %d, %v", len(all), err)
	}
}

// denial returns the code and the permission of an error matching store.ErrDenied, or "", "".
func denial(err error) (code, perm string) {
	var se *store.Error
	if !errors.Is(err, store.ErrDenied) || !errors.As(err, &se) {
		return "", ""
	}
	return se.Code, se.Field
}

// invalidField returns the field an error matching store.ErrInvalid names, or "".
func invalidField(err error) string {
	var se *store.Error
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) {
		return ""
	}
	return se.Field
}
