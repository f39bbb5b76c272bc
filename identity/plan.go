package identity

import (
	"fmt"
	"slices"
	"time"

	"github.com/iamkit/iamkit/store"
)

// Feature is a capability a plan may include. The constants are the features iamkit's
// packages consult; an embedder may define more of its own and test them with Plan.Has.
type Feature string

// The features iamkit's packages consult.
const (
	// FeatureRBAC lets members hold roles other than Administrator. Without it every member
	// is an administrator and bot users act as developers (see package rbac).
	FeatureRBAC Feature = "rbac"
	// FeatureCustomRoles lets an account define its own roles (requires FeatureRBAC to matter).
	FeatureCustomRoles Feature = "custom_roles"
	// FeatureSSO enables SAML single sign-on for the dashboard.
	FeatureSSO Feature = "sso"
	// FeatureCredentialACLs allows bind ACLs on authtokens and SSH credentials.
	FeatureCredentialACLs Feature = "credential_acls"
	// FeatureOwnerAssignment lets administrators create credentials owned by someone else.
	FeatureOwnerAssignment Feature = "owner_assignment"
	// FeatureBotUsers allows bot users (service accounts).
	FeatureBotUsers Feature = "bot_users"
)

// Plan is a named set of features and a seat limit. Plans are data: the embedder defines
// them and passes them in a Catalog; Free, PayAsYouGo and Enterprise are examples.
type Plan struct {
	Name string
	// Seats is how many active members plus pending invitations an account may have;
	// 0 means no limit. Bot users never take a seat.
	Seats    int
	Features []Feature
	// APIRate limits the API requests of an account on the plan, all its credentials
	// together (iamkit.IAM.RateLimit); the zero Rate means DefaultAPIRate.
	APIRate store.Rate
	// APICredentialRate also limits each credential's API requests on its own; the zero
	// Rate means no limit but the account's.
	APICredentialRate store.Rate
}

// DefaultAPIRate is ngrok's API rate limit, the one a plan without an APIRate gets: 120
// requests per 60 seconds.
func DefaultAPIRate() store.Rate { return store.Rate{Limit: 120, Period: time.Minute} }

// APIRateOrDefault returns p.APIRate, or DefaultAPIRate when it is the zero Rate.
func (p Plan) APIRateOrDefault() store.Rate {
	if p.APIRate == (store.Rate{}) {
		return DefaultAPIRate()
	}
	return p.APIRate
}

// Has reports whether the plan includes f.
func (p Plan) Has(f Feature) bool { return slices.Contains(p.Features, f) }

// Require returns an error matching store.ErrFeatureUnavailable (code
// CodeFeatureUnavailable, Field the feature) if the plan lacks f.
func (p Plan) Require(f Feature) error {
	if !p.Has(f) {
		return featureUnavailable(p.Name, f)
	}
	return nil
}

// Example plans, modelled loosely on ngrok's. They are values to copy or adapt, not a fixed
// list: pass whichever plans you sell to NewCatalog. Each call returns a fresh value, so no
// caller can change what another sees.

// Free returns the free plan: one seat, no RBAC (the single member is the administrator), bot users allowed.
func Free() Plan {
	return Plan{Name: "free", Seats: 1, Features: []Feature{FeatureBotUsers}}
}

// PayAsYouGo returns the pay-as-you-go plan: five seats, RBAC with the built-in roles, ACLs, owner assignment.
func PayAsYouGo() Plan {
	return Plan{Name: "payg", Seats: 5, Features: []Feature{
		FeatureBotUsers, FeatureRBAC, FeatureCredentialACLs, FeatureOwnerAssignment,
	}}
}

// Enterprise returns the enterprise plan: unlimited seats and every feature, custom roles and SSO included.
func Enterprise() Plan {
	return Plan{Name: "enterprise", Seats: 0, Features: []Feature{
		FeatureBotUsers, FeatureRBAC, FeatureCustomRoles, FeatureCredentialACLs,
		FeatureOwnerAssignment, FeatureSSO,
	}}
}

// Catalog is the set of plans accounts may be on. It is immutable and safe for concurrent use.
type Catalog struct {
	plans map[string]Plan
}

// NewCatalog returns a Catalog of plans. Names must be non-empty and distinct, seats not
// negative. The plans are copied.
func NewCatalog(plans ...Plan) (*Catalog, error) {
	if len(plans) == 0 {
		return nil, store.Invalid("plans", store.CodeInvalidValue, 0, "at least one plan is required")
	}
	c := &Catalog{plans: make(map[string]Plan, len(plans))}
	for i, p := range plans {
		field := fmt.Sprintf("plans[%d]", i)
		switch {
		case p.Name == "":
			return nil, store.Invalid(field+".name", store.CodeRequired, 0, "required")
		case len(p.Name) > store.MaxNameLen:
			return nil, store.Invalid(field+".name", store.CodeTooLong, store.MaxNameLen, "%d bytes at most, got %d", store.MaxNameLen, len(p.Name))
		case p.Seats < 0:
			return nil, store.Invalid(field+".seats", store.CodeOutOfRange, 0, "must not be negative")
		}
		if err := checkRates(field, p); err != nil {
			return nil, err
		}
		if _, dup := c.plans[p.Name]; dup {
			return nil, store.Invalid(field+".name", store.CodeInvalidValue, 0, "duplicate plan name")
		}
		p.Features = slices.Clone(p.Features)
		c.plans[p.Name] = p
	}
	return c, nil
}

// checkRates checks a plan's API rates: each zero, or a valid store.Rate.
func checkRates(field string, p Plan) error {
	for name, r := range map[string]store.Rate{"api_rate": p.APIRate, "api_credential_rate": p.APICredentialRate} {
		if r == (store.Rate{}) {
			continue
		}
		if err := r.Validate(); err != nil {
			return store.Invalid(field+"."+name, store.CodeOutOfRange, 0, "a positive limit and period, or neither")
		}
	}
	return nil
}

// Plan returns the plan called name.
func (c *Catalog) Plan(name string) (Plan, bool) {
	p, ok := c.plans[name]
	if ok {
		p.Features = slices.Clone(p.Features)
	}
	return p, ok
}

// PlanOf returns the plan an account is on, or an error matching store.ErrInvalid with code
// CodeUnknownPlan when the account's plan is not in the catalog.
func (c *Catalog) PlanOf(a store.Account) (Plan, error) {
	p, ok := c.Plan(a.Plan)
	if !ok {
		return Plan{}, fmt.Errorf("identity: account %s: %w", a.ID, unknownPlan())
	}
	return p, nil
}
