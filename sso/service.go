package sso

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
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
// audit event. Reads (IdentityProvider, IdentityProviders, Settings) need rbac.SSORead, in
// the View that reads. Every call for a principal acts in its account (by.AccountID); the
// login flows (LoginChoices, LoginPolicy, BeginLogin, CompleteLogin, ServiceProvider) run
// before anyone is signed in and take the account from the URL instead.
//
// A Service holds no mutable state and is safe for concurrent use.
type Service struct {
	st       store.Store
	authz    *rbac.Authorizer
	plans    *identity.Catalog
	dir      *identity.Directory
	v        *Validator
	base     string
	clock    store.Clock
	rand     io.Reader
	ids      *id.Generator
	rec      audit.Recorder[identity.Resource]
	members  members.Events[identity.Resource]
	log      *slog.Logger
	loginTTL time.Duration
	pages    pages
	resolver Resolver
}

// Option configures a Service.
type Option func(*config)

type config struct {
	clock     store.Clock
	rand      io.Reader
	logger    *slog.Logger
	loginTTL  time.Duration
	validator []ValidatorOption
	resolver  Resolver
}

// WithClock sets the time source (default: the system clock).
func WithClock(c store.Clock) Option { return func(o *config) { o.clock = c } }

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
// on a loopback host, for tests). A nil store or authorizer, or an option set to nil, is an
// error matching store.ErrInvalid that names it; an unusable base URL or option has code
// CodeConfigInvalid.
func New(st store.Store, authz *rbac.Authorizer, baseURL string, opts ...Option) (*Service, error) {
	switch {
	case st == nil:
		return nil, required("store")
	case authz == nil:
		return nil, required("authorizer")
	}
	c := config{clock: clock.System{}, rand: rand.Reader, loginTTL: DefaultRequestTTL, resolver: net.DefaultResolver}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.clock == nil:
		return nil, required("clock")
	case c.rand == nil:
		return nil, required("random")
	case c.resolver == nil:
		return nil, required("resolver")
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
	dir, err := identity.New(st, authz, identity.WithClock(c.clock), identity.WithRandom(c.rand), identity.WithLogger(c.logger))
	if err != nil {
		return nil, err
	}
	ids := id.NewGenerator(c.clock, c.rand)
	rec := audit.New(ids, c.clock, identity.ResourceOf)
	return &Service{
		st: st, authz: authz, plans: authz.Catalog(), v: v, base: baseURL, dir: dir,
		clock: c.clock, rand: c.rand, ids: ids, log: c.logger, loginTTL: c.loginTTL,
		rec: rec, members: memberEvents(rec), pages: newPages(), resolver: c.resolver,
	}, nil
}

// memberEvents is how just-in-time provisioning records the member it creates, with
// identity's event types and objects (internal/members).
func memberEvents(rec audit.Recorder[identity.Resource]) members.Events[identity.Resource] {
	return members.Events[identity.Resource]{
		Rec: rec, MemberCreated: identity.EventMemberCreated, InvitationAccepted: identity.EventInvitationAccepted,
		InvitationDeleted: identity.EventInvitationDeleted,
		Member: func(m store.Membership, u store.User) audit.Object[identity.Resource] {
			return identity.MemberObjectOf(m, u)
		},
		Invitation: func(inv store.Invitation) audit.Object[identity.Resource] { return identity.InvitationObjectOf(inv) },
	}
}

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// ServiceProvider returns iamkit's SAML service provider for one IdP of one account: the
// entity ID and ACS URL to give that IdP, which Handler serves as public SP metadata. It is
// part of the login flow, read by the IdP before anyone signs in: it checks no permission.
// The IdP must exist in the account.
func (s *Service) ServiceProvider(ctx context.Context, accountID, idpID string) (*ServiceProvider, error) {
	if err := checkIdPIDs(accountID, idpID); err != nil {
		return nil, err
	}
	var p store.IdentityProvider
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		p, err = idpIn(ctx, r, accountID, idpID)
		if err == nil && isOIDC(p) {
			err = fmt.Errorf("sso: identity provider %s is not a SAML IdP: %w", idpID, store.ErrNotFound)
		}
		return err
	})
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

// readSSO runs read in one View after checking that by holds rbac.SSORead (and its plan SSO):
// the shape of every read of the SSO configuration. On error it returns T's zero value.
func readSSO[T any](ctx context.Context, s *Service, by identity.Principal, read func(store.Reader) (T, error)) (T, error) {
	var out T
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := s.permit(ctx, r, by, rbac.SSORead); err != nil {
			return err
		}
		var err error
		out, err = read(r)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// permit checks, through r, that by's account exists, its plan includes SSO and by holds
// perm (rbac.SSOManage for a change, rbac.SSORead for a read), and returns the account.
func (s *Service) permit(ctx context.Context, r store.Reader, by identity.Principal, perm rbac.Permission) (store.Account, error) {
	if err := by.Validate(); err != nil {
		return store.Account{}, err
	}
	acct, err := r.Account(ctx, by.AccountID)
	if err != nil {
		return store.Account{}, fmt.Errorf("sso: account %s: %w", by.AccountID, err)
	}
	if err := s.requireSSO(acct); err != nil {
		return store.Account{}, err
	}
	if err := s.authz.RequireIn(ctx, r, by, perm); err != nil {
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

// Settings returns the SSO settings of by's account with defaults applied (invite-only,
// enforcement off); by needs rbac.SSORead and the plan identity.FeatureSSO. They are the
// stored settings: on a plan without SSO, LoginPolicy treats enforcement as off whatever
// they say.
func (s *Service) Settings(ctx context.Context, by identity.Principal) (Settings, error) {
	var acct store.Account
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		acct, err = s.permit(ctx, r, by, rbac.SSORead)
		return err
	})
	if err != nil {
		return Settings{}, err
	}
	return settingsOf(acct.SSO), nil
}

// SettingsUpdate changes an account's SSO settings: nil fields are left alone.
type SettingsUpdate struct {
	Provisioning *Provisioning
	Enforcement  *Enforcement
}

// UpdateSettings changes the provisioning mode or enforcement of by's account; by needs
// rbac.SSOManage and the plan identity.FeatureSSO. When enforcement leaves "off", Since is
// set to now: members who joined before keep their other logins in mixed mode. Enforcement
// "enforced" needs at least one identity provider (a conflict, code CodeNoIdentityProvider,
// otherwise). A change records an sso_settings_updated event.
func (s *Service) UpdateSettings(ctx context.Context, by identity.Principal, u SettingsUpdate) (Settings, error) {
	if err := by.Validate(); err != nil {
		return Settings{}, err
	}
	if u.Provisioning != nil && !u.Provisioning.Valid() {
		return Settings{}, store.Invalid("provisioning", store.CodeInvalidValue, 0, `must be "invite_only" or "jit"`)
	}
	if u.Enforcement != nil && !u.Enforcement.Valid() {
		return Settings{}, store.Invalid("enforcement", store.CodeInvalidValue, 0, `must be "off", "mixed" or "enforced"`)
	}
	var out Settings
	err := s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.SSOManage)
		if err != nil {
			return err
		}
		accountID := acct.ID
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
					return store.NewError(store.ErrConflict, CodeNoIdentityProvider, "enforcing SSO needs at least one identity provider")
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
		return s.rec.Record(ctx, tx, accountID, identity.EventSSOSettingsUpdated, by.Audit(), SettingsObjectOf(out))
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
// A deny is a LoginDecision, not an error; the error is for failures to decide. It is part
// of a login, before the user acts: it checks no permission.
func (s *Service) LoginPolicy(ctx context.Context, accountID, principalID string, method LoginMethod) (LoginDecision, error) {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return LoginDecision{}, err
	}
	if method == "" {
		return LoginDecision{}, store.Invalid("method", store.CodeRequired, 0, "required")
	}
	if err := botuser.CanLogInID(principalID); err != nil {
		if store.CodeOf(err) == botuser.CodeNoDashboard {
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
