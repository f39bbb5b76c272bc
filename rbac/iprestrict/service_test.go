package iprestrict_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

func newIAM(t *testing.T) (*iamkit.IAM, iamkit.Bootstrapped) {
	t.Helper()
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		t.Fatal(err)
	}
	iam, err := iamkit.New(st, plans)
	if err != nil {
		t.Fatal(err)
	}
	if err := iam.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(context.Background()) })
	boot, err := iam.Bootstrap(t.Context(), iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.PayAsYouGo().Name, AdminEmail: "admin@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	return iam, boot
}

func p[T any](v T) *T { return &v }

// TestServiceErrors: invalid parameters are named as the caller named them, with their
// limit; a policy in use is not deleted; another account's records are not found.
func TestServiceErrors(t *testing.T) {
	iam, boot := newIAM(t)
	other, err := iam.Bootstrap(t.Context(), iamkit.BootstrapSpec{AccountKey: "other", AccountName: "Other",
		Plan: identity.PayAsYouGo().Name, AdminEmail: "admin@other.test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, admin, svc := t.Context(), boot.Admin, iam.IPRestrictions()
	pol, err := svc.CreatePolicy(ctx, admin, iprestrict.PolicyParams{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := svc.CreatePolicy(ctx, other.Admin, iprestrict.PolicyParams{})
	if err != nil {
		t.Fatal(err)
	}
	x, err := svc.CreateRestriction(ctx, admin, iprestrict.RestrictionParams{Type: store.RestrictAgent, PolicyIDs: &[]string{pol.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		err   error
		kind  error
		code  string
		field string
		limit int
	}{
		{"long description", second(svc.CreatePolicy(ctx, admin, iprestrict.PolicyParams{Description: p(strings.Repeat("x", store.MaxDescriptionLen+1))})),
			store.ErrInvalid, store.CodeTooLong, "description", store.MaxDescriptionLen},
		{"long metadata", second(svc.UpdatePolicy(ctx, admin, pol.ID, iprestrict.PolicyParams{Metadata: p(strings.Repeat("x", store.MaxMetadataLen+1))})),
			store.ErrInvalid, store.CodeTooLong, "metadata", store.MaxMetadataLen},
		{"host bits", second(svc.CreateRule(ctx, admin, iprestrict.RuleParams{PolicyID: pol.ID, CIDR: p("10.0.0.1/8"), Action: p(store.IPAllow)})),
			store.ErrInvalid, store.CodeInvalidValue, "cidr", 0},
		{"unknown action", second(svc.CreateRule(ctx, admin, iprestrict.RuleParams{PolicyID: pol.ID, CIDR: p("10.0.0.0/8"), Action: p("block")})),
			store.ErrInvalid, store.CodeInvalidValue, "action", 0},
		{"another account's policy", second(svc.CreateRestriction(ctx, admin, iprestrict.RestrictionParams{Type: store.RestrictAPI, PolicyIDs: &[]string{pol.ID, foreign.ID}})),
			store.ErrInvalid, store.CodeInvalidValue, "ip_policy_ids[1]", 0},
		{"unknown type", second(svc.CreateRestriction(ctx, admin, iprestrict.RestrictionParams{Type: "ssh", PolicyIDs: &[]string{pol.ID}})),
			store.ErrInvalid, store.CodeInvalidValue, "type", 0},
		{"an empty policy ID", second(svc.UpdateRestriction(ctx, admin, x.ID, iprestrict.RestrictionParams{PolicyIDs: p(make([]string, store.MaxIPPolicies+1))})),
			store.ErrInvalid, "", "ip_policy_ids[0]", 0},
		{"policy in use", svc.DeletePolicy(ctx, admin, pol.ID), store.ErrConflict, store.CodeInUse, "", 0},
		{"another account's policy", second(svc.Policy(ctx, other.Admin, pol.ID)), store.ErrNotFound, "", "", 0},
	} {
		var se *store.Error
		errors.As(c.err, &se)
		switch {
		case !errors.Is(c.err, c.kind):
			t.Errorf("%s: %v, want %v", c.name, c.err, c.kind)
		case c.code != "" && store.CodeOf(c.err) != c.code:
			t.Errorf("%s: code %s, want %s", c.name, store.CodeOf(c.err), c.code)
		case c.field != "" && (se == nil || se.Field != c.field || se.Limit != c.limit):
			t.Errorf("%s: %#v, want field %s limit %d", c.name, se, c.field, c.limit)
		}
	}
}

func second[T any](_ T, err error) error { return err }
