package sso_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// TestSessionScopedToAccount: a session is verified for the account the embedder serves,
// and a session of another account is refused as invalid, even for a user who is a member
// of both (so the membership re-check alone would let it through), whether the token comes
// as an argument or in the session cookie.
func TestSessionScopedToAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	alice := e.member("alice@example.com", rbac.RoleDeveloper)
	other, err := e.dir.CreateAccount(e.ctx, e.admin.ID, "other", identity.Enterprise().Name)
	if err != nil {
		t.Fatal(err)
	}
	otherAdmin, err := e.dir.Principal(e.ctx, other.ID, e.admin.ID, identity.SourceDashboard, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AddMember(e.ctx, otherAdmin, alice.ID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	tok, issued, err := e.sessions.IssueSession(e.ctx, e.principal(alice.ID), sso.MethodPassword, "")
	if err != nil {
		t.Fatal(err)
	}

	byToken := func(accountID string) (sso.Session, error) {
		return e.sessions.VerifySession(e.ctx, accountID, tok)
	}
	byCookie := func(accountID string) (sso.Session, error) {
		r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		r.AddCookie(&http.Cookie{Name: sso.DefaultSessionCookie, Value: tok})
		return e.sessions.VerifyRequest(r, accountID)
	}
	for name, verify := range map[string]func(string) (sso.Session, error){"VerifySession": byToken, "VerifyRequest": byCookie} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := verify(e.acct.ID)
			if err != nil || s != issued {
				t.Fatalf("own account: %+v, %v", s, err)
			}
			for _, acct := range []string{other.ID, "ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"} {
				s, err := verify(acct)
				wantCode(t, err, sso.CodeSessionInvalid)
				if s != (sso.Session{}) {
					t.Fatalf("refused, yet returned %+v", s)
				}
			}
			_, err = verify("")
			wantErr(t, err, store.ErrInvalid)
		})
	}
}
