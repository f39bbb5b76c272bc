package identity

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// DefaultInvitationTTL is how long an invitation stays valid unless WithInvitationTTL says
// otherwise.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// Directory manages accounts, users, memberships and invitations. Every change it makes
// runs in one store.Update together with its audit event; changes made on behalf of a
// principal are first put to the Guard in that same transaction. A Directory is safe for
// concurrent use.
//
// Reads (Account, Member, Members, Invitation, ...) do not authorize: guard them with the
// Authorizer (for example rbac.MembersRead) at the edge that serves them.
type Directory struct {
	st    store.Store
	plans *Catalog
	guard Guard
	clock clock.Clock
	ids   *id.Generator
	rand  io.Reader // invitation tokens
	rec   audit.Recorder
	log   *slog.Logger
	ttl   time.Duration
}

// Option configures a Directory.
type Option func(*config)

type config struct {
	clock  clock.Clock
	rand   io.Reader
	logger *slog.Logger
	ttl    time.Duration
}

// WithClock sets the time source (default: the system clock).
func WithClock(c clock.Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness for IDs and invitation tokens (default: crypto/rand.Reader).
// r must be safe for concurrent use, as crypto/rand.Reader is.
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithLogger sets a logger for diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.logger = l } }

// WithInvitationTTL sets how long new invitations stay valid (default DefaultInvitationTTL).
func WithInvitationTTL(d time.Duration) Option { return func(o *config) { o.ttl = d } }

// New returns a Directory over st. plans holds the plans accounts may be on; guard decides
// who may change what (pass the *rbac.Authorizer). All three are required.
func New(st store.Store, plans *Catalog, guard Guard, opts ...Option) *Directory {
	if st == nil || plans == nil || guard == nil {
		panic("identity.New: store, catalog and guard are required")
	}
	c := config{clock: clock.System{}, rand: rand.Reader, ttl: DefaultInvitationTTL}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	ids := id.NewGenerator(c.clock, c.rand)
	return &Directory{
		st: st, plans: plans, guard: guard, clock: c.clock, ids: ids, rand: c.rand,
		rec: audit.Recorder{IDs: ids, Clock: c.clock}, log: c.logger, ttl: c.ttl,
	}
}

// Catalog returns the plans the Directory was built with.
func (d *Directory) Catalog() *Catalog { return d.plans }

func (d *Directory) now() time.Time { return d.clock.Now().UTC() }

// Principal returns the principal for a user or bot user acting in accountID; see
// PrincipalFor.
func (d *Directory) Principal(ctx context.Context, accountID, principalID string, src Source, credentialID string) (Principal, error) {
	var p Principal
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		p, err = PrincipalFor(ctx, r, accountID, principalID, src, credentialID)
		return err
	})
	return p, err
}

// CheckPage returns a *ValidationError if p's limit is out of range or its BeforeID is not
// an ID with prefix want.
func CheckPage(p store.Page, want id.Prefix) error { return checkPage(p, want) }

func checkPage(p store.Page, want id.Prefix) error {
	if p.Limit < 1 || p.Limit > store.MaxPageLimit {
		return &ValidationError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d, got %d", store.MaxPageLimit, p.Limit)}
	}
	if p.BeforeID != "" {
		return checkID("before_id", p.BeforeID, want)
	}
	return nil
}
