package identity_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

// TestUnknownPlan_HasItsCode: a plan outside the catalog has one error wherever it shows up
// (asked for at creation, asked for in a change, or stored on an account whose plan left the
// catalog): store.ErrInvalid, code CodeUnknownPlan, Field "plan". Before v1 the first two
// were validation errors that did not match identity.ErrUnknownPlan.
func TestUnknownPlan_HasItsCode(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	want := func(what string, err error) {
		t.Helper()
		var se *store.Error
		if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Code != identity.CodeUnknownPlan || se.Field != "plan" {
			t.Errorf("%s: %v, want ErrInvalid with code %s on plan", what, err, identity.CodeUnknownPlan)
		}
	}
	_, err := e.Dir.CreateAccount(e.Ctx, admin.ID, "x", "platinum")
	want("CreateAccount", err)
	_, err = e.Dir.ChangePlan(e.Ctx, admin, "platinum")
	want("ChangePlan", err)

	a.Plan = "retired"
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error { return tx.PutAccount(e.Ctx, a) }); err != nil {
		t.Fatal(err)
	}
	_, err = e.Dir.Plan(e.Ctx, admin)
	want("Plan of an account on a retired plan", err)
	_, err = e.Plans.PlanOf(a)
	want("Catalog.PlanOf", err)
}

// TestCodes_AgreeWithTheMemberCore: the codes internal/members returns are identity's.
func TestCodes_AgreeWithTheMemberCore(t *testing.T) {
	for _, c := range [][2]string{
		{identity.CodeSeatLimit, members.CodeSeatLimit},
		{identity.CodeAlreadyMember, members.CodeAlreadyMember},
		{identity.CodeInvitationExpired, members.CodeInvitationExpired},
	} {
		if c[0] != c[1] {
			t.Errorf("identity's %q, members' %q", c[0], c[1])
		}
	}
}

// TestFeatureUnavailable_NamesTheFeature: a plan without a feature refuses it with
// store.ErrFeatureUnavailable, code CodeFeatureUnavailable, the feature in Field.
func TestFeatureUnavailable_NamesTheFeature(t *testing.T) {
	err := identity.Free().Require(identity.FeatureSSO)
	var se *store.Error
	if !errors.As(err, &se) || !errors.Is(err, store.ErrFeatureUnavailable) || se.Code != identity.CodeFeatureUnavailable || se.Field != string(identity.FeatureSSO) {
		t.Fatalf("Require(sso) on free: %v", err)
	}
	if err := identity.Enterprise().Require(identity.FeatureSSO); err != nil {
		t.Fatalf("Require(sso) on enterprise: %v", err)
	}
}

// TestNew_RefusesMissingParts: the constructor validates instead of panicking, naming the
// argument.
func TestNew_RefusesMissingParts(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		field string
		new   func() (*identity.Directory, error)
	}{
		{"store", func() (*identity.Directory, error) { return identity.New(nil, e.Authz) }},
		{"guard", func() (*identity.Directory, error) { return identity.New(e.Store, nil) }},
		{"clock", func() (*identity.Directory, error) { return identity.New(e.Store, e.Authz, identity.WithClock(nil)) }},
		{"invitation_ttl", func() (*identity.Directory, error) {
			return identity.New(e.Store, e.Authz, identity.WithInvitationTTL(-1))
		}},
		{"revocation_wait", func() (*identity.Directory, error) {
			return identity.New(e.Store, e.Authz, identity.WithRevocationWait(-1))
		}},
		{"revocation_wait", func() (*identity.Directory, error) {
			return identity.New(e.Store, e.Authz, identity.WithRevocationWait(identity.MaxRevocationWait+1))
		}},
	} {
		d, err := c.new()
		if d != nil || invalidField(err) != c.field {
			t.Errorf("New without %s: %v, %v", c.field, d, err)
		}
	}
	if d := testenv.Directory(t, e.Store, e.Authz); d.Catalog() != e.Plans {
		t.Fatal("the Directory's catalog is not the Guard's")
	}
}
