package iprestrict

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/service"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Service manages an account's IP policies, their rules and its IP restrictions. Reads need
// rbac.AccountRead, changes rbac.AccountManage (administrators), each checked in the
// transaction it reads or writes in; every change records an event. It is safe for
// concurrent use.
type Service struct {
	st    store.Store
	authz *rbac.Authorizer
	clock store.Clock
	ids   *id.Generator
	rec   audit.Recorder[identity.Resource]
	log   *slog.Logger
}

// Option configures a Service.
type Option func(*config)

type config struct{ service.Config }

// WithClock sets the time source (default: the system clock).
func WithClock(c store.Clock) Option { return func(o *config) { o.Clock = c } }

// WithRandom sets the randomness for IDs (default: crypto/rand.Reader).
func WithRandom(r io.Reader) Option { return func(o *config) { o.Rand = r } }

// WithLogger sets a logger for diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.Logger = l } }

// New returns a Service over st that authorizes with authz. Both are required.
func New(st store.Store, authz *rbac.Authorizer, opts ...Option) (*Service, error) {
	c := config{service.Defaults()}
	for _, o := range opts {
		o(&c)
	}
	parts, err := service.Build(st, authz, c.Config)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, authz: authz, clock: parts.Clock, ids: parts.IDs, rec: parts.Rec, log: parts.Log}, nil
}

// PolicyParams describes an IP policy, like ngrok's IPPolicyCreate and IPPolicyUpdate: on
// update, nil fields are left alone.
type PolicyParams struct {
	Description *string // at most store.MaxDescriptionLen bytes
	Metadata    *string // at most store.MaxMetadataLen bytes
}

// RuleParams describes an IP policy rule, like ngrok's IPPolicyRuleCreate and
// IPPolicyRuleUpdate. PolicyID is for Create only; CIDR and Action are required there.
type RuleParams struct {
	PolicyID    string
	CIDR        *string // an IPv4 or IPv6 prefix without host bits, such as 10.0.0.0/8 or 2001:db8::/32
	Action      *string // store.IPAllow or store.IPDeny
	Description *string
	Metadata    *string
}

// RestrictionParams describes an IP restriction, like ngrok's IPRestrictionCreate and
// IPRestrictionUpdate. Type is for Create only; PolicyIDs is required there.
type RestrictionParams struct {
	Type        string // store.RestrictDashboard, store.RestrictAPI or store.RestrictAgent
	PolicyIDs   *[]string
	Enforced    *bool // default false: warn only
	Description *string
	Metadata    *string
}

// set copies *v into *dst when v is not nil.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// ParseCIDR returns s as a rule's prefix in the store's canonical form: an IPv4 or IPv6
// prefix without host bits (an IPv4-mapped IPv6 prefix is written as IPv4). Anything else
// is an error matching store.ErrInvalid, field "cidr".
func ParseCIDR(s string) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Zone() != "" {
		return "", store.Invalid("cidr", store.CodeInvalidValue, 0, "must be an IPv4 or IPv6 prefix such as 10.0.0.0/8 or 2001:db8::/32")
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return "", store.Invalid("cidr", store.CodeInvalidValue, 0, "an IPv4-mapped prefix must be at least /96")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p != p.Masked() {
		return "", store.Invalid("cidr", store.CodeInvalidValue, 0, "has host bits set: did you mean %s?", p.Masked())
	}
	return p.String(), nil
}

// CreatePolicy creates an IP policy in by's account.
func (s *Service) CreatePolicy(ctx context.Context, by identity.Principal, p PolicyParams) (store.IPPolicy, error) {
	if err := by.Validate(); err != nil {
		return store.IPPolicy{}, err
	}
	pid, err := s.ids.NewIn(id.IPPolicy, by.AccountID)
	if err != nil {
		return store.IPPolicy{}, err
	}
	pol := store.IPPolicy{ID: pid, AccountID: by.AccountID}
	set(&pol.Description, p.Description)
	set(&pol.Metadata, p.Metadata)
	err = s.change(ctx, by, func(tx store.Tx) error {
		pol.CreatedAt = s.clock.Now().UTC()
		if err := tx.PutIPPolicy(ctx, pol); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyCreated, by.Audit(), PolicyObjectOf(pol))
	})
	return result(pol, err)
}

// Policy returns an IP policy of by's account.
func (s *Service) Policy(ctx context.Context, by identity.Principal, policyID string) (store.IPPolicy, error) {
	return get(ctx, s, by, "ip_policy_id", policyID, id.IPPolicy, store.Reader.IPPolicy, func(p store.IPPolicy) string { return p.AccountID })
}

// Policies lists by's account's IP policies, newest first.
func (s *Service) Policies(ctx context.Context, by identity.Principal, p store.Page) ([]store.IPPolicy, error) {
	return list(ctx, s, by, p, id.IPPolicy, store.Reader.IPPolicies)
}

// UpdatePolicy changes an IP policy's description or metadata.
func (s *Service) UpdatePolicy(ctx context.Context, by identity.Principal, policyID string, p PolicyParams) (store.IPPolicy, error) {
	var pol store.IPPolicy
	err := s.changeOne(ctx, by, "ip_policy_id", policyID, id.IPPolicy, func(tx store.Tx) error {
		var err error
		if pol, err = in(ctx, tx, by, policyID, store.Reader.IPPolicy, func(p store.IPPolicy) string { return p.AccountID }); err != nil {
			return err
		}
		set(&pol.Description, p.Description)
		set(&pol.Metadata, p.Metadata)
		if err := tx.PutIPPolicy(ctx, pol); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyUpdated, by.Audit(), PolicyObjectOf(pol))
	})
	return result(pol, err)
}

// DeletePolicy deletes an IP policy and its rules. A policy that a restriction applies is
// not deleted (store.ErrConflict, code store.CodeInUse).
func (s *Service) DeletePolicy(ctx context.Context, by identity.Principal, policyID string) error {
	return s.changeOne(ctx, by, "ip_policy_id", policyID, id.IPPolicy, func(tx store.Tx) error {
		pol, err := in(ctx, tx, by, policyID, store.Reader.IPPolicy, func(p store.IPPolicy) string { return p.AccountID })
		if err != nil {
			return err
		}
		for {
			rules, err := tx.IPPolicyRulesOf(ctx, by.AccountID, policyID, store.Page{Limit: store.MaxPageLimit})
			if err != nil {
				return err
			}
			for _, r := range rules {
				if err := tx.DeleteIPPolicyRule(ctx, r.ID); err != nil {
					return err
				}
				if err := s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyRuleDeleted, by.Audit(), RuleObjectOf(r)); err != nil {
					return err
				}
			}
			if len(rules) < store.MaxPageLimit {
				break
			}
		}
		if err := tx.DeleteIPPolicy(ctx, policyID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyDeleted, by.Audit(), PolicyObjectOf(pol))
	})
}

// CreateRule adds a rule to an IP policy of by's account.
func (s *Service) CreateRule(ctx context.Context, by identity.Principal, p RuleParams) (store.IPPolicyRule, error) {
	if err := by.Validate(); err != nil {
		return store.IPPolicyRule{}, err
	}
	if err := id.CheckArg("ip_policy_id", p.PolicyID, id.IPPolicy); err != nil {
		return store.IPPolicyRule{}, err
	}
	switch {
	case p.CIDR == nil:
		return store.IPPolicyRule{}, store.Invalid("cidr", store.CodeRequired, 0, "required")
	case p.Action == nil:
		return store.IPPolicyRule{}, store.Invalid("action", store.CodeRequired, 0, "required")
	}
	rid, err := s.ids.NewIn(id.IPPolicyRule, by.AccountID)
	if err != nil {
		return store.IPPolicyRule{}, err
	}
	r := store.IPPolicyRule{ID: rid, AccountID: by.AccountID, PolicyID: p.PolicyID}
	if err := applyRule(&r, p); err != nil {
		return store.IPPolicyRule{}, err
	}
	err = s.change(ctx, by, func(tx store.Tx) error {
		if _, err := in(ctx, tx, by, p.PolicyID, store.Reader.IPPolicy, func(p store.IPPolicy) string { return p.AccountID }); err != nil {
			return err
		}
		r.CreatedAt = s.clock.Now().UTC()
		if err := tx.PutIPPolicyRule(ctx, r); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyRuleCreated, by.Audit(), RuleObjectOf(r))
	})
	return result(r, err)
}

// applyRule sets r's fields from p, checking the prefix and the action.
func applyRule(r *store.IPPolicyRule, p RuleParams) error {
	if p.CIDR != nil {
		cidr, err := ParseCIDR(*p.CIDR)
		if err != nil {
			return err
		}
		r.CIDR = cidr
	}
	if p.Action != nil {
		if *p.Action != store.IPAllow && *p.Action != store.IPDeny {
			return store.Invalid("action", store.CodeInvalidValue, 0, "must be %q or %q", store.IPAllow, store.IPDeny)
		}
		r.Action = *p.Action
	}
	set(&r.Description, p.Description)
	set(&r.Metadata, p.Metadata)
	return nil
}

// Rule returns an IP policy rule of by's account.
func (s *Service) Rule(ctx context.Context, by identity.Principal, ruleID string) (store.IPPolicyRule, error) {
	return get(ctx, s, by, "ip_policy_rule_id", ruleID, id.IPPolicyRule, store.Reader.IPPolicyRule, func(r store.IPPolicyRule) string { return r.AccountID })
}

// Rules lists by's account's IP policy rules, newest first.
func (s *Service) Rules(ctx context.Context, by identity.Principal, p store.Page) ([]store.IPPolicyRule, error) {
	return list(ctx, s, by, p, id.IPPolicyRule, store.Reader.IPPolicyRules)
}

// UpdateRule changes an IP policy rule's prefix, action, description or metadata
// (p.PolicyID is ignored: a rule stays in its policy).
func (s *Service) UpdateRule(ctx context.Context, by identity.Principal, ruleID string, p RuleParams) (store.IPPolicyRule, error) {
	var r store.IPPolicyRule
	err := s.changeOne(ctx, by, "ip_policy_rule_id", ruleID, id.IPPolicyRule, func(tx store.Tx) error {
		var err error
		if r, err = in(ctx, tx, by, ruleID, store.Reader.IPPolicyRule, func(r store.IPPolicyRule) string { return r.AccountID }); err != nil {
			return err
		}
		if err := applyRule(&r, p); err != nil {
			return err
		}
		if err := tx.PutIPPolicyRule(ctx, r); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyRuleUpdated, by.Audit(), RuleObjectOf(r))
	})
	return result(r, err)
}

// DeleteRule deletes an IP policy rule.
func (s *Service) DeleteRule(ctx context.Context, by identity.Principal, ruleID string) error {
	return s.changeOne(ctx, by, "ip_policy_rule_id", ruleID, id.IPPolicyRule, func(tx store.Tx) error {
		r, err := in(ctx, tx, by, ruleID, store.Reader.IPPolicyRule, func(r store.IPPolicyRule) string { return r.AccountID })
		if err != nil {
			return err
		}
		if err := tx.DeleteIPPolicyRule(ctx, ruleID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPPolicyRuleDeleted, by.Audit(), RuleObjectOf(r))
	})
}

// CreateRestriction creates an IP restriction in by's account. Without Enforced it only
// warns.
func (s *Service) CreateRestriction(ctx context.Context, by identity.Principal, p RestrictionParams) (store.IPRestriction, error) {
	if err := by.Validate(); err != nil {
		return store.IPRestriction{}, err
	}
	if _, ok := typeOf(p.Type); !ok {
		return store.IPRestriction{}, store.Invalid("type", store.CodeInvalidValue, 0,
			"must be %q, %q or %q", store.RestrictDashboard, store.RestrictAPI, store.RestrictAgent)
	}
	if p.PolicyIDs == nil {
		return store.IPRestriction{}, store.Invalid("ip_policy_ids", store.CodeRequired, 0, "required")
	}
	xid, err := s.ids.NewIn(id.IPRestriction, by.AccountID)
	if err != nil {
		return store.IPRestriction{}, err
	}
	x := store.IPRestriction{ID: xid, AccountID: by.AccountID, Type: p.Type}
	if err := applyRestriction(&x, p); err != nil {
		return store.IPRestriction{}, err
	}
	err = s.change(ctx, by, func(tx store.Tx) error {
		x.CreatedAt = s.clock.Now().UTC()
		if err := tx.PutIPRestriction(ctx, x); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPRestrictionCreated, by.Audit(), RestrictionObjectOf(x))
	})
	return result(x, err)
}

// applyRestriction sets x's fields from p, checking the policy IDs' form.
func applyRestriction(x *store.IPRestriction, p RestrictionParams) error {
	if p.PolicyIDs != nil {
		for i, pid := range *p.PolicyIDs {
			if err := id.CheckArg(fmt.Sprintf("ip_policy_ids[%d]", i), pid, id.IPPolicy); err != nil {
				return err
			}
		}
		x.PolicyIDs = slices.Clone(*p.PolicyIDs)
	}
	set(&x.Enforced, p.Enforced)
	set(&x.Description, p.Description)
	set(&x.Metadata, p.Metadata)
	return nil
}

// Restriction returns an IP restriction of by's account.
func (s *Service) Restriction(ctx context.Context, by identity.Principal, restrictionID string) (store.IPRestriction, error) {
	return get(ctx, s, by, "ip_restriction_id", restrictionID, id.IPRestriction, store.Reader.IPRestriction, func(x store.IPRestriction) string { return x.AccountID })
}

// Restrictions lists by's account's IP restrictions, newest first.
func (s *Service) Restrictions(ctx context.Context, by identity.Principal, p store.Page) ([]store.IPRestriction, error) {
	return list(ctx, s, by, p, id.IPRestriction, store.Reader.IPRestrictions)
}

// UpdateRestriction changes an IP restriction's policies, enforcement, description or
// metadata (p.Type is ignored: a restriction keeps its type).
func (s *Service) UpdateRestriction(ctx context.Context, by identity.Principal, restrictionID string, p RestrictionParams) (store.IPRestriction, error) {
	var x store.IPRestriction
	err := s.changeOne(ctx, by, "ip_restriction_id", restrictionID, id.IPRestriction, func(tx store.Tx) error {
		var err error
		if x, err = in(ctx, tx, by, restrictionID, store.Reader.IPRestriction, func(x store.IPRestriction) string { return x.AccountID }); err != nil {
			return err
		}
		if err := applyRestriction(&x, p); err != nil {
			return err
		}
		if err := tx.PutIPRestriction(ctx, x); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPRestrictionUpdated, by.Audit(), RestrictionObjectOf(x))
	})
	return result(x, err)
}

// DeleteRestriction deletes an IP restriction.
func (s *Service) DeleteRestriction(ctx context.Context, by identity.Principal, restrictionID string) error {
	return s.changeOne(ctx, by, "ip_restriction_id", restrictionID, id.IPRestriction, func(tx store.Tx) error {
		x, err := in(ctx, tx, by, restrictionID, store.Reader.IPRestriction, func(x store.IPRestriction) string { return x.AccountID })
		if err != nil {
			return err
		}
		if err := tx.DeleteIPRestriction(ctx, restrictionID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIPRestrictionDeleted, by.Audit(), RestrictionObjectOf(x))
	})
}

// change runs fn in a transaction after checking that by may manage the account. A
// validation error of the store names its field as the parameters do.
func (s *Service) change(ctx context.Context, by identity.Principal, fn func(store.Tx) error) error {
	return paramField(s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, rbac.AccountManage); err != nil {
			return err
		}
		return fn(tx)
	}))
}

// paramField renames the field of a store validation error ("ip_policy_rule.description",
// "ip_restriction.policy_ids[1]") after the parameter that set it ("description",
// "ip_policy_ids[1]").
func paramField(err error) error {
	var se *store.Error
	if !errors.As(err, &se) || se.Field == "" {
		return err
	}
	f := se.Field
	for _, prefix := range []string{"ip_policy_rule.", "ip_policy.", "ip_restriction."} {
		f = strings.TrimPrefix(f, prefix)
	}
	if rest, ok := strings.CutPrefix(f, "policy_id"); ok {
		f = "ip_policy_id" + rest // policy_id, policy_ids, policy_ids[i]
	}
	if f == se.Field {
		return err
	}
	out := *se
	out.Field = f
	return &out
}

// changeOne is change for a call about one record, whose ID it checks first.
func (s *Service) changeOne(ctx context.Context, by identity.Principal, field, recID string, prefix id.Prefix, fn func(store.Tx) error) error {
	if err := by.Validate(); err != nil {
		return err
	}
	if err := id.CheckArg(field, recID, prefix); err != nil {
		return err
	}
	return s.change(ctx, by, fn)
}

// in reads a record and checks it belongs to by's account: another account's is not found.
func in[T any](ctx context.Context, r store.Reader, by identity.Principal, recID string,
	read func(store.Reader, context.Context, string) (T, error), account func(T) string) (T, error) {
	v, err := read(r, ctx, recID)
	if err == nil && account(v) != by.AccountID {
		err = store.ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("iprestrict: %s: %w", recID, err)
	}
	return v, nil
}

// get reads one record of by's account, which by may read.
func get[T any](ctx context.Context, s *Service, by identity.Principal, field, recID string, prefix id.Prefix,
	read func(store.Reader, context.Context, string) (T, error), account func(T) string) (T, error) {
	var v T
	if err := by.Validate(); err != nil {
		return v, err
	}
	if err := id.CheckArg(field, recID, prefix); err != nil {
		return v, err
	}
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, rbac.AccountRead); err != nil {
			return err
		}
		var err error
		v, err = in(ctx, r, by, recID, read, account)
		return err
	})
	return v, err
}

// list reads a page of by's account's records, which by may read.
func list[T any](ctx context.Context, s *Service, by identity.Principal, p store.Page, prefix id.Prefix,
	read func(store.Reader, context.Context, string, store.Page) ([]T, error)) ([]T, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, prefix); err != nil {
		return nil, err
	}
	var out []T
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, rbac.AccountRead); err != nil {
			return err
		}
		var err error
		out, err = read(r, ctx, by.AccountID, p)
		return err
	})
	return out, err
}

// result returns v, or the zero T with err when err is not nil.
func result[T any](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
