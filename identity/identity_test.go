package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

func TestNormalizeEmail(t *testing.T) {
	for _, c := range []struct{ in, want, field string }{
		{"Alice@Example.COM", "alice@example.com", ""},
		{"  bob@example.com\n", "bob@example.com", ""},
		{"", "", "email"},
		{"not-an-email", "", "email"},
		{"Alice <alice@example.com>", "", "email"},
		{strings.Repeat("a", 250) + "@x.io", "", "email"},
	} {
		got, err := identity.NormalizeEmail(c.in)
		switch {
		case c.field == "" && (err != nil || got != c.want):
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.field != "" && (invalidField(err) != c.field):
			t.Errorf("NormalizeEmail(%q) = %q, %v; want an invalid-argument error on %s", c.in, got, err, c.field)
		}
	}
	_, err := identity.NormalizeEmail(strings.Repeat("a", 250) + "@x.io")
	var se *store.Error
	if !errors.As(err, &se) || se.Code != store.CodeTooLong || se.Limit != identity.MaxEmailLen {
		t.Errorf("length error does not name the limit: %v", err)
	}
}

func TestUsers_EmailIsUniqueAndNormalised(t *testing.T) {
	e := newEnv(t)
	u := e.User("Alice@Example.com")
	if u.Email != "alice@example.com" {
		t.Fatalf("email stored as %q", u.Email)
	}
	_, err := e.Dir.CreateUser(e.Ctx, "ALICE@example.com", "")
	wantErr(t, err, store.ErrConflict)
	got, err := e.Dir.UserByEmail(e.Ctx, " alice@EXAMPLE.com")
	if err != nil || got.ID != u.ID {
		t.Fatalf("UserByEmail = %+v, %v", got, err)
	}
}

func TestInvitations(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	inv, err := e.Dir.Invite(e.Ctx, admin, "Bob@Example.com", []string{rbac.RoleDeveloperReadOnly, rbac.RoleTeamReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Email != "bob@example.com" || !inv.ExpiresAt.Equal(epoch.Add(identity.DefaultInvitationTTL)) || inv.InvitedBy != admin.ID {
		t.Fatalf("invitation %+v", inv)
	}
	got, err := e.Dir.Invitation(e.Ctx, admin, inv.ID)
	if err != nil || got.ID != inv.ID {
		t.Fatalf("Invitation = %+v, %v", got, err)
	}

	_, err = e.Dir.Invite(e.Ctx, admin, "bob@example.com", nil)
	wantCode(t, err, store.ErrConflict, identity.CodeAlreadyInvited)
	_, err = e.Dir.Invite(e.Ctx, admin, "admin@example.com", nil)
	wantCode(t, err, store.ErrConflict, identity.CodeAlreadyMember)

	// Users accept as themselves, authenticated in an account of their own.
	_, mallory := e.Account("mallory@example.com", "payg")
	_, err = e.Dir.AcceptInvitation(e.Ctx, mallory, inv.ID)
	wantErr(t, err, store.ErrNotFound)

	_, bob := e.Account("bob@example.com", "payg")
	e.Clock.Advance(identity.DefaultInvitationTTL)
	_, err = e.Dir.AcceptInvitation(e.Ctx, bob, inv.ID)
	wantCode(t, err, store.ErrConflict, identity.CodeInvitationExpired)

	// An expired invitation is replaced by a new one.
	inv2, err := e.Dir.Invite(e.Ctx, admin, "bob@example.com", []string{rbac.RoleDeveloper})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Dir.Invitation(e.Ctx, admin, inv.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old invitation: %v", err)
	}
	m, err := e.Dir.AcceptInvitation(e.Ctx, bob, inv2.ID)
	if err != nil || m.Status != store.MemberActive || len(m.Roles) != 1 || m.Roles[0] != rbac.RoleDeveloper {
		t.Fatalf("accepted membership %+v, %v", m, err)
	}
	if _, err := e.Dir.Invitation(e.Ctx, admin, inv2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("accepted invitation still there: %v", err)
	}
	// An invitation of another account is not found through this one.
	_, adminB := e.Account("other@example.com", "payg")
	invB, err := e.Dir.Invite(e.Ctx, adminB, "zed@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Dir.Invitation(e.Ctx, admin, invB.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-account invitation: %v", err)
	}
	if err := e.Dir.RevokeInvitation(e.Ctx, admin, invB.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-account revoke: %v", err)
	}
}

func TestInvitations_DefaultRoles(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	inv, err := e.Dir.Invite(e.Ctx, admin, "bob@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(inv.Roles, ",") != strings.Join(rbac.DefaultMemberRoles(), ",") {
		t.Fatalf("default roles %v", inv.Roles)
	}
}

// Every ID argument's prefix is checked before any lookup, and the error names the field.
func TestValidation_IDsAreCheckedFirst(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	botID := "bot_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	elsewhere := admin
	elsewhere.AccountID = admin.ID // a principal whose account is no account ID
	cases := []struct {
		name, field string
		err         error
	}{
		{"Account", "principal.account_id", func() error { _, err := e.Dir.Account(e.Ctx, elsewhere); return err }()},
		{"Member", "user_id", func() error { _, err := e.Dir.Member(e.Ctx, admin, botID); return err }()},
		{"AddMember bot", "user_id", func() error { _, err := e.Dir.AddMember(e.Ctx, admin, botID, nil); return err }()},
		{"Invitation", "invitation_id", func() error { _, err := e.Dir.Invitation(e.Ctx, admin, a.ID); return err }()},
		{"CreateAccount", "founder_id", func() error { _, err := e.Dir.CreateAccount(e.Ctx, botID, "x", "free"); return err }()},
		{"Members page", "limit", func() error { _, err := e.Dir.Members(e.Ctx, admin, store.Page{Limit: 0}); return err }()},
		{"Members before", "before_id", func() error {
			_, err := e.Dir.Members(e.Ctx, admin, store.Page{Limit: 1, BeforeID: botID})
			return err
		}()},
		{"name", "name", func() error {
			u := e.User("x@example.com")
			_, err := e.Dir.CreateAccount(e.Ctx, u.ID, strings.Repeat("n", store.MaxNameLen+1), "free")
			return err
		}()},
		{"principal with a malformed account", "principal.account_id", func() error {
			_, err := e.Dir.Invite(e.Ctx, elsewhere, "c@example.com", nil)
			return err
		}()},
	}
	for _, c := range cases {
		if invalidField(c.err) != c.field || !errors.Is(c.err, store.ErrInvalid) {
			t.Errorf("%s: %v, want an invalid-argument error on %s", c.name, c.err, c.field)
		}
	}
}

func TestPrincipalFor(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	if admin.Kind != identity.KindUser || admin.Subject != "admin@example.com" || admin.AccountID != a.ID {
		t.Fatalf("principal %+v", admin)
	}
	outsider := e.User("out@example.com")
	if _, err := e.Dir.Principal(e.Ctx, a.ID, outsider.ID, identity.SourceAPI, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("non-member principal: %v", err)
	}
	if _, err := e.Dir.Principal(e.Ctx, a.ID, a.ID, identity.SourceAPI, ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("account ID as principal: %v", err)
	}
	if got := admin.Audit(); got.ID != admin.ID || got.Subject != admin.Subject || got.Source != "api" {
		t.Fatalf("Audit() = %+v", got)
	}
}

// TestPrincipal_AccessTokenNeedsItsScope: a principal acting with an access token must carry
// the token's Scope. Validate refuses one without (and so does every service call), and
// PrincipalFor, which cannot know the scope, refuses to build one.
func TestPrincipal_AccessTokenNeedsItsScope(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	const tokenID = "pat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	withToken := func(scope identity.Scope) identity.Principal {
		p := admin
		p.CredentialID, p.Scope = tokenID, scope
		return p
	}
	for _, c := range []struct {
		name  string
		p     identity.Principal
		field string // "" when valid
	}{
		{"access_token_without_scope", withToken(identity.Scope{}), "principal.scope"},
		{"access_token_with_an_empty_scope", withToken(identity.ScopeOf([identity.ScopeWords]uint64{})), ""},
		{"access_token_with_its_scope", withToken(identity.ScopeOf([identity.ScopeWords]uint64{1 << 3})), ""},
		{"api_key_without_scope", func() identity.Principal { p := admin; p.CredentialID = "ak_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"; return p }(), ""},
		{"dashboard_session_with_a_scope", func() identity.Principal { p := admin; p.Scope = identity.ScopeOf([2]uint64{}); return p }(), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if got := invalidField(err); got != c.field || (c.field == "") != (err == nil) {
				t.Fatalf("Validate() = %v, want an error on %q", err, c.field)
			}
			if c.field == "" {
				return
			}
			if _, err := e.Dir.Account(e.Ctx, c.p); invalidField(err) != c.field {
				t.Fatalf("Account as the principal: %v, want an invalid-argument error on %s", err, c.field)
			}
		})
	}
	if _, err := e.Dir.Principal(e.Ctx, a.ID, admin.ID, identity.SourceAPI, tokenID); invalidField(err) != "principal.scope" {
		t.Fatalf("Principal with an access token's ID: %v, want an invalid-argument error on principal.scope", err)
	}
	if s := identity.ScopeOf([identity.ScopeWords]uint64{5, 9}); !s.Limited() || s.Words() != [identity.ScopeWords]uint64{5, 9} {
		t.Fatalf("ScopeOf: %+v", s)
	}
	if (identity.Scope{}).Limited() {
		t.Fatal("the zero Scope is limited")
	}
}
