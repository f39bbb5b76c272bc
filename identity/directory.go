package identity

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/store"
)

// DefaultInvitationTTL is how long an invitation stays valid unless WithInvitationTTL says
// otherwise.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// MaxInvitationTTL is the longest WithInvitationTTL accepts.
const MaxInvitationTTL = 90 * 24 * time.Hour

// Directory manages accounts, users, memberships and invitations. Every change it makes
// runs in one store.Update together with its audit event, and every read in one store.View;
// both are put to the Guard in that same transaction, on behalf of the acting principal
// (see the package documentation for the calls that have no principal yet). A Directory is
// safe for concurrent use.
type Directory struct {
	st     store.Store
	guard  Guard
	clock  store.Clock
	ids    *id.Generator
	rand   io.Reader // invitation tokens
	ev     members.Events[Resource]
	log    *slog.Logger
	ttl    time.Duration
	revoke time.Duration // WithRevocationWait
}

// Option configures a Directory.
type Option func(*config)

type config struct {
	clock  store.Clock
	rand   io.Reader
	logger *slog.Logger
	ttl    time.Duration
	revoke time.Duration // WithRevocationWait
}

// WithClock sets the time source (default: the system clock).
func WithClock(c store.Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness for IDs and invitation tokens (default: crypto/rand.Reader).
// r must be safe for concurrent use, as crypto/rand.Reader is.
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithLogger sets a logger for diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.logger = l } }

// WithInvitationTTL sets how long new invitations stay valid (default DefaultInvitationTTL,
// at most MaxInvitationTTL).
func WithInvitationTTL(d time.Duration) Option { return func(o *config) { o.ttl = d } }

// WithRevocationWait has RemoveMember return only d after its commit (default 0: at once).
// Set it to the maximum staleness of every credential Verifier of the deployment
// (credential.WithMaxStaleness, on an exact clock): a Verifier serves a cached credential only
// while it knows itself in sync with the change feed as of at most that long ago, so once
// RemoveMember returns, every Verifier refuses the member's credentials in the account,
// whether or not its feed has delivered the removal yet. iamkit.WithRevocationBound sets
// both. At most MaxRevocationWait.
func WithRevocationWait(d time.Duration) Option { return func(o *config) { o.revoke = d } }

// MaxRevocationWait is the longest WithRevocationWait.
const MaxRevocationWait = time.Minute

// New returns a Directory over st. guard decides who may read and change what (pass the
// *rbac.Authorizer) and holds the plan catalog (Guard.Catalog). Both are required: a nil one
// is an error matching store.ErrInvalid that names it, as is an option set to nil or out of
// range.
func New(st store.Store, guard Guard, opts ...Option) (*Directory, error) {
	switch {
	case st == nil:
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	case guard == nil:
		return nil, store.Invalid("guard", store.CodeRequired, 0, "required")
	case guard.Catalog() == nil:
		return nil, store.Invalid("guard", store.CodeInvalidValue, 0, "has no plan catalog")
	}
	c := config{clock: clock.System{}, rand: rand.Reader, ttl: DefaultInvitationTTL}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.clock == nil:
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.rand == nil:
		return nil, store.Invalid("random", store.CodeRequired, 0, "must not be nil")
	case c.ttl <= 0 || c.ttl > MaxInvitationTTL:
		return nil, store.Invalid("invitation_ttl", store.CodeOutOfRange, 0, "must be positive and at most %s", MaxInvitationTTL)
	case c.revoke < 0 || c.revoke > MaxRevocationWait:
		return nil, store.Invalid("revocation_wait", store.CodeOutOfRange, 0, "must be between 0 and %s", MaxRevocationWait)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	ids := id.NewGenerator(c.clock, c.rand)
	return &Directory{
		st: st, guard: guard, clock: c.clock, ids: ids, rand: c.rand,
		ev: memberEvents(audit.New(ids, c.clock, ResourceOf)), log: c.logger, ttl: c.ttl, revoke: c.revoke,
	}, nil
}

// memberEvents is how member changes are recorded, for internal/members.
func memberEvents(rec audit.Recorder[Resource]) members.Events[Resource] {
	return members.Events[Resource]{
		Rec: rec, MemberCreated: EventMemberCreated, InvitationAccepted: EventInvitationAccepted, InvitationDeleted: EventInvitationDeleted,
		Member:     func(m store.Membership, u store.User) audit.Object[Resource] { return MemberObjectOf(m, u) },
		Invitation: func(inv store.Invitation) audit.Object[Resource] { return InvitationObjectOf(inv) },
	}
}

// Catalog returns the plans accounts may be on: the Guard's.
func (d *Directory) Catalog() *Catalog { return d.guard.Catalog() }

func (d *Directory) now() time.Time { return d.clock.Now().UTC() }

// record appends an event of the Directory's.
func (d *Directory) record(ctx context.Context, tx store.Tx, accountID string, t store.EventType, by Principal, obj audit.Object[Resource]) error {
	return d.ev.Rec.Record(ctx, tx, accountID, t, by.Audit(), obj)
}

// Principal returns the principal for a user or bot user acting in accountID; see
// PrincipalFor. It is for sign-in flows, before anyone acts: it checks no permission.
func (d *Directory) Principal(ctx context.Context, accountID, principalID string, src Source, credentialID string) (Principal, error) {
	var p Principal
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		p, err = PrincipalFor(ctx, r, accountID, principalID, src, credentialID)
		return err
	})
	return p, err
}

// permit asks the Guard, through r, whether by may make a change or read of kind op in its
// account, and returns the account.
func (d *Directory) permit(ctx context.Context, r store.Reader, by Principal, op Op) (store.Account, error) {
	acct, err := r.Account(ctx, by.AccountID)
	if err != nil {
		return store.Account{}, err
	}
	return acct, d.guard.Permit(ctx, r, Change{Op: op, By: by, Account: acct})
}
