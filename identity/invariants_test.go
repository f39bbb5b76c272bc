package identity_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Invariant 1: a user may be a member of many accounts.
func TestInvariant1_UserInManyAccounts(t *testing.T) {
	e := newEnv(t)
	a, alice := e.Account("alice@example.com", "payg")
	b, bob := e.Account("bob@example.com", "enterprise")
	// Alice joins Bob's account too, as a developer; Bob joins Alice's as an administrator.
	aliceInB := e.Join(bob, "alice@example.com", rbac.RoleDeveloper)
	bobInA := e.Join(alice, "bob@example.com", rbac.RoleAdministrator)

	ms, err := e.Dir.Memberships(e.Ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var accounts []string
	for _, m := range ms {
		accounts = append(accounts, m.AccountID)
	}
	slices.Sort(accounts)
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if !slices.Equal(accounts, want) {
		t.Fatalf("alice's accounts = %v, want %v", accounts, want)
	}
	// The same user has different roles in each account.
	for _, c := range []struct {
		p       identity.Principal
		perm    rbac.Permission
		allowed bool
	}{
		{alice, rbac.MembersManage, true},
		{aliceInB, rbac.MembersManage, false},
		{aliceInB, rbac.CredentialsWrite, true},
		{bobInA, rbac.MembersManage, true},
	} {
		d, err := e.Authz.Check(e.Ctx, c.p, c.perm)
		if err != nil || d.Allowed != c.allowed {
			t.Errorf("Check(%s in %s, %s) = %v, %v; want allowed=%v", c.p.Subject, c.p.AccountID, d.Name, d, err, c.allowed)
		}
	}
	// A principal acts in its own account only: alice's account-A principal reads A's
	// members, never B's, and a change whose account is not the principal's is refused.
	ms, err = e.Dir.Members(e.Ctx, alice, store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.AccountID != a.ID {
			t.Errorf("alice's account-A principal read a membership of %s", m.AccountID)
		}
	}
	err = e.Store.View(e.Ctx, func(r store.Reader) error {
		acctB, err := r.Account(e.Ctx, b.ID)
		if err != nil {
			return err
		}
		return e.Authz.Permit(e.Ctx, r, identity.Change{Op: identity.OpReadMembers, By: alice, Account: acctB})
	})
	if !errors.Is(err, store.ErrDenied) || store.CodeOf(err) != rbac.CodeOtherAccount {
		t.Errorf("alice's account-A principal in B: %v", err)
	}
}

// Invariant 3: active members and pending invitations take seats; the plan sets how many.
func TestInvariant3_SeatsAreActiveMembersAndPendingInvitations(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "small") // 3 seats
	carol := e.Join(admin, "carol@example.com")
	inv, err := e.Dir.Invite(e.Ctx, admin, "dave@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	seats, err := e.Dir.Seats(e.Ctx, admin)
	if err != nil || seats != (identity.Seats{Limit: 3, Members: 2, Invitations: 1}) {
		t.Fatalf("Seats = %+v, %v", seats, err)
	}

	_, err = e.Dir.Invite(e.Ctx, admin, "erin@example.com", nil)
	var sl *store.Error
	if !errors.As(err, &sl) || !errors.Is(err, store.ErrLimitExceeded) || sl.Limit != 3 || sl.Code != identity.CodeSeatLimit {
		t.Fatalf("fourth seat: %v, want ErrLimitExceeded with code %s and limit 3", err, identity.CodeSeatLimit)
	}

	// Revoking an invitation frees its seat.
	if err := e.Dir.RevokeInvitation(e.Ctx, admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	inv, err = e.Dir.Invite(e.Ctx, admin, "erin@example.com", nil)
	if err != nil {
		t.Fatalf("after revoking: %v", err)
	}
	// An expired invitation no longer takes a seat.
	e.Clock.Advance(identity.DefaultInvitationTTL)
	if seats, _ := e.Dir.Seats(e.Ctx, admin); seats.Used() != 2 {
		t.Fatalf("after expiry: %+v", seats)
	}
	if _, err := e.Dir.Invite(e.Ctx, admin, "frank@example.com", nil); err != nil {
		t.Fatalf("seat of an expired invitation: %v", err)
	}
	// A disabled member frees its seat; enabling it needs one again.
	if _, err := e.Dir.DisableMember(e.Ctx, admin, carol.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Dir.Invite(e.Ctx, admin, "grace@example.com", nil); err != nil {
		t.Fatalf("seat of a disabled member: %v", err)
	}
	_, err = e.Dir.EnableMember(e.Ctx, admin, carol.ID)
	wantCode(t, err, store.ErrLimitExceeded, identity.CodeSeatLimit)
}

// Invariant 3: plans set seats, and changing plan changes the limit.
func TestInvariant3_PlansSetSeats(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "free")
	if a.Seats != identity.Free().Seats {
		t.Fatalf("free account seats = %d", a.Seats)
	}
	_, err := e.Dir.Invite(e.Ctx, admin, "bob@example.com", nil)
	wantCode(t, err, store.ErrLimitExceeded, identity.CodeSeatLimit)

	a, err = e.Dir.ChangePlan(e.Ctx, admin, "enterprise")
	if err != nil || a.Seats != 0 {
		t.Fatalf("ChangePlan = %+v, %v", a, err)
	}
	for _, email := range []string{"b@example.com", "c@example.com", "d@example.com", "e@example.com", "f@example.com"} {
		if _, err := e.Dir.Invite(e.Ctx, admin, email, nil); err != nil {
			t.Fatalf("unlimited seats: %v", err)
		}
	}
}

// Invariant 5: disabling a member suspends its credentials in one write; enabling restores.
func TestInvariant5_DisablingMemberSuspendsCredentials(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	dev := e.Join(admin, "dev@example.com", rbac.RoleDeveloper)
	var creds []store.Credential
	for range 20 {
		creds = append(creds, e.Credential(a.ID, dev.ID))
	}
	writes := e.WritesOf(func() {
		if _, err := e.Dir.DisableMember(e.Ctx, admin, dev.ID); err != nil {
			t.Fatal(err)
		}
	})
	if len(writes) != 1 || writes[0].Kind != store.KindMembership {
		t.Fatalf("disabling wrote %v, want the membership only", writes)
	}
	for _, c := range creds {
		got, state, err := e.Auth(c.ID)
		if err != nil || state != store.OwnerInactive {
			t.Fatalf("credential of a disabled member: %v, %v", state, err)
		}
		if got.SecretHash != c.SecretHash || got.OwnerID != c.OwnerID {
			t.Fatalf("credential changed: %+v", got)
		}
	}
	if d, _ := e.Authz.Check(e.Ctx, dev, rbac.CredentialsRead); d.Allowed || d.Reason != rbac.ReasonInactive {
		t.Fatalf("disabled member acts: %v", d)
	}
	if _, err := e.Dir.EnableMember(e.Ctx, admin, dev.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if _, state, err := e.Auth(c.ID); err != nil || state != store.OwnerActive {
			t.Fatalf("credential of a re-enabled member: %v, %v", state, err)
		}
	}
}

// Invariant 6: removing a member revokes its credentials in that account in the same
// transaction (a tombstone hides them from every read until they are purged); its other
// accounts are untouched.
func TestInvariant6_RemovingMemberDeletesItsCredentials(t *testing.T) {
	e := newEnv(t)
	a, adminA := e.Account("a@example.com", "payg")
	b, _ := e.Account("dev@example.com", "payg") // dev founded B
	dev := e.Join(adminA, "dev@example.com", rbac.RoleDeveloper)
	inA := []store.Credential{e.Credential(a.ID, dev.ID), e.Credential(a.ID, dev.ID)}
	inB := e.Credential(b.ID, dev.ID)
	adminsOwn := e.Credential(a.ID, adminA.ID)

	writes := e.WritesOf(func() {
		if err := e.Dir.RemoveMember(e.Ctx, adminA, dev.ID); err != nil {
			t.Fatal(err)
		}
	})
	// One small commit: the membership and the tombstone of its credentials.
	if len(writes) != 2 || writes[0].Kind != store.KindMembership || writes[0].Op != store.OpDelete ||
		writes[1].Kind != store.KindTombstone || writes[1].Op != store.OpPut {
		t.Fatalf("removal wrote %v", writes)
	}
	for _, c := range inA {
		if _, _, err := e.Auth(c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("credential of a removed member: %v", err)
		}
	}
	for _, c := range []store.Credential{inB, adminsOwn} {
		if _, state, err := e.Auth(c.ID); err != nil || state != store.OwnerActive {
			t.Fatalf("unrelated credential: %v, %v", state, err)
		}
	}
	if _, err := e.Dir.User(e.Ctx, dev, dev.ID); err != nil {
		t.Fatalf("the user itself must remain: %v", err)
	}
	if ev := e.LastEvent(a.ID); ev.Type != identity.EventMemberDeleted || ev.Principal.ID != adminA.ID {
		t.Fatalf("event %+v", ev)
	}
}

// Invariant 8: every mutation records an audit event, in its transaction, attributed to
// the principal.
func TestInvariant8_EveryMutationRecordsAnEvent(t *testing.T) {
	e := newEnv(t)
	u := e.User("admin@example.com")
	a, err := e.Dir.CreateAccount(e.Ctx, u.ID, "acme", "payg")
	if err != nil {
		t.Fatal(err)
	}
	admin := e.Principal(a.ID, u.ID)
	admin.CredentialID = "ak_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	bob := e.User("bob@example.com")
	var inv identity.Invited

	steps := []struct {
		name string
		do   func() error
		want store.EventType
		by   string
	}{
		{"invite", func() error {
			var err error
			inv, err = e.Dir.Invite(e.Ctx, admin, bob.Email, []string{rbac.RoleDeveloper})
			return err
		}, identity.EventInvitationCreated, admin.ID},
		{"revoke", func() error { return e.Dir.RevokeInvitation(e.Ctx, admin, inv.ID) }, identity.EventInvitationDeleted, admin.ID},
		{"invite again", func() error {
			var err error
			inv, err = e.Dir.Invite(e.Ctx, admin, bob.Email, []string{rbac.RoleDeveloper})
			return err
		}, identity.EventInvitationCreated, admin.ID},
		{"accept", func() error {
			_, err := e.Dir.AcceptInvitationToken(e.Ctx, inv.Token.Reveal(), "", identity.SourceDashboard)
			return err
		}, identity.EventMemberCreated, bob.ID},
		{"set roles", func() error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, admin, bob.ID, []string{rbac.RoleTeamManager})
			return err
		}, identity.EventMemberUpdated, admin.ID},
		{"disable", func() error { _, err := e.Dir.DisableMember(e.Ctx, admin, bob.ID); return err }, identity.EventMemberUpdated, admin.ID},
		{"enable", func() error { _, err := e.Dir.EnableMember(e.Ctx, admin, bob.ID); return err }, identity.EventMemberUpdated, admin.ID},
		{"remove", func() error { return e.Dir.RemoveMember(e.Ctx, admin, bob.ID) }, identity.EventMemberDeleted, admin.ID},
		{"add", func() error { _, err := e.Dir.AddMember(e.Ctx, admin, bob.ID, nil); return err }, identity.EventMemberCreated, admin.ID},
		{"change plan", func() error { _, err := e.Dir.ChangePlan(e.Ctx, admin, "enterprise"); return err }, identity.EventAccountUpdated, admin.ID},
	}
	if ev := e.LastEvent(a.ID); ev.Type != identity.EventMemberCreated || ev.Principal.ID != u.ID {
		t.Fatalf("account creation: %+v", ev)
	}
	for _, s := range steps {
		before := e.Events(a.ID)
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		ev := e.LastEvent(a.ID)
		if ev.Type != s.want || ev.Principal.ID != s.by || ev.AccountID != a.ID || len(ev.Object) == 0 {
			t.Fatalf("%s: event %+v, want %s by %s", s.name, ev, s.want, s.by)
		}
		if s.by == admin.ID && (ev.Principal.Subject != "admin@example.com" || ev.Principal.Source != "api" || ev.Principal.CredentialID != admin.CredentialID) {
			t.Fatalf("%s: principal %+v", s.name, ev.Principal)
		}
		after := e.Events(a.ID)
		if len(after) <= len(before) {
			t.Fatalf("%s: no new event", s.name)
		}
	}
	// A refused change writes no event.
	n := e.Events(a.ID)
	if _, err := e.Dir.Invite(e.Ctx, admin, "not an email", nil); err == nil {
		t.Fatal("bad email accepted")
	}
	if err := e.Dir.RemoveMember(e.Ctx, admin, u.ID); store.CodeOf(err) != identity.CodeLastAdministrator {
		t.Fatalf("removing the last admin: %v", err)
	}
	m := e.Events(a.ID)
	if len(m) != len(n) {
		t.Fatalf("refused changes wrote %d events", len(m)-len(n))
	}
}

// Invariant 8: an account always keeps at least one active administrator.
func TestInvariant8_AccountKeepsAnAdministrator(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	self := []struct {
		name string
		do   func() error
	}{
		{"remove", func() error { return e.Dir.RemoveMember(e.Ctx, admin, admin.ID) }},
		{"disable", func() error { _, err := e.Dir.DisableMember(e.Ctx, admin, admin.ID); return err }},
		{"demote", func() error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, admin, admin.ID, []string{rbac.RoleDeveloper})
			return err
		}},
	}
	for _, s := range self {
		if err := s.do(); store.CodeOf(err) != identity.CodeLastAdministrator {
			t.Errorf("%s the last administrator: %v", s.name, err)
		}
	}
	// With a second active administrator, the first may step down.
	second := e.Join(admin, "second@example.com", rbac.RoleAdministrator)
	if _, err := e.Dir.SetMemberRoles(e.Ctx, admin, admin.ID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatalf("demote with another admin: %v", err)
	}
	// ... and now the second is the last one.
	if _, err := e.Dir.DisableMember(e.Ctx, second, second.ID); store.CodeOf(err) != identity.CodeLastAdministrator {
		t.Fatalf("disable the new last admin: %v", err)
	}
}

// Invariant 9: plans are data the embedder defines, not an enum.
func TestInvariant9_PlansAreData(t *testing.T) {
	const audited identity.Feature = "audit_export" // an embedder's own feature
	team := identity.Plan{Name: "team-2026", Seats: 12, Features: []identity.Feature{identity.FeatureRBAC, audited}}
	plans, err := identity.NewCatalog(team)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	dir := testenv.Directory(t, e.Store, testenv.Authz(t, e.Store, plans))
	u := e.User("owner@example.com")
	a, err := dir.CreateAccount(e.Ctx, u.ID, "acme", "team-2026")
	if err != nil {
		t.Fatal(err)
	}
	owner, err := dir.Principal(e.Ctx, a.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := dir.Plan(e.Ctx, owner)
	if err != nil || p.Name != "team-2026" || p.Seats != 12 || !p.Has(audited) || p.Has(identity.FeatureSSO) {
		t.Fatalf("Plan = %+v, %v", p, err)
	}
	if _, err := dir.CreateAccount(e.Ctx, u.ID, "x", "free"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("plan outside the catalog: %v", err)
	}
	for _, bad := range [][]identity.Plan{
		nil,
		{{Name: ""}},
		{{Name: "a", Seats: -1}},
		{{Name: "a"}, {Name: "a"}},
		{{Name: "a", APIRate: store.Rate{Limit: 10}}},
		{{Name: "a", APICredentialRate: store.Rate{Limit: -1, Period: time.Second}}},
	} {
		if _, err := identity.NewCatalog(bad...); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("NewCatalog(%+v) = %v", bad, err)
		}
	}
}
