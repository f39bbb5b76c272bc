package main

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// raceStore is a store that slips one change in between a request's authentication and its
// authorization. Once armed with a credential and its owner, it waits for a View that reads
// the credential's authentication data (store.Reader.CredentialAuth, what a Verifier reads on
// a cache miss), then for the next View that reads the owner (its membership or bot user
// record, as the Authorizer does to compile the caller's grants), and runs the change right
// after that View returns. With a Verifier that reads the store on every call
// (withoutVerifierFeed), authentication is then complete, the server's own authorization
// (Authorizer.Require) has passed, and the library call that authorizes the operation again
// in its transaction has not begun.
type raceStore struct {
	store.Store
	mu                      sync.Mutex
	credentialID, principal string // armed for these; cleared once fired
	credentialRead          bool
	change                  func()
	fired                   bool
}

// arm sets the change to run once credentialID has been verified and principalID looked up.
func (s *raceStore) arm(credentialID, principalID string, change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credentialID, s.principal, s.change = credentialID, principalID, change
}

func (s *raceStore) hasFired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

func (s *raceStore) View(ctx context.Context, fn func(store.Reader) error) error {
	s.mu.Lock()
	spy := &readSpy{credentialID: s.credentialID, principal: s.principal}
	s.mu.Unlock()
	err := s.Store.View(ctx, func(inner store.Reader) error {
		spy.Reader = inner
		return fn(spy)
	})
	s.mu.Lock()
	var change func()
	switch {
	case s.credentialID == "":
	case !s.credentialRead:
		s.credentialRead = spy.credentialRead
	case spy.principalRead:
		change = s.change
		s.credentialID, s.principal, s.change, s.fired = "", "", nil, true
	}
	s.mu.Unlock()
	if change != nil {
		change()
	}
	return err
}

// readSpy notes whether a View read the armed credential's authentication data or the
// armed principal's record (alone, or with its account: Standing).
type readSpy struct {
	store.Reader
	credentialID, principal       string
	credentialRead, principalRead bool
}

func (r *readSpy) CredentialAuth(ctx context.Context, id string) (store.Credential, store.Owner, error) {
	r.credentialRead = r.credentialRead || (r.credentialID != "" && id == r.credentialID)
	return r.Reader.CredentialAuth(ctx, id)
}

func (r *readSpy) Membership(ctx context.Context, accountID, userID string) (store.Membership, error) {
	r.principalRead = r.principalRead || (r.principal != "" && userID == r.principal)
	return r.Reader.Membership(ctx, accountID, userID)
}

// Standing is what the Authorizer reads the caller's membership or bot user record with.
func (r *readSpy) Standing(ctx context.Context, accountID, principalID string) (store.Standing, error) {
	r.principalRead = r.principalRead || (r.principal != "" && principalID == r.principal)
	return r.Reader.Standing(ctx, accountID, principalID)
}

func (r *readSpy) BotUser(ctx context.Context, id string) (store.BotUser, error) {
	r.principalRead = r.principalRead || (r.principal != "" && id == r.principal)
	return r.Reader.BotUser(ctx, id)
}

// TestCallerDeactivatedMidRequest: a caller whose key was verified and who is then disabled,
// deactivated or removed before the request is authorized gets what the verifier would have
// answered a moment later (401: 636 inactive, 203 owner gone), not a 403 from the authorizer.
// One status for one condition, whichever step notices it.
func TestCallerDeactivatedMidRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		// caller makes the caller and returns its ID; change is what happens to it mid-request.
		caller func(e *env, admin identity.Principal) string
		change func(e *env, admin identity.Principal, id string) error
		code   string
	}{
		{
			name:   "member disabled",
			caller: func(e *env, _ identity.Principal) string { return e.addMember("dev@example.com", rbac.RoleDeveloper) },
			change: func(e *env, admin identity.Principal, id string) error {
				_, err := e.iam.Directory().DisableMember(e.t.Context(), admin, id)
				return err
			},
			code: "ERR_NGROK_636",
		},
		{
			name: "bot user deactivated",
			caller: func(e *env, admin identity.Principal) string {
				b, err := e.iam.BotUsers().Create(e.t.Context(), admin, botuser.CreateParams{Name: "ci"})
				if err != nil {
					e.t.Fatal(err)
				}
				return b.ID
			},
			change: func(e *env, admin identity.Principal, id string) error {
				inactive := false
				_, err := e.iam.BotUsers().Update(e.t.Context(), admin, id, botuser.UpdateParams{Active: &inactive})
				return err
			},
			code: "ERR_NGROK_636",
		},
		{
			name:   "member removed",
			caller: func(e *env, _ identity.Principal) string { return e.addMember("dev@example.com", rbac.RoleDeveloper) },
			change: func(e *env, admin identity.Principal, id string) error {
				return e.iam.Directory().RemoveMember(e.t.Context(), admin, id)
			},
			code: "ERR_NGROK_203",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var race *raceStore
			e := newEnv(t, withoutVerifierFeed(), withStore(func(st store.Store) store.Store {
				race = &raceStore{Store: st}
				return race
			}))
			ctx := t.Context()
			admin, err := e.iam.Directory().Principal(ctx, e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
			if err != nil {
				t.Fatal(err)
			}
			caller := tc.caller(e, admin)
			key := e.createAPIKey(caller)
			race.arm(key.ID, caller, func() {
				if err := tc.change(e, admin, caller); err != nil {
					t.Error(err)
				}
				if err := e.iam.Authorizer().Sync(ctx); err != nil {
					t.Error(err)
				}
			})
			r := e.reqAs(*key.Token, "GET", "/credentials", nil)
			if !race.hasFired() {
				t.Fatal("the change did not run between authentication and authorization")
			}
			r.wantError(http.StatusUnauthorized, tc.code)
			// The next request is refused by the verifier itself, with the same answer.
			e.reqAs(*key.Token, "GET", "/credentials", nil).wantError(http.StatusUnauthorized, tc.code)
		})
	}
}
