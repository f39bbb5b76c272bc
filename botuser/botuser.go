package botuser

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"unicode"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// MaxNameLen is the longest bot user name, in bytes.
const MaxNameLen = store.MaxNameLen

// ErrNameTaken is matched by *NameTakenError.
var ErrNameTaken = errors.New("bot user name already used in this account")

// NameTakenError says a bot user name is already used in an account. It matches
// ErrNameTaken and store.ErrConflict.
type NameTakenError struct {
	AccountID string
	Name      string
}

func (e *NameTakenError) Error() string {
	return fmt.Sprintf("botuser: name %q is already used in account %s; bot user names must be unique within an account", e.Name, e.AccountID)
}

// Is reports whether target is ErrNameTaken or store.ErrConflict.
func (e *NameTakenError) Is(target error) bool {
	return target == ErrNameTaken || target == store.ErrConflict
}

// ErrNoDashboard is returned by CanLogIn for bot users.
var ErrNoDashboard = errors.New("bot users cannot log into the dashboard")

// CanLogIn returns ErrNoDashboard if p is a bot user (by kind or by ID prefix), and nil for
// a user. Every path that issues a dashboard session calls it first.
func CanLogIn(p identity.Principal) error {
	if p.Kind == identity.KindBotUser {
		return ErrNoDashboard
	}
	return CanLogInID(p.ID)
}

// CanLogInID is CanLogIn for a path that holds only a principal ID: nil for a well-formed
// user ID, ErrNoDashboard for a bot user ID, a *identity.ValidationError otherwise.
func CanLogInID(principalID string) error {
	pre, err := id.PrefixOf(principalID)
	switch {
	case pre == id.BotUser:
		return ErrNoDashboard
	case err != nil:
		return &identity.ValidationError{Field: "principal_id", Reason: err.Error()}
	case pre != id.User:
		return &identity.ValidationError{Field: "principal_id", Reason: "not a user id"}
	}
	return nil
}

// Service manages bot users. It is safe for concurrent use.
type Service struct {
	st    store.Store
	authz *rbac.Authorizer
	plans *identity.Catalog
	clock clock.Clock
	ids   *id.Generator
	rec   audit.Recorder
	log   *slog.Logger
}

// Option configures a Service.
type Option func(*config)

type config struct {
	clock  clock.Clock
	rand   io.Reader
	logger *slog.Logger
}

// WithClock sets the time source (default: the system clock).
func WithClock(c clock.Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness for IDs (default: crypto/rand.Reader).
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithLogger sets a logger for diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.logger = l } }

// New returns a Service over st that authorizes with authz (and uses its plan catalog).
func New(st store.Store, authz *rbac.Authorizer, opts ...Option) *Service {
	if st == nil || authz == nil {
		panic("botuser.New: store and authorizer are required")
	}
	c := config{clock: clock.System{}, rand: rand.Reader}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	ids := id.NewGenerator(c.clock, c.rand)
	return &Service{
		st: st, authz: authz, plans: authz.Catalog(), clock: c.clock, ids: ids,
		rec: audit.Recorder{IDs: ids, Clock: c.clock}, log: c.logger,
	}
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

// Create creates a bot user in accountID. by needs rbac.BotUsersWrite, the plan
// identity.FeatureBotUsers, and roles (if any) must be ones by could grant.
func (s *Service) Create(ctx context.Context, by identity.Principal, accountID string, p CreateParams) (store.BotUser, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return store.BotUser{}, err
	}
	if err := by.Validate(accountID); err != nil {
		return store.BotUser{}, err
	}
	if err := checkName(p.Name); err != nil {
		return store.BotUser{}, err
	}
	botID, err := s.ids.NewIn(id.BotUser, accountID)
	if err != nil {
		return store.BotUser{}, err
	}
	b := store.BotUser{ID: botID, AccountID: accountID, Name: p.Name, Active: p.Active == nil || *p.Active}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, accountID)
		if err != nil {
			return err
		}
		if b.Roles, err = s.roles(ctx, tx, by, acct, p.Roles); err != nil {
			return err
		}
		if err := nameFree(ctx, tx, accountID, p.Name, ""); err != nil {
			return err
		}
		b.CreatedAt = s.clock.Now().UTC()
		if err := s.put(ctx, tx, b); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, accountID, audit.BotUserCreated, by.Audit(), b)
	})
	if err != nil {
		return store.BotUser{}, err
	}
	return b, nil
}

// Get returns a bot user of accountID.
func (s *Service) Get(ctx context.Context, accountID, botID string) (store.BotUser, error) {
	if err := checkIDs(accountID, botID); err != nil {
		return store.BotUser{}, err
	}
	var b store.BotUser
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		b, err = botIn(ctx, r, accountID, botID)
		return err
	})
	return b, err
}

// List returns a page of accountID's bot users, newest first: at most p.Limit of them
// created before p.BeforeID (from the newest when empty). The next page's BeforeID is the
// last ID returned, when the page is full.
func (s *Service) List(ctx context.Context, accountID string, p store.Page) ([]store.BotUser, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return nil, err
	}
	if err := identity.CheckPage(p, id.BotUser); err != nil {
		return nil, err
	}
	var bs []store.BotUser
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		bs, err = r.BotUsers(ctx, accountID, p)
		return err
	})
	return bs, err
}

// Update changes a bot user's name, active flag or roles; by needs rbac.BotUsersWrite.
// Setting Active to false suspends every credential the bot owns, in this one write;
// setting it to true restores them.
func (s *Service) Update(ctx context.Context, by identity.Principal, accountID, botID string, p UpdateParams) (store.BotUser, error) {
	if err := checkIDs(accountID, botID); err != nil {
		return store.BotUser{}, err
	}
	if err := by.Validate(accountID); err != nil {
		return store.BotUser{}, err
	}
	if p.Name != nil {
		if err := checkName(*p.Name); err != nil {
			return store.BotUser{}, err
		}
	}
	var b store.BotUser
	err := s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, accountID)
		if err != nil {
			return err
		}
		if b, err = botIn(ctx, tx, accountID, botID); err != nil {
			return err
		}
		before := b.Clone()
		if p.Name != nil && *p.Name != b.Name {
			if err := nameFree(ctx, tx, accountID, *p.Name, b.ID); err != nil {
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
		return s.rec.Record(ctx, tx, accountID, audit.BotUserUpdated, by.Audit(), b)
	})
	if err != nil {
		return store.BotUser{}, err
	}
	return b, nil
}

// Delete deletes a bot user and, in the same transaction, revokes and deletes every
// credential it owns, recording a *_deleted event for each credential and a
// bot_user_deleted event. Nothing can restore them. by needs rbac.BotUsersWrite.
func (s *Service) Delete(ctx context.Context, by identity.Principal, accountID, botID string) error {
	if err := checkIDs(accountID, botID); err != nil {
		return err
	}
	if err := by.Validate(accountID); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.permit(ctx, tx, by, accountID); err != nil {
			return err
		}
		b, err := botIn(ctx, tx, accountID, botID)
		if err != nil {
			return err
		}
		if err := s.rec.RecordOwnerCredentialsDeleted(ctx, tx, accountID, botID, by.Audit()); err != nil {
			return err
		}
		if err := tx.DeleteBotUser(ctx, botID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, accountID, audit.BotUserDeleted, by.Audit(), b)
	})
}

// permit checks, inside tx, that the account's plan has bot users and that by may manage
// them, and returns the account.
func (s *Service) permit(ctx context.Context, tx store.Tx, by identity.Principal, accountID string) (store.Account, error) {
	acct, err := tx.Account(ctx, accountID)
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
	if err := s.authz.RequireIn(ctx, tx, by, accountID, rbac.BotUsersWrite); err != nil {
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

// put writes b, turning the store's name conflict into a *NameTakenError.
func (s *Service) put(ctx context.Context, tx store.Tx, b store.BotUser) error {
	err := tx.PutBotUser(ctx, b)
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Index == "name" {
		return &NameTakenError{AccountID: b.AccountID, Name: b.Name}
	}
	return err
}

func nameFree(ctx context.Context, r store.Reader, accountID, name, self string) error {
	other, err := r.BotUserByName(ctx, accountID, name)
	switch {
	case err == nil && other.ID != self:
		return &NameTakenError{AccountID: accountID, Name: name}
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
		return &identity.ValidationError{Field: "name", Reason: "a name with an @ must be a lower-case ASCII email address such as ci@example.com"}
	}
	return nil
}

// looksLikeEmail reports whether name holds an at sign: ASCII, or a compatibility form
// (U+FF20 FULLWIDTH COMMERCIAL AT, U+FE6B SMALL COMMERCIAL AT) that folds to it, and no space.
func looksLikeEmail(name string) bool {
	return strings.ContainsAny(name, "@\uff20\ufe6b") && !strings.ContainsFunc(name, unicode.IsSpace)
}

func checkIDs(accountID, botID string) error {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return err
	}
	return identity.CheckID("bot_user_id", botID, id.BotUser)
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
