package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// New returns the Store over an adapter's Backend. The Store applies the contract's rules,
// once for every adapter: it validates every record written, keeps the fields fixed at
// creation fixed, requires a new credential's owner to be in its account, derives owner
// states, deletes an owner's credentials with it, merges last-used times into credentials,
// and never lets an audit event be replaced. The Backend stores, indexes and commits.
func New(b Backend, opts ...Option) Store {
	s := &rules{b: b, clock: systemClock{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Clock tells the time. Every iamkit package that reads the time takes one (WithClock), so
// that tests can fix it; implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Option configures New.
type Option func(*rules)

// WithClock sets the clock that dates tombstones (default: the system clock).
func WithClock(c Clock) Option {
	return func(s *rules) {
		if c != nil {
			s.clock = c
		}
	}
}

// rules is the Store over a Backend.
type rules struct {
	b     Backend
	clock Clock
}

func (s *rules) View(ctx context.Context, fn func(Reader) error) error {
	return s.b.View(ctx, func(ops Ops) error { return fn(&reader{ops: ops, b: s.b}) })
}

func (s *rules) Update(ctx context.Context, fn func(Tx) error) error {
	return s.b.Update(ctx, func(w WriteOps) error {
		return fn(&writer{reader: reader{ops: w, b: s.b}, w: w, clock: s.clock})
	})
}

func (s *rules) Head(ctx context.Context) (Cursor, error) { return s.b.Head(ctx) }

func (s *rules) Changes(ctx context.Context, after Cursor) (Batch, error) {
	return s.b.Changes(ctx, after)
}

func (s *rules) RecordUse(ctx context.Context, uses []Use) error { return s.b.RecordUse(ctx, uses) }

func (s *rules) PutSingleUse(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if key == "" {
		return Invalid("key", CodeRequired, 0, "required")
	}
	return s.b.PutSingleUse(ctx, key, value, expiresAt)
}

func (s *rules) TakeSingleUse(ctx context.Context, key string) ([]byte, error) {
	return s.b.TakeSingleUse(ctx, key)
}

func (s *rules) Close() error { return s.b.Close() }

// Typed access to a Backend's records.

// as returns rec as a T, or an error naming the adapter's mistake.
func as[T any](kind Kind, rec any) (T, error) {
	r, ok := rec.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("store: the adapter returned a %T for a %s", rec, kind)
	}
	return r, nil
}

func get[T any](ctx context.Context, ops Ops, kind Kind, key string) (T, error) {
	rec, err := ops.Get(ctx, kind, key)
	if err != nil {
		var zero T
		return zero, err
	}
	return as[T](kind, rec)
}

func find[T any](ctx context.Context, ops Ops, kind Kind, index string, values ...string) (T, error) {
	rec, err := ops.Find(ctx, kind, index, values...)
	if err != nil {
		var zero T
		return zero, err
	}
	return as[T](kind, rec)
}

func list[T any](ctx context.Context, ops Ops, kind Kind, index string, values []string, p Page) ([]T, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	recs, err := ops.List(ctx, kind, index, values, p)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(recs))
	for i, rec := range recs {
		if out[i], err = as[T](kind, rec); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// optional converts one GetMany result: nil stays nil.
func optional[T any](kind Kind, rec any) (*T, error) {
	if rec == nil {
		return nil, nil
	}
	r, err := as[T](kind, rec)
	return &r, err
}

// reader implements Reader over a Backend's Ops.
type reader struct {
	ops Ops
	b   Backend // for last-used times, which live outside transactions
}

func (r *reader) Account(ctx context.Context, id string) (Account, error) {
	return get[Account](ctx, r.ops, KindAccount, id)
}

func (r *reader) AccountByKey(ctx context.Context, key string) (Account, error) {
	if key == "" {
		return Account{}, ErrNotFound
	}
	return find[Account](ctx, r.ops, KindAccount, IndexAccountKey, key)
}

func (r *reader) Accounts(ctx context.Context, p Page) ([]Account, error) {
	return list[Account](ctx, r.ops, KindAccount, IndexAll, []string{}, p)
}

func (r *reader) User(ctx context.Context, id string) (User, error) {
	return get[User](ctx, r.ops, KindUser, id)
}

func (r *reader) UserByEmail(ctx context.Context, email string) (User, error) {
	return find[User](ctx, r.ops, KindUser, IndexEmail, email)
}

func (r *reader) Membership(ctx context.Context, accountID, userID string) (Membership, error) {
	return get[Membership](ctx, r.ops, KindMembership, JoinKey(accountID, userID))
}

func (r *reader) Memberships(ctx context.Context, accountID string, p Page) ([]Membership, error) {
	if p.BeforeID != "" {
		p.BeforeID = JoinKey(accountID, p.BeforeID)
	}
	return list[Membership](ctx, r.ops, KindMembership, IndexAccount, []string{accountID}, p)
}

func (r *reader) MembershipsByUser(ctx context.Context, userID string) ([]Membership, error) {
	var out []Membership
	p := Page{Limit: MaxPageLimit}
	for {
		ms, err := list[Membership](ctx, r.ops, KindMembership, IndexUser, []string{userID}, p)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if len(ms) < p.Limit {
			if out == nil {
				out = []Membership{}
			}
			return out, nil
		}
		last := ms[len(ms)-1]
		p.BeforeID = JoinKey(last.AccountID, last.UserID)
	}
}

func (r *reader) CountMemberships(ctx context.Context, accountID, status string) (int, error) {
	return r.ops.Count(ctx, KindMembership, IndexStatus, []string{accountID, status})
}

func (r *reader) Invitation(ctx context.Context, id string) (Invitation, error) {
	return get[Invitation](ctx, r.ops, KindInvitation, id)
}

func (r *reader) InvitationByEmail(ctx context.Context, accountID, email string) (Invitation, error) {
	return find[Invitation](ctx, r.ops, KindInvitation, IndexEmail, accountID, email)
}

func (r *reader) Invitations(ctx context.Context, accountID string, p Page) ([]Invitation, error) {
	return list[Invitation](ctx, r.ops, KindInvitation, IndexAccount, []string{accountID}, p)
}

func (r *reader) BotUser(ctx context.Context, id string) (BotUser, error) {
	return get[BotUser](ctx, r.ops, KindBotUser, id)
}

func (r *reader) BotUserByName(ctx context.Context, accountID, name string) (BotUser, error) {
	return find[BotUser](ctx, r.ops, KindBotUser, IndexName, accountID, name)
}

func (r *reader) BotUsers(ctx context.Context, accountID string, p Page) ([]BotUser, error) {
	return list[BotUser](ctx, r.ops, KindBotUser, IndexAccount, []string{accountID}, p)
}

func (r *reader) Credential(ctx context.Context, id string) (Credential, error) {
	c, err := r.liveCredential(ctx, func() (Credential, error) { return get[Credential](ctx, r.ops, KindCredential, id) })
	if err != nil {
		return Credential{}, err
	}
	cs, err := r.withLastUsed(ctx, []Credential{c})
	if err != nil {
		return Credential{}, err
	}
	return cs[0], nil
}

func (r *reader) CredentialBySecretHash(ctx context.Context, hash string) (Credential, error) {
	if hash == "" {
		return Credential{}, ErrNotFound
	}
	return r.liveCredential(ctx, func() (Credential, error) {
		return find[Credential](ctx, r.ops, KindCredential, IndexSecretHash, hash)
	})
}

func (r *reader) CredentialByFingerprint(ctx context.Context, fingerprint string) (Credential, error) {
	if fingerprint == "" {
		return Credential{}, ErrNotFound
	}
	return r.liveCredential(ctx, func() (Credential, error) {
		return find[Credential](ctx, r.ops, KindCredential, IndexFingerprint, fingerprint)
	})
}

// liveCredential returns what read returns, or ErrNotFound when the credential's owner is
// tombstoned: its credentials are gone even before they are purged.
func (r *reader) liveCredential(ctx context.Context, read func() (Credential, error)) (Credential, error) {
	c, err := read()
	if err != nil {
		return Credential{}, err
	}
	gone, err := r.tombstoned(ctx, []Credential{c})
	if err != nil {
		return Credential{}, err
	}
	if gone[0] {
		return Credential{}, ErrNotFound
	}
	return c, nil
}

func (r *reader) Credentials(ctx context.Context, accountID string, kind CredentialKind, p Page) ([]Credential, error) {
	cs, err := r.liveCredentials(ctx, []string{accountID, string(kind)}, p)
	if err != nil {
		return nil, err
	}
	return r.withLastUsed(ctx, cs)
}

func (r *reader) CredentialsByOwner(ctx context.Context, accountID, ownerID string, p Page) ([]Credential, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if _, found, err := previous[Tombstone](ctx, r.ops, KindTombstone, JoinKey(accountID, ownerID)); err != nil || found {
		return []Credential{}, err
	}
	cs, err := list[Credential](ctx, r.ops, KindCredential, IndexOwner, []string{accountID, ownerID}, p)
	if err != nil {
		return nil, err
	}
	return r.withLastUsed(ctx, cs)
}

func (r *reader) CredentialsUnusedSince(ctx context.Context, accountID string, kind CredentialKind, since time.Time, p Page) ([]Credential, error) {
	return r.credentialsWhere(ctx, []string{accountID, string(kind)}, p, true, func(c Credential) bool {
		return c.LastUsedAt.Before(since)
	})
}

// liveCredentials reads a page of an account's credentials of one kind, leaving out those of
// tombstoned owners and reading on until the page is full or the listing ends.
func (r *reader) liveCredentials(ctx context.Context, values []string, p Page) ([]Credential, error) {
	return r.credentialsWhere(ctx, values, p, false, func(Credential) bool { return true })
}

// credentialsWhere reads a page of the credentials a kind listing holds under values that
// keep holds for, leaving out those of tombstoned owners and reading on until the page is
// full or the listing ends. With lastUsed, keep sees (and the page holds) their last uses.
func (r *reader) credentialsWhere(ctx context.Context, values []string, p Page, lastUsed bool, keep func(Credential) bool) ([]Credential, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := []Credential{}
	for {
		cs, err := list[Credential](ctx, r.ops, KindCredential, IndexKind, values, p)
		if err != nil {
			return nil, err
		}
		gone, err := r.tombstoned(ctx, cs)
		if err != nil {
			return nil, err
		}
		if lastUsed {
			if cs, err = r.withLastUsed(ctx, cs); err != nil {
				return nil, err
			}
		}
		for i, c := range cs {
			if !gone[i] && len(out) < p.Limit && keep(c) {
				out = append(out, c)
			}
		}
		if len(cs) < p.Limit || len(out) == p.Limit {
			return out, nil
		}
		p.BeforeID = cs[len(cs)-1].ID
	}
}

// tombstoned reports, for each credential, whether its owner has a Tombstone in its account:
// one GetMany for the distinct owners.
func (r *reader) tombstoned(ctx context.Context, cs []Credential) ([]bool, error) {
	gone := make([]bool, len(cs))
	if len(cs) == 0 {
		return gone, nil
	}
	at := map[string]int{} // tombstone key -> index in refs
	var refs []Ref
	for _, c := range cs {
		k := JoinKey(c.AccountID, c.OwnerID)
		if _, ok := at[k]; !ok {
			at[k] = len(refs)
			refs = append(refs, Ref{KindTombstone, k})
		}
	}
	recs, err := r.ops.GetMany(ctx, refs)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		gone[i] = recs[at[JoinKey(c.AccountID, c.OwnerID)]] != nil
	}
	return gone, nil
}

// withLastUsed fills in the credentials' last-used times, in place: through the Ops when
// they read them (LastUsedReader), through the Backend otherwise.
func (r *reader) withLastUsed(ctx context.Context, cs []Credential) ([]Credential, error) {
	if len(cs) == 0 {
		return cs, nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	var lastUsed LastUsedReader = r.b
	if lu, ok := r.ops.(LastUsedReader); ok {
		lastUsed = lu
	}
	uses, err := lastUsed.LastUsed(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(uses) != len(cs) {
		return nil, fmt.Errorf("store: the adapter returned %d last uses for %d credentials", len(uses), len(cs))
	}
	for i := range cs {
		cs[i].LastUsedAt, cs[i].LastUsedIP = uses[i].At, uses[i].IP
	}
	return cs, nil
}

func (r *reader) OwnerState(ctx context.Context, accountID, ownerID string) (OwnerState, error) {
	o, _, err := r.owner(ctx, accountID, ownerID, false)
	return o.State, err
}

func (r *reader) CredentialAuth(ctx context.Context, id string) (Credential, Owner, error) {
	c, err := get[Credential](ctx, r.ops, KindCredential, id)
	if err != nil {
		return Credential{}, Owner{}, err
	}
	o, gone, err := r.owner(ctx, c.AccountID, c.OwnerID, true)
	switch {
	case err != nil:
		return Credential{}, Owner{}, err
	case gone:
		return Credential{}, Owner{}, ErrNotFound
	}
	return c, o, nil
}

// Standing reads the account, the bot user and the membership in one GetMany.
func (r *reader) Standing(ctx context.Context, accountID, principalID string) (Standing, error) {
	refs := []Ref{{KindAccount, accountID}, {KindBotUser, principalID}, {KindMembership, JoinKey(accountID, principalID)}}
	recs, err := r.ops.GetMany(ctx, refs)
	if err != nil {
		return Standing{}, err
	}
	var st Standing
	if st.Account, err = optional[Account](KindAccount, recs[0]); err != nil {
		return Standing{}, err
	}
	if st.BotUser, err = optional[BotUser](KindBotUser, recs[1]); err != nil {
		return Standing{}, err
	}
	if st.Membership, err = optional[Membership](KindMembership, recs[2]); err != nil {
		return Standing{}, err
	}
	return st, nil
}

// owner reads what makes ownerID an owner of credentials in accountID, in one GetMany: the
// bot user with that ID, its membership there, its tombstone and, with subject, the user (for
// its email). A tombstoned owner is missing, and gone reports it: its credentials are gone.
func (r *reader) owner(ctx context.Context, accountID, ownerID string, subject bool) (o Owner, gone bool, err error) {
	refs := []Ref{{KindBotUser, ownerID}, {KindMembership, JoinKey(accountID, ownerID)}, {KindTombstone, JoinKey(accountID, ownerID)}}
	if subject {
		refs = append(refs, Ref{KindUser, ownerID})
	}
	o = Owner{ID: ownerID, State: OwnerMissing}
	recs, err := r.ops.GetMany(ctx, refs)
	if err != nil {
		return o, false, err
	}
	if recs[2] != nil {
		return o, true, nil
	}
	bot, err := optional[BotUser](KindBotUser, recs[0])
	if err != nil {
		return o, false, err
	}
	m, err := optional[Membership](KindMembership, recs[1])
	if err != nil {
		return o, false, err
	}
	o.State = ownerStateOf(accountID, bot, m)
	switch {
	case o.State == OwnerMissing:
	case bot != nil:
		o.Bot, o.Subject = true, bot.Name
	case subject:
		u, err := optional[User](KindUser, recs[3])
		if err != nil {
			return o, false, err
		}
		if u != nil {
			o.Subject = u.Email
		}
	}
	return o, false, nil
}

func (r *reader) Group(ctx context.Context, id string) (Group, error) {
	return get[Group](ctx, r.ops, KindGroup, id)
}

func (r *reader) GroupByName(ctx context.Context, accountID, displayName string) (Group, error) {
	return find[Group](ctx, r.ops, KindGroup, IndexName, accountID, displayName)
}

func (r *reader) Groups(ctx context.Context, accountID string, p Page) ([]Group, error) {
	return list[Group](ctx, r.ops, KindGroup, IndexAccount, []string{accountID}, p)
}

func (r *reader) Role(ctx context.Context, id string) (Role, error) {
	return get[Role](ctx, r.ops, KindRole, id)
}

func (r *reader) Roles(ctx context.Context, accountID string, p Page) ([]Role, error) {
	return list[Role](ctx, r.ops, KindRole, IndexAccount, []string{accountID}, p)
}

func (r *reader) IdentityProvider(ctx context.Context, id string) (IdentityProvider, error) {
	return get[IdentityProvider](ctx, r.ops, KindIdentityProvider, id)
}

func (r *reader) IdentityProviders(ctx context.Context, accountID string, p Page) ([]IdentityProvider, error) {
	return list[IdentityProvider](ctx, r.ops, KindIdentityProvider, IndexAccount, []string{accountID}, p)
}

func (r *reader) Events(ctx context.Context, accountID string, p Page) ([]Event, error) {
	return list[Event](ctx, r.ops, KindEvent, IndexAccount, []string{accountID}, p)
}

func (r *reader) Domain(ctx context.Context, id string) (Domain, error) {
	return get[Domain](ctx, r.ops, KindDomain, id)
}

func (r *reader) DomainByName(ctx context.Context, accountID, name string) (Domain, error) {
	return find[Domain](ctx, r.ops, KindDomain, IndexName, accountID, name)
}

func (r *reader) VerifiedDomain(ctx context.Context, name string) (Domain, error) {
	return find[Domain](ctx, r.ops, KindDomain, IndexVerified, name)
}

func (r *reader) Domains(ctx context.Context, accountID string, p Page) ([]Domain, error) {
	return list[Domain](ctx, r.ops, KindDomain, IndexAccount, []string{accountID}, p)
}

func (r *reader) ExternalIdentity(ctx context.Context, idpID, subject string) (ExternalIdentity, error) {
	return get[ExternalIdentity](ctx, r.ops, KindExternalIdentity, JoinKey(idpID, subject))
}

func (r *reader) Tombstones(ctx context.Context, p Page) ([]Tombstone, error) {
	return list[Tombstone](ctx, r.ops, KindTombstone, IndexAll, []string{}, p)
}

func (r *reader) UserSecrets(ctx context.Context, userID string) (UserSecrets, error) {
	return get[UserSecrets](ctx, r.ops, KindUserSecrets, userID)
}

func (r *reader) Session(ctx context.Context, id string) (Session, error) {
	return get[Session](ctx, r.ops, KindSession, id)
}

func (r *reader) SessionsByUser(ctx context.Context, accountID, userID string, p Page) ([]Session, error) {
	return list[Session](ctx, r.ops, KindSession, IndexUser, []string{accountID, userID}, p)
}

func (r *reader) SessionsByIdP(ctx context.Context, accountID, idpID string, p Page) ([]Session, error) {
	if idpID == "" {
		return []Session{}, p.Validate()
	}
	return list[Session](ctx, r.ops, KindSession, IndexIdP, []string{accountID, idpID}, p)
}

func (r *reader) SessionAuth(ctx context.Context, id string) (SessionAuth, error) {
	x, err := get[Session](ctx, r.ops, KindSession, id)
	if err != nil {
		return SessionAuth{}, err
	}
	refs := []Ref{{KindAccount, x.AccountID}, {KindMembership, JoinKey(x.AccountID, x.UserID)}, {KindUserSecrets, x.UserID}}
	if x.IdPID != "" {
		refs = append(refs, Ref{KindIdentityProvider, x.IdPID})
	}
	recs, err := r.ops.GetMany(ctx, refs)
	if err != nil {
		return SessionAuth{}, err
	}
	if recs[0] == nil {
		return SessionAuth{}, ErrNotFound
	}
	out := SessionAuth{Session: x}
	if out.Account, err = as[Account](KindAccount, recs[0]); err != nil {
		return SessionAuth{}, err
	}
	if out.Membership, err = optional[Membership](KindMembership, recs[1]); err != nil {
		return SessionAuth{}, err
	}
	if out.Secrets, err = optional[UserSecrets](KindUserSecrets, recs[2]); err != nil {
		return SessionAuth{}, err
	}
	if x.IdPID != "" {
		if out.IdentityProvider, err = optional[IdentityProvider](KindIdentityProvider, recs[3]); err != nil {
			return SessionAuth{}, err
		}
		if p := out.IdentityProvider; p != nil && p.AccountID != x.AccountID {
			out.IdentityProvider = nil // another account's: not the session's
		}
	}
	return out, nil
}

// writer implements Tx over a Backend's WriteOps.
type writer struct {
	reader
	w     WriteOps
	clock Clock
}

// previous returns the stored version of a record about to be replaced, and whether there
// is one.
func previous[T any](ctx context.Context, ops Ops, kind Kind, key string) (T, bool, error) {
	r, err := get[T](ctx, ops, kind, key)
	switch {
	case err == nil:
		return r, true, nil
	case isNotFound(err):
		return r, false, nil
	}
	return r, false, err
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func (w *writer) PutAccount(ctx context.Context, a Account) error {
	if err := a.Validate(); err != nil {
		return err
	}
	return w.w.Put(ctx, KindAccount, a)
}

func (w *writer) PutUser(ctx context.Context, u User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return w.w.Put(ctx, KindUser, u)
}

func (w *writer) PutMembership(ctx context.Context, m Membership) error {
	if err := m.Validate(); err != nil {
		return err
	}
	key := JoinKey(m.AccountID, m.UserID)
	if _, found, err := previous[Membership](ctx, w.ops, KindMembership, key); err != nil {
		return err
	} else if !found {
		if err := w.checkNoTombstone(ctx, m.AccountID, m.UserID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindMembership, m)
}

// checkNoTombstone fails while an owner's earlier credentials in the account are still being
// purged: a returning member must not get them back.
func (w *writer) checkNoTombstone(ctx context.Context, accountID, ownerID string) error {
	_, found, err := previous[Tombstone](ctx, w.ops, KindTombstone, JoinKey(accountID, ownerID))
	if err != nil || !found {
		return err
	}
	return &Error{
		Kind: ErrConflict, Code: CodePurgePending, Field: "user_id",
		Msg: "the user's credentials from an earlier membership are still being deleted; try again in a few seconds",
	}
}

func (w *writer) DeleteMembership(ctx context.Context, accountID, userID string, by Principal) error {
	key := JoinKey(accountID, userID)
	if _, err := get[Membership](ctx, w.ops, KindMembership, key); err != nil {
		return err
	}
	if err := w.w.Delete(ctx, KindMembership, key); err != nil {
		return err
	}
	return w.tombstone(ctx, accountID, userID, by)
}

// tombstone records that ownerID's credentials in accountID are gone, if it has any.
func (w *writer) tombstone(ctx context.Context, accountID, ownerID string, by Principal) error {
	owned, err := w.ops.List(ctx, KindCredential, IndexOwner, []string{accountID, ownerID}, Page{Limit: 1})
	if err != nil || len(owned) == 0 {
		return err
	}
	return w.w.Put(ctx, KindTombstone, Tombstone{AccountID: accountID, OwnerID: ownerID, By: by, CreatedAt: w.clock.Now().UTC()})
}

func (w *writer) PurgeCredentials(ctx context.Context, accountID, ownerID string, limit int) ([]Credential, bool, error) {
	if limit < 1 || limit > MaxPageLimit {
		return nil, false, Invalid("limit", CodeOutOfRange, MaxPageLimit, "must be between 1 and %d, got %d", MaxPageLimit, limit)
	}
	key := JoinKey(accountID, ownerID)
	if _, found, err := previous[Tombstone](ctx, w.ops, KindTombstone, key); err != nil || !found {
		return []Credential{}, true, err
	}
	cs, err := list[Credential](ctx, w.ops, KindCredential, IndexOwner, []string{accountID, ownerID}, Page{Limit: limit})
	if err != nil {
		return nil, false, err
	}
	for _, c := range cs {
		if err := w.w.Delete(ctx, KindCredential, c.ID); err != nil {
			return nil, false, err
		}
	}
	if len(cs) == limit {
		return cs, false, nil
	}
	return cs, true, w.w.Delete(ctx, KindTombstone, key)
}

func (w *writer) PutInvitation(ctx context.Context, inv Invitation) error {
	if err := inv.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[Invitation](ctx, w.ops, KindInvitation, inv.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindInvitation, prev.AccountID, inv.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindInvitation, inv)
}

func (w *writer) DeleteInvitation(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindInvitation, id)
}

func (w *writer) PutBotUser(ctx context.Context, b BotUser) error {
	if err := b.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[BotUser](ctx, w.ops, KindBotUser, b.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindBotUser, prev.AccountID, b.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindBotUser, b)
}

func (w *writer) DeleteBotUser(ctx context.Context, id string, by Principal) error {
	b, err := get[BotUser](ctx, w.ops, KindBotUser, id)
	if err != nil {
		return err
	}
	if err := w.w.Delete(ctx, KindBotUser, id); err != nil {
		return err
	}
	return w.tombstone(ctx, b.AccountID, id, by)
}

func (w *writer) PutCredential(ctx context.Context, c Credential) error {
	if err := c.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[Credential](ctx, w.ops, KindCredential, c.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkCredentialChange(prev, c); err != nil {
			return err
		}
	} else if err := w.checkNewOwner(ctx, c); err != nil {
		return err
	}
	c.LastUsedAt, c.LastUsedIP = time.Time{}, netip.Addr{} // RecordUse keeps them, outside transactions
	return w.w.Put(ctx, KindCredential, c)
}

// checkNewOwner returns an error unless a new credential's owner is a bot user of its
// account or a member of it.
func (w *writer) checkNewOwner(ctx context.Context, c Credential) error {
	st, err := w.OwnerState(ctx, c.AccountID, c.OwnerID)
	if err != nil {
		return err
	}
	if st == OwnerMissing {
		return Invalid("credential.owner_id", CodeInvalidValue, 0, "not a bot user or member of the credential's account")
	}
	return nil
}

func (w *writer) DeleteCredential(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindCredential, id)
}

func (w *writer) PutRole(ctx context.Context, r Role) error {
	if err := r.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[Role](ctx, w.ops, KindRole, r.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindRole, prev.AccountID, r.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindRole, r)
}

func (w *writer) DeleteRole(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindRole, id)
}

func (w *writer) PutIdentityProvider(ctx context.Context, p IdentityProvider) error {
	if err := p.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[IdentityProvider](ctx, w.ops, KindIdentityProvider, p.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindIdentityProvider, prev.AccountID, p.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindIdentityProvider, p)
}

func (w *writer) DeleteIdentityProvider(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindIdentityProvider, id)
}

func (w *writer) PutGroup(ctx context.Context, g Group) error {
	if err := g.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[Group](ctx, w.ops, KindGroup, g.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindGroup, prev.AccountID, g.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindGroup, g)
}

func (w *writer) DeleteGroup(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindGroup, id)
}

func (w *writer) PutDomain(ctx context.Context, d Domain) error {
	if err := d.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[Domain](ctx, w.ops, KindDomain, d.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindDomain, prev.AccountID, d.AccountID); err != nil {
			return err
		}
		if prev.Name != d.Name {
			return immutable(KindDomain, "name")
		}
	}
	return w.w.Put(ctx, KindDomain, d)
}

func (w *writer) DeleteDomain(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindDomain, id)
}

func (w *writer) PutExternalIdentity(ctx context.Context, x ExternalIdentity) error {
	if err := x.Validate(); err != nil {
		return err
	}
	return w.w.Put(ctx, KindExternalIdentity, x)
}

func (w *writer) PutUserSecrets(ctx context.Context, u UserSecrets) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return w.w.Put(ctx, KindUserSecrets, u)
}

func (w *writer) PutSession(ctx context.Context, x Session) error {
	if err := x.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[Session](ctx, w.ops, KindSession, x.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkSessionChange(prev, x); err != nil {
			return err
		}
	} else if err := w.checkSessionUser(ctx, x); err != nil {
		return err
	}
	return w.w.Put(ctx, KindSession, x)
}

// checkSessionUser returns an error unless a new session's user is a member of its account.
func (w *writer) checkSessionUser(ctx context.Context, x Session) error {
	_, found, err := previous[Membership](ctx, w.ops, KindMembership, JoinKey(x.AccountID, x.UserID))
	if err != nil || found {
		return err
	}
	return Invalid("session.user_id", CodeInvalidValue, 0, "not a member of the session's account")
}

func (w *writer) DeleteSession(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindSession, id)
}

func (w *writer) AppendEvent(ctx context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	_, found, err := previous[Event](ctx, w.ops, KindEvent, e.ID)
	if err != nil {
		return err
	}
	if found {
		return conflict(KindEvent, "id")
	}
	return w.w.Put(ctx, KindEvent, e)
}

func (w *writer) AppendEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	refs := make([]Ref, len(events))
	ids := make(map[string]struct{}, len(events))
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return err
		}
		if _, dup := ids[e.ID]; dup {
			return conflict(KindEvent, "id")
		}
		ids[e.ID] = struct{}{}
		refs[i] = Ref{KindEvent, e.ID}
	}
	stored, err := w.ops.GetMany(ctx, refs)
	if err != nil {
		return err
	}
	for _, rec := range stored {
		if rec != nil {
			return conflict(KindEvent, "id")
		}
	}
	for _, e := range events {
		if err := w.w.Put(ctx, KindEvent, e); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) PruneEvents(ctx context.Context, accountID string, before time.Time, keep, limit int) (int, bool, error) {
	switch {
	case accountID == "":
		return 0, false, Invalid("account_id", CodeRequired, 0, "required")
	case limit < 1 || limit > MaxPageLimit:
		return 0, false, Invalid("limit", CodeOutOfRange, MaxPageLimit, "must be between 1 and %d, got %d", MaxPageLimit, limit)
	case keep < 0:
		return 0, false, Invalid("keep", CodeOutOfRange, 0, "must not be negative, got %d", keep)
	case before.IsZero() && keep == 0:
		return 0, true, nil
	}
	values := []string{accountID}
	excess := 0
	if keep > 0 {
		n, err := w.ops.Count(ctx, KindEvent, IndexAccount, values)
		if err != nil {
			return 0, false, err
		}
		excess = n - keep
	}
	oldest, err := w.ops.ListAscending(ctx, KindEvent, IndexAccount, values, "", limit)
	if err != nil {
		return 0, false, err
	}
	pruned := 0
	for _, rec := range oldest {
		e, err := as[Event](KindEvent, rec)
		if err != nil {
			return pruned, false, err
		}
		tooOld := !before.IsZero() && e.CreatedAt.Before(before)
		if pruned >= excess && !tooOld {
			return pruned, true, nil
		}
		if err := w.w.Delete(ctx, KindEvent, e.ID); err != nil {
			return pruned, false, err
		}
		pruned++
	}
	return pruned, len(oldest) < limit, nil
}
