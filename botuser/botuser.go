package botuser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/service"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// MaxNameLen is the longest bot user name, in bytes.
const MaxNameLen = store.MaxNameLen

// The codes of this package's errors (store.CodeOf), besides the store's and those of the
// packages it calls (identity, rbac).
const (
	// CodeNameTaken: a bot user name is already used in the account (store.ErrConflict,
	// Field "name").
	CodeNameTaken = "name_taken"
	// CodeNoDashboard: bot users never log into the dashboard (store.ErrDenied).
	CodeNoDashboard = "bot_no_dashboard"
)

// nameTaken is the error of a bot user name already used in an account.
func nameTaken() error {
	return &store.Error{
		Kind: store.ErrConflict, Code: CodeNameTaken, Field: "name",
		Msg: "already used in this account; bot user names must be unique within an account",
	}
}

// noDashboard is the error of a bot user at a login.
func noDashboard() error {
	return store.NewError(store.ErrDenied, CodeNoDashboard, "bot users cannot log into the dashboard")
}

// CanLogIn returns an error matching store.ErrDenied (code CodeNoDashboard) if p is a bot
// user (by kind or by ID prefix), and nil for a user. Every path that issues a dashboard
// session calls it first.
func CanLogIn(p identity.Principal) error {
	if p.Kind == identity.KindBotUser {
		return noDashboard()
	}
	return CanLogInID(p.ID)
}

// CanLogInID is CanLogIn for a path that holds only a principal ID: nil for a well-formed
// user ID, the CodeNoDashboard denial for a bot user ID, an error matching store.ErrInvalid
// (Field "principal_id") otherwise.
func CanLogInID(principalID string) error {
	pre, err := id.PrefixOf(principalID)
	switch {
	case pre == id.BotUser:
		return noDashboard()
	case err != nil || pre != id.User:
		return store.Invalid("principal_id", store.CodeInvalidValue, 0, "not a user id")
	}
	return nil
}

// BotUserObject is a bot user as audit events record it and an API serves it: ngrok's
// BotUser; roles is iamkit's extension (RBAC plans).
type BotUserObject struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	Roles     []string `json:"roles,omitempty"`
}

// Resource returns identity.ResourceBotUser.
func (BotUserObject) Resource() identity.Resource { return identity.ResourceBotUser }

// BotUserObjectOf returns the object of a bot user.
func BotUserObjectOf(b store.BotUser) BotUserObject {
	return BotUserObject{ID: b.ID, Name: b.Name, Active: b.Active, CreatedAt: identity.Timestamp(b.CreatedAt), Roles: slices.Clone(b.Roles)}
}

// Service manages bot users. It is safe for concurrent use.
type Service struct {
	st    store.Store
	authz *rbac.Authorizer
	plans *identity.Catalog
	clock store.Clock
	ids   *id.Generator
	rec   audit.Recorder[identity.Resource]
	log   *slog.Logger
	// revoke is how long Delete waits after its commit (WithRevocationWait).
	revoke time.Duration
}

// Option configures a Service.
type Option func(*config)

type config struct {
	service.Config
	revoke time.Duration // WithRevocationWait
}

// WithClock sets the time source (default: the system clock).
func WithClock(c store.Clock) Option { return func(o *config) { o.Clock = c } }

// WithRandom sets the randomness for IDs (default: crypto/rand.Reader).
func WithRandom(r io.Reader) Option { return func(o *config) { o.Rand = r } }

// WithLogger sets a logger for diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.Logger = l } }

// WithRevocationWait has Delete return only d after its commit (default 0: at once). Set it to
// the maximum staleness of every credential Verifier of the deployment
// (credential.WithMaxStaleness, on an exact clock): a Verifier serves a cached credential only
// while it knows itself in sync with the change feed as of at most that long ago, so once
// Delete returns, every Verifier refuses the bot user's credentials, whether or not its feed
// has delivered the deletion yet. iamkit.WithRevocationBound sets both. At most
// identity.MaxRevocationWait.
func WithRevocationWait(d time.Duration) Option { return func(o *config) { o.revoke = d } }

// New returns a Service over st that authorizes with authz (and uses its plan catalog).
// Both are required: a nil one, or an option set to nil, is an error matching
// store.ErrInvalid that names it.
func New(st store.Store, authz *rbac.Authorizer, opts ...Option) (*Service, error) {
	c := config{Config: service.Defaults()}
	for _, o := range opts {
		o(&c)
	}
	parts, err := service.Build(st, authz, c.Config)
	if err != nil {
		return nil, err
	}
	if c.revoke < 0 || c.revoke > identity.MaxRevocationWait {
		return nil, store.Invalid("revocation_wait", store.CodeOutOfRange, 0, "must be between 0 and %s", identity.MaxRevocationWait)
	}
	return &Service{
		st: st, authz: authz, plans: authz.Catalog(), clock: parts.Clock, ids: parts.IDs, rec: parts.Rec, log: parts.Log,
		revoke: c.revoke,
	}, nil
}

// CreateParams describes a new bot user, like ngrok's BotUserCreate.
type CreateParams struct {
	Name   string   // required, unique in the account; see identity.CheckName (at most MaxNameLen bytes); with an @, a canonical email address
	Active *bool    // default true
	Roles  []string // default none: the bot acts with rbac.DefaultBotRoles
}

// UpdateParams changes a bot user, like ngrok's BotUserUpdate: nil fields are left alone.
type UpdateParams struct {
	Name   *string
	Active *bool
	Roles  *[]string
}

// Create creates a bot user in by's account. by needs rbac.BotUsersWrite, the plan
// identity.FeatureBotUsers, and roles (if any) must be ones by could grant and a service user
// may hold (rbac.Authorizer.BotRoles). A name already used in the account is a conflict (code
// CodeNameTaken).
func (s *Service) Create(ctx context.Context, by identity.Principal, p CreateParams) (store.BotUser, error) {
	if err := by.Validate(); err != nil {
		return store.BotUser{}, err
	}
	if err := checkName(p.Name); err != nil {
		return store.BotUser{}, err
	}
	botID, err := s.ids.NewIn(id.BotUser, by.AccountID)
	if err != nil {
		return store.BotUser{}, err
	}
	b := store.BotUser{ID: botID, AccountID: by.AccountID, Name: p.Name, Active: p.Active == nil || *p.Active}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.BotUsersWrite)
		if err != nil {
			return err
		}
		if b.Roles, err = s.roles(ctx, tx, by, acct, p.Roles); err != nil {
			return err
		}
		if err := nameFree(ctx, tx, by.AccountID, p.Name, ""); err != nil {
			return err
		}
		b.CreatedAt = s.clock.Now().UTC()
		if err := s.put(ctx, tx, b); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventBotUserCreated, by.Audit(), BotUserObjectOf(b))
	})
	if err != nil {
		return store.BotUser{}, err
	}
	return b, nil
}

// Get returns a bot user of by's account; by needs rbac.BotUsersRead (and the plan
// identity.FeatureBotUsers).
//
// Reads (Get, List) are authorized by rbac.Authorizer.RequireRead: from the Authorizer's
// grant cache while it follows the change feed (as stale as the feed, within its maximum
// staleness), else in the View that reads. Changes are authorized inside their transaction.
func (s *Service) Get(ctx context.Context, by identity.Principal, botID string) (store.BotUser, error) {
	if err := checkArgs(by, botID); err != nil {
		return store.BotUser{}, err
	}
	var b store.BotUser
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireRead(ctx, r, by, rbac.BotUsersRead); err != nil {
			return err
		}
		var err error
		b, err = botIn(ctx, r, by.AccountID, botID)
		return err
	})
	if err != nil {
		return store.BotUser{}, err
	}
	return b, nil
}

// List returns a page of the bot users of by's account, newest first: at most p.Limit of
// them created before p.BeforeID (from the newest when empty). The next page's BeforeID is
// the last ID returned, when the page is full. by needs rbac.BotUsersRead.
func (s *Service) List(ctx context.Context, by identity.Principal, p store.Page) ([]store.BotUser, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.BotUser); err != nil {
		return nil, err
	}
	var bs []store.BotUser
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireRead(ctx, r, by, rbac.BotUsersRead); err != nil {
			return err
		}
		var err error
		bs, err = r.BotUsers(ctx, by.AccountID, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return bs, nil
}

// Update changes a bot user's name, active flag or roles; by needs rbac.BotUsersWrite.
// Setting Active to false suspends every credential the bot owns, in this one write;
// setting it to true restores them.
func (s *Service) Update(ctx context.Context, by identity.Principal, botID string, p UpdateParams) (store.BotUser, error) {
	if err := checkArgs(by, botID); err != nil {
		return store.BotUser{}, err
	}
	if p.Name != nil {
		if err := checkName(*p.Name); err != nil {
			return store.BotUser{}, err
		}
	}
	var b store.BotUser
	err := s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.BotUsersWrite)
		if err != nil {
			return err
		}
		if b, err = botIn(ctx, tx, by.AccountID, botID); err != nil {
			return err
		}
		before := b.Clone()
		if p.Name != nil && *p.Name != b.Name {
			if err := nameFree(ctx, tx, by.AccountID, *p.Name, b.ID); err != nil {
				return err
			}
			b.Name = *p.Name
		}
		if p.Active != nil {
			b.Active = *p.Active
		}
		if p.Roles != nil {
			if b.Roles, err = s.roles(ctx, tx, by, acct, *p.Roles); err != nil {
				return err
			}
		}
		if b.Name == before.Name && b.Active == before.Active && slices.Equal(b.Roles, before.Roles) {
			return nil
		}
		if err := s.put(ctx, tx, b); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventBotUserUpdated, by.Audit(), BotUserObjectOf(b))
	})
	if err != nil {
		return store.BotUser{}, err
	}
	return b, nil
}

// Delete deletes a bot user of by's account, recording a bot_user_deleted event; by needs
// rbac.BotUsersWrite. From that commit on, every credential the bot owned is gone for every
// read (the store keeps a store.Tombstone), irreversibly; credential's purger deletes them
// later, in batches, recording their *_deleted events attributed to by.
//
// With WithRevocationWait, it returns only that long after the commit; if ctx ends
// meanwhile, it returns ctx's error, and the deletion stands.
func (s *Service) Delete(ctx context.Context, by identity.Principal, botID string) error {
	if err := checkArgs(by, botID); err != nil {
		return err
	}
	if err := s.delete(ctx, by, botID); err != nil {
		return err
	}
	if err := clock.Sleep(ctx, s.revoke); err != nil {
		return fmt.Errorf("botuser: %s deleted; waiting out the revocation wait: %w", botID, err)
	}
	return nil
}

// delete is Delete's transaction.
func (s *Service) delete(ctx context.Context, by identity.Principal, botID string) error {
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.permit(ctx, tx, by, rbac.BotUsersWrite); err != nil {
			return err
		}
		b, err := botIn(ctx, tx, by.AccountID, botID)
		if err != nil {
			return err
		}
		if err := tx.DeleteBotUser(ctx, botID, by.Audit()); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventBotUserDeleted, by.Audit(), BotUserObjectOf(b))
	})
}

// permit checks, inside tx, that the account's plan has bot users and that by holds perm,
// and returns the account.
func (s *Service) permit(ctx context.Context, tx store.Tx, by identity.Principal, perm rbac.Permission) (store.Account, error) {
	acct, err := tx.Account(ctx, by.AccountID)
	if err != nil {
		return store.Account{}, err
	}
	plan, err := s.plans.PlanOf(acct)
	if err != nil {
		return store.Account{}, err
	}
	if err := plan.Require(identity.FeatureBotUsers); err != nil {
		return store.Account{}, err
	}
	if err := s.authz.RequireIn(ctx, tx, by, perm); err != nil {
		return store.Account{}, err
	}
	return acct, nil
}

func (s *Service) roles(ctx context.Context, tx store.Tx, by identity.Principal, acct store.Account, roles []string) ([]string, error) {
	out, err := s.authz.BotRoles(ctx, tx, acct, roles)
	if err != nil || len(out) == 0 {
		return out, err
	}
	if err := s.authz.PermitGrant(ctx, tx, by, acct, rbac.BotUsersWrite, out); err != nil {
		return nil, err
	}
	return out, nil
}

// put writes b, turning the store's name conflict into the CodeNameTaken error.
func (s *Service) put(ctx context.Context, tx store.Tx, b store.BotUser) error {
	err := tx.PutBotUser(ctx, b)
	var se *store.Error
	if errors.As(err, &se) && se.Code == store.CodeAlreadyExists && se.Field == store.IndexName {
		return nameTaken()
	}
	return err
}

func nameFree(ctx context.Context, r store.Reader, accountID, name, self string) error {
	other, err := r.BotUserByName(ctx, accountID, name)
	switch {
	case err == nil && other.ID != self:
		return nameTaken()
	case err == nil || errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// checkName applies identity.CheckName, and to a name that looks like an email address
// (it holds an at sign, ASCII, fullwidth or small) identity.NormalizeEmail as well: such a
// name must be an address in canonical form. The SSO login, which refuses an asserted email
// equal to a bot user's name, then compares canonical forms: no case variant or look-alike
// of a bot user's name passes for a different address.
func checkName(name string) error {
	if err := identity.CheckName("name", name, true); err != nil {
		return err
	}
	if !looksLikeEmail(name) {
		return nil
	}
	if canonical, err := identity.NormalizeEmail(name); err != nil || canonical != name {
		return store.Invalid("name", store.CodeInvalidValue, 0, "a name with an @ must be a lower-case ASCII email address such as ci@example.com")
	}
	return nil
}

// looksLikeEmail reports whether name holds an at sign: ASCII, or a compatibility form
// (U+FF20 FULLWIDTH COMMERCIAL AT, U+FE6B SMALL COMMERCIAL AT) that folds to it, and no space.
func looksLikeEmail(name string) bool {
	return strings.ContainsAny(name, "@\uff20\ufe6b") && !strings.ContainsFunc(name, unicode.IsSpace)
}

func checkArgs(by identity.Principal, botID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	return id.CheckArg("bot_user_id", botID, id.BotUser)
}

// botIn reads a bot user and checks it belongs to accountID (a bot user of another account
// is not found).
func botIn(ctx context.Context, r store.Reader, accountID, botID string) (store.BotUser, error) {
	b, err := r.BotUser(ctx, botID)
	if err == nil && b.AccountID != accountID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.BotUser{}, fmt.Errorf("botuser: %s: %w", botID, err)
	}
	return b, nil
}
