package identity_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// putSession stores a dashboard session of userID in accountID, as package sso would.
func putSession(t *testing.T, e *env, accountID, userID string) store.Session {
	t.Helper()
	sid, err := e.IDs.NewIn(id.Session, accountID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(sid))
	now := e.Clock.Now()
	s := store.Session{
		ID: sid, AccountID: accountID, UserID: userID, SecretHash: hex.EncodeToString(sum[:]),
		Method: "password", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error { return tx.PutSession(e.Ctx, s) }); err != nil {
		t.Fatal(err)
	}
	return s
}

func sessionsOf(t *testing.T, e *env, accountID, userID string) []store.Session {
	t.Helper()
	var out []store.Session
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		var err error
		out, err = r.SessionsByUser(e.Ctx, accountID, userID, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMemberChangesEndSessions checks that disabling or removing a member ends its dashboard
// sessions in that account at once, in the transaction of the change, and leaves its
// sessions in other accounts and other members' sessions alone.
func TestMemberChangesEndSessions(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(e *env, admin identity.Principal, userID string) error
	}{
		{"disable", func(e *env, admin identity.Principal, userID string) error {
			_, err := e.Dir.DisableMember(e.Ctx, admin, userID)
			return err
		}},
		{"remove", func(e *env, admin identity.Principal, userID string) error {
			return e.Dir.RemoveMember(e.Ctx, admin, userID)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			acct, admin := e.Account("admin@example.com", identity.Enterprise().Name)
			other, otherAdmin := e.Account("other@example.com", identity.Enterprise().Name)
			alice := e.Member(admin, "alice@example.com", "developer")
			if _, err := e.Dir.AddMember(e.Ctx, otherAdmin, alice.ID, nil); err != nil {
				t.Fatal(err)
			}
			bob := e.Member(admin, "bob@example.com", "developer")
			for range 3 {
				putSession(t, e, acct.ID, alice.ID)
			}
			elsewhere := putSession(t, e, other.ID, alice.ID)
			bobs := putSession(t, e, acct.ID, bob.ID)

			if err := c.change(e, admin, alice.ID); err != nil {
				t.Fatal(err)
			}
			if got := sessionsOf(t, e, acct.ID, alice.ID); len(got) != 0 {
				t.Errorf("%d sessions of alice left in the account", len(got))
			}
			if got := sessionsOf(t, e, other.ID, alice.ID); len(got) != 1 || got[0].ID != elsewhere.ID {
				t.Errorf("alice's sessions in another account: %v, want the one", got)
			}
			if got := sessionsOf(t, e, acct.ID, bob.ID); len(got) != 1 || got[0].ID != bobs.ID {
				t.Errorf("bob's sessions: %v, want the one", got)
			}
		})
	}
}

// TestRefusedMemberChangeKeepsSessions checks that a change that is refused (the last
// administrator) ends nothing: the sessions go in the change's transaction or not at all.
func TestRefusedMemberChangeKeepsSessions(t *testing.T) {
	e := newEnv(t)
	acct, admin := e.Account("admin@example.com", identity.Enterprise().Name)
	s := putSession(t, e, acct.ID, admin.ID)
	if _, err := e.Dir.DisableMember(e.Ctx, admin, admin.ID); store.CodeOf(err) != identity.CodeLastAdministrator {
		t.Fatalf("disabling the last administrator: %v", err)
	}
	if got := sessionsOf(t, e, acct.ID, admin.ID); len(got) != 1 || got[0].ID != s.ID {
		t.Errorf("sessions after a refused change: %v, want the one", got)
	}
}
