package sso

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// DefaultReturnPath is where a login lands when no safe return path was given.
const DefaultReturnPath = "/"

// Service manages an account's identity providers and SSO settings, runs SP-initiated and
// IdP-initiated logins with provisioning, and answers the login policy for the embedder's
// other login methods. Dashboard sessions are issued by Sessions, HTTP endpoints are served
// by Handler; both are built on a Service.
//
// Changes (identity providers, settings) need rbac.SSOManage, which only administrators
// hold, and a plan with identity.FeatureSSO; each runs in one store.Update together with its
// audit event. Reads (IdentityProvider, IdentityProviders, Settings) do not authorize: guard
// them with rbac.SSORead at the edge that serves them, as for identity.Directory.
//
// A Service holds no mutable state and is safe for concurrent use.
type Service struct {
	st       store.Store
	authz    *rbac.Authorizer
	plans    *identity.Catalog
	dir      *identity.Directory
	v        *Validator
	base     string
	clock    Clock
	rand     io.Reader
	ids      *id.Generator
	rec      audit.Recorder
	log      *slog.Logger
	loginTTL time.Duration
	pages    pages
}

// Option configures a Service.
type Option func(*config)

type config struct {
	clock     Clock
	rand      io.Reader
	logger    *slog.Logger
	loginTTL  time.Duration
	validator []ValidatorOption
}

// WithClock sets the time source (default: the system clock).
func WithClock(c Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness for IDs, AuthnRequest IDs and RelayState keys (default:
// crypto/rand.Reader).
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithLogger sets a logger for diagnostics (default: none). Nothing secret is logged, nor
// any email address.
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.logger = l } }

// WithLoginTTL sets how long a user may take at the IdP during an SP-initiated login: the
// lifetime of the tracked AuthnRequest ID and of the RelayState key (default
// DefaultRequestTTL; at most a day).
func WithLoginTTL(d time.Duration) Option { return func(o *config) { o.loginTTL = d } }

// WithValidatorOptions passes options to the Validator that checks SAML responses (clock
// skew, maximum issue age, size caps). WithRequestTTL among them is overridden by
// WithLoginTTL.
func WithValidatorOptions(opts ...ValidatorOption) Option {
	return func(o *config) { o.validator = append(o.validator, opts...) }
}

// New returns a Service over st that authorizes with authz (and uses its plan catalog).
// baseURL is the absolute URL under which the embedder mounts Handler, as for
// NewServiceProvider: "https://dashboard.example.com" gives ACS URLs
// "https://dashboard.example.com/sso/<account_id>/<idp_id>/acs". It must be https (http only
// on a loopback host, for tests). The error is a *ConfigError.
func New(st store.Store, authz *rbac.Authorizer, baseURL string, opts ...Option) (*Service, error) {
	if st == nil || authz == nil {
		return nil, &ConfigError{Field: "New", Reason: "store and authorizer are required"}
	}
	c := config{clock: clock.System{}, rand: rand.Reader, loginTTL: DefaultRequestTTL}
	for _, o := range opts {
		o(&c)
	}
	if c.clock == nil || c.rand == nil {
		return nil, &ConfigError{Field: "New", Reason: "clock and randomness must not be nil"}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if _, err := NewServiceProvider(baseURL, "ac_x", "idp_x"); err != nil {
		return nil, err
	}
	v, err := NewValidator(st, c.clock, append(c.validator, WithRequestTTL(c.loginTTL))...)
	if err != nil {
		return nil, err
	}
	ids := id.NewGenerator(c.clock, c.rand)
	return &Service{
		st: st, authz: authz, plans: authz.Catalog(), v: v, base: baseURL,
		dir: identity.New(st, authz.Catalog(), authz,
			identity.WithClock(c.clock), identity.WithRandom(c.rand), identity.WithLogger(c.logger)),
		clock: c.clock, rand: c.rand, ids: ids, log: c.logger, loginTTL: c.loginTTL,
		rec: audit.Recorder{IDs: ids, Clock: c.clock}, pages: newPages(),
	}, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// ServiceProvider returns iamkit's SAML service provider for one IdP of one account: the
// entity ID and ACS URL to give that IdP. The IdP must exist in the account.
func (s *Service) ServiceProvider(ctx context.Context, accountID, idpID string) (*ServiceProvider, error) {
	p, err := s.IdentityProvider(ctx, accountID, idpID)
	if err != nil {
		return nil, err
	}
	return s.spFor(p)
}

func (s *Service) spFor(p store.IdentityProvider) (*ServiceProvider, error) {
	sp, err := NewServiceProvider(s.base, p.AccountID, p.ID)
	if err != nil {
		return nil, err
	}
	if p.EmailAttribute != "" {
		// The email comes from an attribute; let the IdP choose its NameID.
		sp.NameIDFormat = NameIDFormatUnspecified
	}
	return sp, nil
}

// permit checks, inside tx, that the account exists, its plan includes SSO and by holds
// rbac.SSOManage.
func (s *Service) permit(ctx context.Context, tx store.Tx, by identity.Principal, accountID string) (store.Account, error) {
	acct, err := tx.Account(ctx, accountID)
	if err != nil {
		return store.Account{}, fmt.Errorf("sso: account %s: %w", accountID, err)
	}
	if err := s.requireSSO(acct); err != nil {
		return store.Account{}, err
	}
	if err := s.authz.RequireIn(ctx, tx, by, accountID, rbac.SSOManage); err != nil {
		return store.Account{}, err
	}
	return acct, nil
}

func (s *Service) requireSSO(acct store.Account) error {
	plan, err := s.plans.PlanOf(acct)
	if err != nil {
		return err
	}
	return plan.Require(identity.FeatureSSO)
}

// effectiveSettings is the account's settings as they apply now: on a plan without
// identity.FeatureSSO, SSO is not available and enforcement is off, so that a downgraded
// account's members are not locked out.
func (s *Service) effectiveSettings(acct store.Account) Settings {
	st := settingsOf(acct.SSO)
	if s.requireSSO(acct) != nil {
		st.Enforcement = EnforcementOff
	}
	return st
}

// Settings returns an account's SSO settings with defaults applied (invite-only, enforcement
// off). They are the stored settings: on a plan without SSO, LoginPolicy treats enforcement
// as off whatever they say.
func (s *Service) Settings(ctx context.Context, accountID string) (Settings, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return Settings{}, err
	}
	var acct store.Account
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		acct, err = r.Account(ctx, accountID)
		return err
	})
	if err != nil {
		return Settings{}, fmt.Errorf("sso: account %s: %w", accountID, err)
	}
	return settingsOf(acct.SSO), nil
}

// SettingsUpdate changes an account's SSO settings: nil fields are left alone.
type SettingsUpdate struct {
	Provisioning *Provisioning
	Enforcement  *Enforcement
}

// UpdateSettings changes an account's provisioning mode or enforcement; by needs
// rbac.SSOManage and the plan identity.FeatureSSO. When enforcement leaves "off", Since is
// set to now: members who joined before keep their other logins in mixed mode. Enforcement
// "enforced" needs at least one identity provider (an *EnforcementError matching
// ErrNoIdentityProvider otherwise). A change records an sso_settings_updated event.
func (s *Service) UpdateSettings(ctx context.Context, by identity.Principal, accountID string, u SettingsUpdate) (Settings, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return Settings{}, err
	}
	if err := by.Validate(accountID); err != nil {
		return Settings{}, err
	}
	if u.Provisioning != nil && !u.Provisioning.Valid() {
		return Settings{}, &identity.ValidationError{Field: "provisioning", Reason: `must be "invite_only" or "jit"`}
	}
	if u.Enforcement != nil && !u.Enforcement.Valid() {
		return Settings{}, &identity.ValidationError{Field: "enforcement", Reason: `must be "off", "mixed" or "enforced"`}
	}
	var out Settings
	err := s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, accountID)
		if err != nil {
			return err
		}
		before := settingsOf(acct.SSO)
		out = before
		if u.Provisioning != nil {
			out.Provisioning = *u.Provisioning
		}
		if u.Enforcement != nil {
			out.Enforcement = *u.Enforcement
			if out.Enforcement == EnforcementEnforced {
				n, err := countIdPs(ctx, tx, accountID, 1)
				if err != nil {
					return err
				}
				if n == 0 {
					return &EnforcementError{AccountID: accountID, Kind: ErrNoIdentityProvider}
				}
			}
			if before.Enforcement == EnforcementOff && out.Enforcement != EnforcementOff {
				out.Since = s.now()
			}
		}
		if out == before && acct.SSO == out.store() {
			return nil
		}
		acct.SSO = out.store()
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, accountID, audit.SSOSettingsUpdated, by.Audit(), audit.SSOSettings(string(out.Provisioning), string(out.Enforcement), out.Since))
	})
	if err != nil {
		return Settings{}, err
	}
	return out, nil
}

// countIdPs counts an account's identity providers, up to limit.
func countIdPs(ctx context.Context, r store.Reader, accountID string, limit int) (int, error) {
	ps, err := r.IdentityProviders(ctx, accountID, store.Page{Limit: limit})
	return len(ps), err
}

// LoginPolicy decides whether the user principalID may log into accountID with method: the
// check an embedder makes before completing its own non-SSO logins (password, OAuth), so
// that mixed and enforced SSO hold. See Settings.LoginPolicy for the rules; besides them a
// bot user is denied (ReasonBotUser) and a user without a membership in the account is
// denied (ReasonNotMember). On a plan without identity.FeatureSSO enforcement counts as off.
// A deny is a LoginDecision, not an error; the error is for failures to decide.
func (s *Service) LoginPolicy(ctx context.Context, accountID, principalID string, method LoginMethod) (LoginDecision, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return LoginDecision{}, err
	}
	if method == "" {
		return LoginDecision{}, &identity.ValidationError{Field: "method", Reason: "required"}
	}
	if err := botuser.CanLogInID(principalID); err != nil {
		if errors.Is(err, botuser.ErrNoDashboard) {
			return LoginDecision{Method: method, Reason: ReasonBotUser}, nil
		}
		return LoginDecision{}, err
	}
	var d LoginDecision
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		d, err = s.loginPolicy(ctx, r, accountID, principalID, method)
		return err
	})
	return d, err
}

func (s *Service) loginPolicy(ctx context.Context, r store.Reader, accountID, userID string, method LoginMethod) (LoginDecision, error) {
	acct, err := r.Account(ctx, accountID)
	if err != nil {
		return LoginDecision{}, fmt.Errorf("sso: account %s: %w", accountID, err)
	}
	settings := s.effectiveSettings(acct)
	m, err := r.Membership(ctx, accountID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return LoginDecision{Method: method, Enforcement: settings.Enforcement, Reason: ReasonNotMember}, nil
	} else if err != nil {
		return LoginDecision{}, err
	}
	return settings.LoginPolicy(m, method), nil
}
