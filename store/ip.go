package store

import (
	"context"
	"fmt"
)

// Validate checks an IPPolicy.
func (p IPPolicy) Validate() error {
	return firstError(
		required("ip_policy.id", p.ID),
		required("ip_policy.account_id", p.AccountID),
		maxLen("ip_policy.description", p.Description, MaxDescriptionLen),
		maxLen("ip_policy.metadata", p.Metadata, MaxMetadataLen),
	)
}

// Validate checks an IPPolicyRule: its prefix canonical (CanonicalPrefix) and its action
// IPAllow or IPDeny.
func (r IPPolicyRule) Validate() error {
	if err := firstError(
		required("ip_policy_rule.id", r.ID),
		required("ip_policy_rule.account_id", r.AccountID),
		required("ip_policy_rule.policy_id", r.PolicyID),
		required("ip_policy_rule.cidr", r.CIDR),
		maxLen("ip_policy_rule.description", r.Description, MaxDescriptionLen),
		maxLen("ip_policy_rule.metadata", r.Metadata, MaxMetadataLen),
	); err != nil {
		return err
	}
	if !CanonicalPrefix(r.CIDR) {
		return Invalid("ip_policy_rule.cidr", CodeInvalidValue, 0,
			"must be an IPv4 or IPv6 prefix in canonical form, such as 10.0.0.0/8 or 2001:db8::/32")
	}
	if r.Action != IPAllow && r.Action != IPDeny {
		return Invalid("ip_policy_rule.action", CodeInvalidValue, 0, "must be %q or %q", IPAllow, IPDeny)
	}
	return nil
}

// Validate checks an IPRestriction: its type one of the restriction types, and 1 to
// MaxIPPolicies distinct policies.
func (x IPRestriction) Validate() error {
	if err := firstError(
		required("ip_restriction.id", x.ID),
		required("ip_restriction.account_id", x.AccountID),
		maxLen("ip_restriction.description", x.Description, MaxDescriptionLen),
		maxLen("ip_restriction.metadata", x.Metadata, MaxMetadataLen),
	); err != nil {
		return err
	}
	switch x.Type {
	case RestrictDashboard, RestrictAPI, RestrictAgent:
	default:
		return Invalid("ip_restriction.type", CodeInvalidValue, 0, "must be %q, %q or %q", RestrictDashboard, RestrictAPI, RestrictAgent)
	}
	const field = "ip_restriction.policy_ids"
	switch {
	case len(x.PolicyIDs) == 0:
		return Invalid(field, CodeRequired, 0, "a restriction needs at least one IP policy")
	case len(x.PolicyIDs) > MaxIPPolicies:
		return Invalid(field, CodeOutOfRange, MaxIPPolicies, "%d IP policies at most, got %d", MaxIPPolicies, len(x.PolicyIDs))
	}
	for i, id := range x.PolicyIDs {
		item := fmt.Sprintf("%s[%d]", field, i)
		if err := required(item, id); err != nil {
			return err
		}
		for _, earlier := range x.PolicyIDs[:i] {
			if earlier == id {
				return Invalid(item, CodeInvalidValue, 0, "names an IP policy twice")
			}
		}
	}
	return nil
}

func (r *reader) IPPolicy(ctx context.Context, id string) (IPPolicy, error) {
	return get[IPPolicy](ctx, r.ops, KindIPPolicy, id)
}

func (r *reader) IPPolicies(ctx context.Context, accountID string, p Page) ([]IPPolicy, error) {
	return list[IPPolicy](ctx, r.ops, KindIPPolicy, IndexAccount, []string{accountID}, p)
}

func (r *reader) IPPolicyRule(ctx context.Context, id string) (IPPolicyRule, error) {
	return get[IPPolicyRule](ctx, r.ops, KindIPPolicyRule, id)
}

func (r *reader) IPPolicyRules(ctx context.Context, accountID string, p Page) ([]IPPolicyRule, error) {
	return list[IPPolicyRule](ctx, r.ops, KindIPPolicyRule, IndexAccount, []string{accountID}, p)
}

func (r *reader) IPPolicyRulesOf(ctx context.Context, accountID, policyID string, p Page) ([]IPPolicyRule, error) {
	return list[IPPolicyRule](ctx, r.ops, KindIPPolicyRule, IndexPolicy, []string{accountID, policyID}, p)
}

func (r *reader) IPRestriction(ctx context.Context, id string) (IPRestriction, error) {
	return get[IPRestriction](ctx, r.ops, KindIPRestriction, id)
}

func (r *reader) IPRestrictions(ctx context.Context, accountID string, p Page) ([]IPRestriction, error) {
	return list[IPRestriction](ctx, r.ops, KindIPRestriction, IndexAccount, []string{accountID}, p)
}

func (w *writer) PutIPPolicy(ctx context.Context, p IPPolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[IPPolicy](ctx, w.ops, KindIPPolicy, p.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindIPPolicy, prev.AccountID, p.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindIPPolicy, p)
}

// DeleteIPPolicy refuses (ErrConflict, CodeInUse) while the policy has rules or a
// restriction applies it.
func (w *writer) DeleteIPPolicy(ctx context.Context, id string) error {
	p, err := get[IPPolicy](ctx, w.ops, KindIPPolicy, id)
	if err != nil {
		return err
	}
	rules, err := w.IPPolicyRulesOf(ctx, p.AccountID, id, Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(rules) > 0 {
		return NewError(ErrConflict, CodeInUse, "the IP policy still has rules: delete them first")
	}
	if applied, err := w.policyApplied(ctx, p.AccountID, id); err != nil || applied {
		if err == nil {
			err = NewError(ErrConflict, CodeInUse, "an IP restriction applies the IP policy: remove it from the restriction first")
		}
		return err
	}
	return w.w.Delete(ctx, KindIPPolicy, id)
}

// policyApplied reports whether a restriction of the account names the policy.
func (w *writer) policyApplied(ctx context.Context, accountID, policyID string) (bool, error) {
	p := Page{Limit: MaxPageLimit}
	for {
		xs, err := w.IPRestrictions(ctx, accountID, p)
		if err != nil {
			return false, err
		}
		for _, x := range xs {
			for _, id := range x.PolicyIDs {
				if id == policyID {
					return true, nil
				}
			}
		}
		if len(xs) < p.Limit {
			return false, nil
		}
		p.BeforeID = xs[len(xs)-1].ID
	}
}

// checkPolicyOf returns an error naming field unless policyID is an IP policy of accountID.
func (w *writer) checkPolicyOf(ctx context.Context, field, accountID, policyID string) error {
	p, err := get[IPPolicy](ctx, w.ops, KindIPPolicy, policyID)
	switch {
	case isNotFound(err) || (err == nil && p.AccountID != accountID):
		return Invalid(field, CodeInvalidValue, 0, "not an IP policy of the account")
	case err != nil:
		return err
	}
	return nil
}

func (w *writer) PutIPPolicyRule(ctx context.Context, r IPPolicyRule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[IPPolicyRule](ctx, w.ops, KindIPPolicyRule, r.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindIPPolicyRule, prev.AccountID, r.AccountID); err != nil {
			return err
		}
		if prev.PolicyID != r.PolicyID {
			return immutable(KindIPPolicyRule, "policy_id")
		}
	} else if err := w.checkPolicyOf(ctx, "ip_policy_rule.policy_id", r.AccountID, r.PolicyID); err != nil {
		return err
	}
	return w.w.Put(ctx, KindIPPolicyRule, r)
}

func (w *writer) DeleteIPPolicyRule(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindIPPolicyRule, id)
}

func (w *writer) PutIPRestriction(ctx context.Context, x IPRestriction) error {
	if err := x.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[IPRestriction](ctx, w.ops, KindIPRestriction, x.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindIPRestriction, prev.AccountID, x.AccountID); err != nil {
			return err
		}
		if prev.Type != x.Type {
			return immutable(KindIPRestriction, "type")
		}
	}
	for i, id := range x.PolicyIDs {
		if err := w.checkPolicyOf(ctx, fmt.Sprintf("ip_restriction.policy_ids[%d]", i), x.AccountID, id); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindIPRestriction, x)
}

func (w *writer) DeleteIPRestriction(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindIPRestriction, id)
}
