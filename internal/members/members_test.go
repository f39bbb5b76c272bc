package members_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// small is a plan with RBAC and three seats, to reach the limit quickly.
var small = identity.Plan{Name: "small", Seats: 3, Features: []identity.Feature{identity.FeatureRBAC}}

func events(e *testenv.Env) members.Events[identity.Resource] {
	return members.Events[identity.Resource]{
		Rec:           audit.New(id.NewGenerator(e.Clock, rand.Reader), e.Clock, identity.ResourceOf),
		MemberCreated: identity.EventMemberCreated, InvitationAccepted: identity.EventInvitationAccepted, InvitationDeleted: identity.EventInvitationDeleted,
		Member: func(m store.Membership, u store.User) audit.Object[identity.Resource] {
			return identity.MemberObjectOf(m, u)
		},
		Invitation: func(inv store.Invitation) audit.Object[identity.Resource] { return identity.InvitationObjectOf(inv) },
	}
}

// add makes u a member of acct on its own authority (as sso's just-in-time provisioning
// does), with the account's default roles.
func add(e *testenv.Env, acct store.Account, u store.User) (store.Membership, error) {
	var m store.Membership
	e.Clock.Advance(time.Millisecond) // this test's ID generator is not the Directory's: order events by time
	by := store.Principal{ID: u.ID, Subject: u.Email, Source: string(identity.SourceDashboard)}
	err := e.Store.Update(e.Ctx, func(tx store.Tx) error {
		var err error
		m, err = members.Add(e.Ctx, tx, events(e), acct, u, rbac.DefaultMemberRoles(), by, e.Clock.Now())
		return err
	})
	return m, err
}

// TestAdd_NeedsNoPrincipalButTakesASeat: a member added by the core needs no permission (its
// callers decide), is attributed to whoever they say, and takes a seat within the plan's.
func TestAdd_NeedsNoPrincipalButTakesASeat(t *testing.T) {
	e := testenv.New(t, []identity.Plan{small})
	a, _ := e.Account("admin@example.com", "small")
	var b store.User
	for _, email := range []string{"b@example.com", "c@example.com"} {
		u := e.User(email)
		if b.ID == "" {
			b = u
		}
		m, err := add(e, a, u)
		if err != nil || m.Status != store.MemberActive {
			t.Fatalf("Add: %+v, %v", m, err)
		}
		if ev := e.LastEvent(a.ID); ev.Type != identity.EventMemberCreated || ev.Principal.ID != u.ID || ev.Principal.Source != "dashboard" {
			t.Fatalf("event %+v", ev)
		}
	}
	_, err := add(e, a, e.User("d@example.com"))
	var se *store.Error
	if !errors.As(err, &se) || !errors.Is(err, store.ErrLimitExceeded) || se.Code != members.CodeSeatLimit || se.Limit != 3 {
		t.Fatalf("fourth seat: %v", err)
	}
	_, err = add(e, a, b)
	if !errors.Is(err, store.ErrConflict) || store.CodeOf(err) != members.CodeAlreadyMember {
		t.Fatalf("a member again: %v", err)
	}
}

// TestAdd_ConsumesAPendingInvitation: a pending invitation for the user's email already
// holds a seat, which the member takes over; the invitation is deleted with an event.
func TestAdd_ConsumesAPendingInvitation(t *testing.T) {
	e := testenv.New(t, []identity.Plan{small})
	a, admin := e.Account("admin@example.com", "small")
	if _, err := e.Dir.Invite(e.Ctx, admin, "b@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Dir.Invite(e.Ctx, admin, "c@example.com", nil); err != nil {
		t.Fatal(err)
	}
	u := e.User("c@example.com")
	commits := e.CommitsOf(func() {
		if _, err := add(e, a, u); err != nil {
			t.Fatalf("the invitation's seat: %v", err)
		}
	})
	evs := e.EventsIn(commits[0])
	if len(evs) != 2 || evs[0].Type != identity.EventInvitationDeleted || evs[1].Type != identity.EventMemberCreated {
		t.Fatalf("events %+v", evs)
	}
}
