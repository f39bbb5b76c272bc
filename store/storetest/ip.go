package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Records of account-wide IP restrictions: IP policies, their rules, and restrictions that
// apply policies to the dashboard, the API or agents.

func (e *env) newIPPolicy(accountID string) store.IPPolicy {
	return store.IPPolicy{ID: e.newIDIn(id.IPPolicy, accountID), AccountID: accountID,
		Description: "office", Metadata: `{"site":"hq"}`, CreatedAt: e.now()}
}

func (e *env) putIPPolicy(accountID string) store.IPPolicy {
	e.t.Helper()
	p := e.newIPPolicy(accountID)
	e.update(func(tx store.Tx) error { return tx.PutIPPolicy(e.ctx, p) })
	return p
}

func (e *env) newIPRule(accountID, policyID, cidr string) store.IPPolicyRule {
	return store.IPPolicyRule{ID: e.newIDIn(id.IPPolicyRule, accountID), AccountID: accountID, PolicyID: policyID,
		CIDR: cidr, Action: store.IPAllow, Description: "vpn", CreatedAt: e.now()}
}

func (e *env) newIPRestriction(accountID string, policyIDs ...string) store.IPRestriction {
	return store.IPRestriction{ID: e.newIDIn(id.IPRestriction, accountID), AccountID: accountID, Type: store.RestrictAPI,
		PolicyIDs: policyIDs, Description: "api from the office", CreatedAt: e.now()}
}

func testIPRestrictions(t *testing.T, ns NewStore) {
	runCRUD(t, ns, crudCase[store.IPPolicy]{
		name: "ip_policy",
		make: func(e *env) store.IPPolicy { return e.newIPPolicy(e.putAccount()) },
		change: func(p store.IPPolicy) store.IPPolicy {
			p.Description, p.Metadata = "branch office", ""
			return p
		},
		put: func(ctx context.Context, tx store.Tx, p store.IPPolicy) error { return tx.PutIPPolicy(ctx, p) },
		get: func(ctx context.Context, r store.Reader, p store.IPPolicy) (store.IPPolicy, error) {
			return r.IPPolicy(ctx, p.ID)
		},
		del: func(ctx context.Context, tx store.Tx, p store.IPPolicy) error { return tx.DeleteIPPolicy(ctx, p.ID) },
		list: func(ctx context.Context, r store.Reader, p store.IPPolicy) ([]store.IPPolicy, error) {
			return r.IPPolicies(ctx, p.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.IPPolicyRule]{
		name: "ip_policy_rule",
		make: func(e *env) store.IPPolicyRule {
			acct := e.putAccount()
			return e.newIPRule(acct, e.putIPPolicy(acct).ID, "2001:db8::/32")
		},
		change: func(r store.IPPolicyRule) store.IPPolicyRule {
			r.CIDR, r.Action, r.Description = "192.0.2.0/24", store.IPDeny, "blocked"
			return r
		},
		put: func(ctx context.Context, tx store.Tx, r store.IPPolicyRule) error { return tx.PutIPPolicyRule(ctx, r) },
		get: func(ctx context.Context, r store.Reader, v store.IPPolicyRule) (store.IPPolicyRule, error) {
			return r.IPPolicyRule(ctx, v.ID)
		},
		del: func(ctx context.Context, tx store.Tx, r store.IPPolicyRule) error {
			return tx.DeleteIPPolicyRule(ctx, r.ID)
		},
		list: func(ctx context.Context, r store.Reader, v store.IPPolicyRule) ([]store.IPPolicyRule, error) {
			return r.IPPolicyRulesOf(ctx, v.AccountID, v.PolicyID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.IPRestriction]{
		name: "ip_restriction",
		make: func(e *env) store.IPRestriction {
			acct := e.putAccount()
			return e.newIPRestriction(acct, e.putIPPolicy(acct).ID, e.putIPPolicy(acct).ID)
		},
		change: func(x store.IPRestriction) store.IPRestriction {
			x = x.Clone()
			x.PolicyIDs, x.Enforced, x.Description = x.PolicyIDs[:1], true, "enforced"
			return x
		},
		put: func(ctx context.Context, tx store.Tx, x store.IPRestriction) error {
			return tx.PutIPRestriction(ctx, x)
		},
		get: func(ctx context.Context, r store.Reader, x store.IPRestriction) (store.IPRestriction, error) {
			return r.IPRestriction(ctx, x.ID)
		},
		del: func(ctx context.Context, tx store.Tx, x store.IPRestriction) error {
			return tx.DeleteIPRestriction(ctx, x.ID)
		},
		clone:  store.IPRestriction.Clone,
		mutate: func(x store.IPRestriction) { x.PolicyIDs[0] = "ipp_mutated" },
		list: func(ctx context.Context, r store.Reader, x store.IPRestriction) ([]store.IPRestriction, error) {
			return r.IPRestrictions(ctx, x.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	t.Run("ip_rules", func(t *testing.T) {
		t.Parallel()
		testIPRules(t, ns)
	})
}

// testIPRules: references stay within an account, fixed fields stay fixed, a policy in use
// cannot be deleted, and validation names its field and limit.
func testIPRules(t *testing.T, ns NewStore) {
	leaf(t, "references", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		pol, foreign := e.putIPPolicy(acct), e.putIPPolicy(other)

		r := e.newIPRule(acct, foreign.ID, "10.0.0.0/8")
		wantCode(t, "rule of another account's policy", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPPolicyRule(e.ctx, r) }),
			store.ErrInvalid, store.CodeInvalidValue, "ip_policy_rule.policy_id")
		x := e.newIPRestriction(acct, pol.ID, foreign.ID)
		wantCode(t, "restriction of another account's policy", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, x) }),
			store.ErrInvalid, store.CodeInvalidValue, "ip_restriction.policy_ids[1]")

		r = e.newIPRule(acct, pol.ID, "10.0.0.0/8")
		e.update(func(tx store.Tx) error { return tx.PutIPPolicyRule(e.ctx, r) })
		wantCode(t, "policy with a rule deleted", e.tryUpdate(func(tx store.Tx) error { return tx.DeleteIPPolicy(e.ctx, pol.ID) }),
			store.ErrConflict, store.CodeInUse, "")
		moved := r
		moved.PolicyID = e.putIPPolicy(acct).ID
		wantCode(t, "rule moved to another policy", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPPolicyRule(e.ctx, moved) }),
			store.ErrInvalid, store.CodeImmutable, "policy_id")
		e.update(func(tx store.Tx) error { return tx.DeleteIPPolicyRule(e.ctx, r.ID) })

		x = e.newIPRestriction(acct, pol.ID)
		e.update(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, x) })
		wantCode(t, "policy applied by a restriction deleted", e.tryUpdate(func(tx store.Tx) error { return tx.DeleteIPPolicy(e.ctx, pol.ID) }),
			store.ErrConflict, store.CodeInUse, "")
		retyped := x.Clone()
		retyped.Type = store.RestrictAgent
		wantCode(t, "restriction's type changed", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, retyped) }),
			store.ErrInvalid, store.CodeImmutable, "type")
		e.update(func(tx store.Tx) error {
			if err := tx.DeleteIPRestriction(e.ctx, x.ID); err != nil {
				return err
			}
			return tx.DeleteIPPolicy(e.ctx, pol.ID)
		})
	})

	leaf(t, "validation", ns, func(e *env) {
		acct := e.putAccount()
		pol := e.putIPPolicy(acct)
		for _, c := range []struct {
			name, cidr, action, field, code string
		}{
			{"host bits set", "10.0.0.1/8", store.IPAllow, "ip_policy_rule.cidr", store.CodeInvalidValue},
			{"v4 mapped in v6", "::ffff:10.0.0.0/104", store.IPAllow, "ip_policy_rule.cidr", store.CodeInvalidValue},
			{"not a prefix", "10.0.0.0", store.IPAllow, "ip_policy_rule.cidr", store.CodeInvalidValue},
			{"no prefix", "", store.IPAllow, "ip_policy_rule.cidr", store.CodeRequired},
			{"unknown action", "10.0.0.0/8", "permit", "ip_policy_rule.action", store.CodeInvalidValue},
		} {
			r := e.newIPRule(acct, pol.ID, c.cidr)
			r.Action = c.action
			wantCode(t, c.name, e.tryUpdate(func(tx store.Tx) error { return tx.PutIPPolicyRule(e.ctx, r) }),
				store.ErrInvalid, c.code, c.field)
		}
		many := make([]string, store.MaxIPPolicies+1)
		for i := range many {
			many[i] = pol.ID + string(rune('a'+i%26)) + string(rune('a'+i/26))
		}
		x := e.newIPRestriction(acct, many...)
		err := e.tryUpdate(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, x) })
		wantCode(t, "too many policies", err, store.ErrInvalid, store.CodeOutOfRange, "ip_restriction.policy_ids")
		if se := (*store.Error)(nil); !errors.As(err, &se) || se.Limit != store.MaxIPPolicies {
			t.Errorf("too many policies: limit not %d: %v", store.MaxIPPolicies, err)
		}
		x = e.newIPRestriction(acct, pol.ID)
		x.Type = "ssh"
		wantCode(t, "unknown type", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, x) }),
			store.ErrInvalid, store.CodeInvalidValue, "ip_restriction.type")
		x = e.newIPRestriction(acct, pol.ID, pol.ID)
		wantCode(t, "a policy twice", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, x) }),
			store.ErrInvalid, store.CodeInvalidValue, "ip_restriction.policy_ids[1]")
		x = e.newIPRestriction(acct)
		wantCode(t, "no policy", e.tryUpdate(func(tx store.Tx) error { return tx.PutIPRestriction(e.ctx, x) }),
			store.ErrInvalid, store.CodeRequired, "ip_restriction.policy_ids")
	})
}

// wantCode checks that err matches kind with code and, when field is not empty, names field.
func wantCode(t *testing.T, what string, err, kind error, code, field string) {
	t.Helper()
	var se *store.Error
	if !errors.Is(err, kind) || !errors.As(err, &se) || se.Code != code || (field != "" && se.Field != field) {
		t.Errorf("%s: %v; want %v, code %s, field %q", what, err, kind, code, field)
	}
}
