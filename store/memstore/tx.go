package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/iamkit/iamkit/store"
)

// tx implements store.Tx over a memdb transaction. View hands it out read-only.
type tx struct {
	txn     *memdb.Txn
	write   bool
	changes []store.Change
	seen    map[store.Change]int // change key (Op empty) -> index in changes
}

var _ store.Tx = (*tx)(nil)

// record notes a change, collapsing repeated writes of one record into its last op.
func (t *tx) record(kind store.Kind, op store.Op, accountID, id string) {
	key := store.Change{Kind: kind, AccountID: accountID, ID: id}
	if i, ok := t.seen[key]; ok {
		t.changes[i].Op = op
		return
	}
	t.seen[key] = len(t.changes)
	key.Op = op
	t.changes = append(t.changes, key)
}

func wrap(err error) error { return fmt.Errorf("memstore: %w", err) }

// get returns a copy of the record found by an index lookup, or store.ErrNotFound.
func get[T any](t *tx, table, index string, args ...any) (T, error) {
	var zero T
	obj, err := t.txn.First(table, index, args...)
	if err != nil {
		return zero, wrap(err)
	}
	if obj == nil {
		return zero, store.ErrNotFound
	}
	return *obj.(*T), nil
}

// page lists, newest first, the records of an index whose leading fields equal prefix and
// whose last field sorts before p.BeforeID. match reports whether a record has the prefix;
// last returns its last index field.
func page[T any](t *tx, table, index string, p store.Page, prefix []any, match func(*T) bool, last func(*T) string) ([]*T, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	before := p.BeforeID
	if before == "" {
		before = "\xff" // above every ID
	}
	it, err := t.txn.ReverseLowerBound(table, index, append(prefix, before)...)
	if err != nil {
		return nil, wrap(err)
	}
	out := []*T{}
	for obj := it.Next(); obj != nil && len(out) < p.Limit; obj = it.Next() {
		r := obj.(*T)
		if !match(r) {
			break
		}
		if last(r) == p.BeforeID {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// keyOf returns the primary key of a stored record, for unique-key checks.
func keyOf(obj any) string {
	switch r := obj.(type) {
	case *store.User:
		return r.ID
	case *store.Invitation:
		return r.ID
	case *store.BotUser:
		return r.ID
	case *store.Credential:
		return r.ID
	case *store.Role:
		return r.ID
	case *store.IdentityProvider:
		return r.ID
	}
	panic(fmt.Sprintf("memstore: keyOf(%T)", obj))
}

// unique fails with a *store.ConflictError if a record other than id holds the index key.
func (t *tx) unique(kind store.Kind, table, index, id string, args ...any) error {
	obj, err := t.txn.First(table, index, args...)
	if err != nil {
		return wrap(err)
	}
	if obj != nil && keyOf(obj) != id {
		return &store.ConflictError{Kind: kind, Index: index}
	}
	return nil
}

func (t *tx) insert(table string, obj any) error {
	if !t.write {
		return fmt.Errorf("memstore: write in a read-only transaction: %w", store.ErrInvalid)
	}
	if err := t.txn.Insert(table, obj); err != nil {
		return wrap(err)
	}
	return nil
}

func (t *tx) delete(table string, obj any) error {
	if !t.write {
		return fmt.Errorf("memstore: write in a read-only transaction: %w", store.ErrInvalid)
	}
	if err := t.txn.Delete(table, obj); err != nil {
		return wrap(err)
	}
	return nil
}

func clones[T any](rs []*T, clone func(T) T) []T {
	out := make([]T, len(rs))
	for i, r := range rs {
		out[i] = clone(*r)
	}
	return out
}

// Accounts and users.

func (t *tx) Account(_ context.Context, id string) (store.Account, error) {
	return get[store.Account](t, tAccounts, "id", id)
}

func (t *tx) PutAccount(_ context.Context, a store.Account) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if err := t.insert(tAccounts, &a); err != nil {
		return err
	}
	t.record(store.KindAccount, store.OpPut, a.ID, a.ID)
	return nil
}

func (t *tx) User(_ context.Context, id string) (store.User, error) {
	return get[store.User](t, tUsers, "id", id)
}

func (t *tx) UserByEmail(_ context.Context, email string) (store.User, error) {
	return get[store.User](t, tUsers, "email", email)
}

func (t *tx) PutUser(_ context.Context, u store.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if err := t.unique(store.KindUser, tUsers, "email", u.ID, u.Email); err != nil {
		return err
	}
	if err := t.insert(tUsers, &u); err != nil {
		return err
	}
	t.record(store.KindUser, store.OpPut, "", u.ID)
	return nil
}

// Memberships.

func (t *tx) Membership(_ context.Context, accountID, userID string) (store.Membership, error) {
	m, err := get[store.Membership](t, tMemberships, "id", accountID, userID)
	return m.Clone(), err
}

func (t *tx) Memberships(_ context.Context, accountID string, p store.Page) ([]store.Membership, error) {
	rs, err := page(t, tMemberships, "id", p, []any{accountID},
		func(m *store.Membership) bool { return m.AccountID == accountID },
		func(m *store.Membership) string { return m.UserID })
	return clones(rs, store.Membership.Clone), err
}

func (t *tx) MembershipsByUser(_ context.Context, userID string) ([]store.Membership, error) {
	it, err := t.txn.Get(tMemberships, "user", userID)
	if err != nil {
		return nil, wrap(err)
	}
	out := []store.Membership{}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*store.Membership).Clone())
	}
	return out, nil
}

func (t *tx) CountMemberships(_ context.Context, accountID, status string) (int, error) {
	it, err := t.txn.Get(tMemberships, "status", accountID, status)
	if err != nil {
		return 0, wrap(err)
	}
	n := 0
	for obj := it.Next(); obj != nil; obj = it.Next() {
		n++
	}
	return n, nil
}

func (t *tx) PutMembership(_ context.Context, m store.Membership) error {
	if err := m.Validate(); err != nil {
		return err
	}
	m = m.Clone()
	if err := t.insert(tMemberships, &m); err != nil {
		return err
	}
	t.record(store.KindMembership, store.OpPut, m.AccountID, m.UserID)
	return nil
}

func (t *tx) DeleteMembership(ctx context.Context, accountID, userID string) error {
	obj, err := t.txn.First(tMemberships, "id", accountID, userID)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	if err := t.deleteOwnedCredentials(accountID, userID); err != nil {
		return err
	}
	if err := t.delete(tMemberships, obj); err != nil {
		return err
	}
	t.record(store.KindMembership, store.OpDelete, accountID, userID)
	return nil
}

// Invitations.

func (t *tx) Invitation(_ context.Context, id string) (store.Invitation, error) {
	i, err := get[store.Invitation](t, tInvitations, "id", id)
	return i.Clone(), err
}

func (t *tx) InvitationByEmail(_ context.Context, accountID, email string) (store.Invitation, error) {
	i, err := get[store.Invitation](t, tInvitations, "email", accountID, email)
	return i.Clone(), err
}

func (t *tx) Invitations(_ context.Context, accountID string, p store.Page) ([]store.Invitation, error) {
	rs, err := page(t, tInvitations, "account", p, []any{accountID},
		func(i *store.Invitation) bool { return i.AccountID == accountID },
		func(i *store.Invitation) string { return i.ID })
	return clones(rs, store.Invitation.Clone), err
}

func (t *tx) PutInvitation(_ context.Context, inv store.Invitation) error {
	if err := inv.Validate(); err != nil {
		return err
	}
	if err := t.unique(store.KindInvitation, tInvitations, "email", inv.ID, inv.AccountID, inv.Email); err != nil {
		return err
	}
	inv = inv.Clone()
	if err := t.insert(tInvitations, &inv); err != nil {
		return err
	}
	t.record(store.KindInvitation, store.OpPut, inv.AccountID, inv.ID)
	return nil
}

func (t *tx) DeleteInvitation(_ context.Context, id string) error {
	obj, err := t.txn.First(tInvitations, "id", id)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	if err := t.delete(tInvitations, obj); err != nil {
		return err
	}
	t.record(store.KindInvitation, store.OpDelete, obj.(*store.Invitation).AccountID, id)
	return nil
}

// Bot users.

func (t *tx) BotUser(_ context.Context, id string) (store.BotUser, error) {
	b, err := get[store.BotUser](t, tBots, "id", id)
	return b.Clone(), err
}

func (t *tx) BotUserByName(_ context.Context, accountID, name string) (store.BotUser, error) {
	b, err := get[store.BotUser](t, tBots, "name", accountID, name)
	return b.Clone(), err
}

func (t *tx) BotUsers(_ context.Context, accountID string, p store.Page) ([]store.BotUser, error) {
	rs, err := page(t, tBots, "account", p, []any{accountID},
		func(b *store.BotUser) bool { return b.AccountID == accountID },
		func(b *store.BotUser) string { return b.ID })
	return clones(rs, store.BotUser.Clone), err
}

func (t *tx) PutBotUser(_ context.Context, b store.BotUser) error {
	if err := b.Validate(); err != nil {
		return err
	}
	prev, err := t.txn.First(tBots, "id", b.ID)
	if err != nil {
		return wrap(err)
	}
	if prev != nil {
		if err := store.CheckBotUserChange(*prev.(*store.BotUser), b); err != nil {
			return err
		}
	}
	if err := t.unique(store.KindBotUser, tBots, "name", b.ID, b.AccountID, b.Name); err != nil {
		return err
	}
	b = b.Clone()
	if err := t.insert(tBots, &b); err != nil {
		return err
	}
	t.record(store.KindBotUser, store.OpPut, b.AccountID, b.ID)
	return nil
}

func (t *tx) DeleteBotUser(_ context.Context, id string) error {
	obj, err := t.txn.First(tBots, "id", id)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	b := obj.(*store.BotUser)
	if err := t.deleteOwnedCredentials(b.AccountID, b.ID); err != nil {
		return err
	}
	if err := t.delete(tBots, obj); err != nil {
		return err
	}
	t.record(store.KindBotUser, store.OpDelete, b.AccountID, b.ID)
	return nil
}

// Credentials.

// withUsage returns a copy of c with its last-used time.
func (t *tx) withUsage(c *store.Credential) (store.Credential, error) {
	out := c.Clone()
	u, err := t.txn.First(tUsage, "id", c.ID)
	if err != nil {
		return store.Credential{}, wrap(err)
	}
	if u != nil {
		out.LastUsedAt = u.(*usage).At
	}
	return out, nil
}

func (t *tx) credential(index string, args ...any) (store.Credential, error) {
	obj, err := t.txn.First(tCredentials, index, args...)
	if err != nil {
		return store.Credential{}, wrap(err)
	}
	if obj == nil {
		return store.Credential{}, store.ErrNotFound
	}
	return t.withUsage(obj.(*store.Credential))
}

func (t *tx) credentials(rs []*store.Credential, err error) ([]store.Credential, error) {
	if err != nil {
		return nil, err
	}
	out := make([]store.Credential, len(rs))
	for i, r := range rs {
		if out[i], err = t.withUsage(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tx) Credential(_ context.Context, id string) (store.Credential, error) {
	return t.credential("id", id)
}

func (t *tx) CredentialBySecretHash(_ context.Context, hash string) (store.Credential, error) {
	if hash == "" {
		return store.Credential{}, store.ErrNotFound
	}
	return t.credential("secret_hash", hash)
}

func (t *tx) CredentialByFingerprint(_ context.Context, fingerprint string) (store.Credential, error) {
	if fingerprint == "" {
		return store.Credential{}, store.ErrNotFound
	}
	return t.credential("fingerprint", fingerprint)
}

func (t *tx) Credentials(_ context.Context, accountID string, kind store.CredentialKind, p store.Page) ([]store.Credential, error) {
	return t.credentials(page(t, tCredentials, "kind", p, []any{accountID, string(kind)},
		func(c *store.Credential) bool { return c.AccountID == accountID && c.Kind == kind },
		func(c *store.Credential) string { return c.ID }))
}

func (t *tx) CredentialsByOwner(_ context.Context, accountID, ownerID string, p store.Page) ([]store.Credential, error) {
	return t.credentials(page(t, tCredentials, "owner", p, []any{accountID, ownerID},
		func(c *store.Credential) bool { return c.AccountID == accountID && c.OwnerID == ownerID },
		func(c *store.Credential) string { return c.ID }))
}

func (t *tx) OwnerState(_ context.Context, accountID, ownerID string) (store.OwnerState, error) {
	b, err := t.txn.First(tBots, "id", ownerID)
	if err != nil {
		return store.OwnerMissing, wrap(err)
	}
	m, err := t.txn.First(tMemberships, "id", accountID, ownerID)
	if err != nil {
		return store.OwnerMissing, wrap(err)
	}
	bot, _ := b.(*store.BotUser)
	mem, _ := m.(*store.Membership)
	return store.OwnerStateOf(accountID, bot, mem), nil
}

func (t *tx) CredentialAuth(ctx context.Context, id string) (store.Credential, store.OwnerState, error) {
	c, err := t.Credential(ctx, id)
	if err != nil {
		return store.Credential{}, store.OwnerMissing, err
	}
	st, err := t.OwnerState(ctx, c.AccountID, c.OwnerID)
	return c, st, err
}

func (t *tx) PutCredential(ctx context.Context, c store.Credential) error {
	if err := c.Validate(); err != nil {
		return err
	}
	prev, err := t.txn.First(tCredentials, "id", c.ID)
	if err != nil {
		return wrap(err)
	}
	if prev != nil {
		if err := store.CheckCredentialChange(*prev.(*store.Credential), c); err != nil {
			return err
		}
	} else {
		st, err := t.OwnerState(ctx, c.AccountID, c.OwnerID)
		if err != nil {
			return err
		}
		if err := store.CheckNewCredentialOwner(st); err != nil {
			return err
		}
	}
	if c.SecretHash != "" {
		if err := t.unique(store.KindCredential, tCredentials, "secret_hash", c.ID, c.SecretHash); err != nil {
			return err
		}
	}
	if c.Fingerprint != "" {
		if err := t.unique(store.KindCredential, tCredentials, "fingerprint", c.ID, c.Fingerprint); err != nil {
			return err
		}
	}
	c = c.Clone()
	c.LastUsedAt = time.Time{} // kept in the usage table
	if err := t.insert(tCredentials, &c); err != nil {
		return err
	}
	t.record(store.KindCredential, store.OpPut, c.AccountID, c.ID)
	return nil
}

func (t *tx) DeleteCredential(_ context.Context, id string) error {
	obj, err := t.txn.First(tCredentials, "id", id)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	return t.deleteCredential(obj.(*store.Credential))
}

func (t *tx) deleteCredential(c *store.Credential) error {
	if err := t.delete(tCredentials, c); err != nil {
		return err
	}
	if _, err := t.txn.DeleteAll(tUsage, "id", c.ID); err != nil {
		return wrap(err)
	}
	t.record(store.KindCredential, store.OpDelete, c.AccountID, c.ID)
	return nil
}

// deleteOwnedCredentials deletes every credential ownerID owns in accountID.
func (t *tx) deleteOwnedCredentials(accountID, ownerID string) error {
	it, err := t.txn.Get(tCredentials, "owner_prefix", accountID, ownerID)
	if err != nil {
		return wrap(err)
	}
	var owned []*store.Credential
	for obj := it.Next(); obj != nil; obj = it.Next() {
		owned = append(owned, obj.(*store.Credential))
	}
	for _, c := range owned {
		if err := t.deleteCredential(c); err != nil {
			return err
		}
	}
	return nil
}

// Roles.

func (t *tx) Role(_ context.Context, id string) (store.Role, error) {
	r, err := get[store.Role](t, tRoles, "id", id)
	return r.Clone(), err
}

func (t *tx) Roles(_ context.Context, accountID string, p store.Page) ([]store.Role, error) {
	rs, err := page(t, tRoles, "account", p, []any{accountID},
		func(r *store.Role) bool { return r.AccountID == accountID },
		func(r *store.Role) string { return r.ID })
	return clones(rs, store.Role.Clone), err
}

func (t *tx) PutRole(_ context.Context, r store.Role) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := t.unique(store.KindRole, tRoles, "name", r.ID, r.AccountID, r.Name); err != nil {
		return err
	}
	r = r.Clone()
	if err := t.insert(tRoles, &r); err != nil {
		return err
	}
	t.record(store.KindRole, store.OpPut, r.AccountID, r.ID)
	return nil
}

func (t *tx) DeleteRole(_ context.Context, id string) error {
	obj, err := t.txn.First(tRoles, "id", id)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	if err := t.delete(tRoles, obj); err != nil {
		return err
	}
	t.record(store.KindRole, store.OpDelete, obj.(*store.Role).AccountID, id)
	return nil
}

// Identity providers.

func (t *tx) IdentityProvider(_ context.Context, id string) (store.IdentityProvider, error) {
	p, err := get[store.IdentityProvider](t, tIdPs, "id", id)
	return p.Clone(), err
}

func (t *tx) IdentityProviders(_ context.Context, accountID string, p store.Page) ([]store.IdentityProvider, error) {
	rs, err := page(t, tIdPs, "account", p, []any{accountID},
		func(r *store.IdentityProvider) bool { return r.AccountID == accountID },
		func(r *store.IdentityProvider) string { return r.ID })
	return clones(rs, store.IdentityProvider.Clone), err
}

func (t *tx) PutIdentityProvider(_ context.Context, p store.IdentityProvider) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := t.unique(store.KindIdentityProvider, tIdPs, "entity_id", p.ID, p.AccountID, p.EntityID); err != nil {
		return err
	}
	p = p.Clone()
	if err := t.insert(tIdPs, &p); err != nil {
		return err
	}
	t.record(store.KindIdentityProvider, store.OpPut, p.AccountID, p.ID)
	return nil
}

func (t *tx) DeleteIdentityProvider(_ context.Context, id string) error {
	obj, err := t.txn.First(tIdPs, "id", id)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	if err := t.delete(tIdPs, obj); err != nil {
		return err
	}
	t.record(store.KindIdentityProvider, store.OpDelete, obj.(*store.IdentityProvider).AccountID, id)
	return nil
}

// Events.

func (t *tx) Events(_ context.Context, accountID string, p store.Page) ([]store.Event, error) {
	rs, err := page(t, tEvents, "account", p, []any{accountID},
		func(e *store.Event) bool { return e.AccountID == accountID },
		func(e *store.Event) string { return e.ID })
	return clones(rs, store.Event.Clone), err
}

func (t *tx) AppendEvent(_ context.Context, e store.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	prev, err := t.txn.First(tEvents, "id", e.ID)
	if err != nil {
		return wrap(err)
	}
	if prev != nil {
		return &store.ConflictError{Kind: store.KindEvent, Index: "id"}
	}
	e = e.Clone()
	if err := t.insert(tEvents, &e); err != nil {
		return err
	}
	t.record(store.KindEvent, store.OpPut, e.AccountID, e.ID)
	return nil
}

// External identities.

func (t *tx) ExternalIdentity(_ context.Context, idpID, subject string) (store.ExternalIdentity, error) {
	return get[store.ExternalIdentity](t, tExternalIDs, "id", idpID, subject)
}

func (t *tx) PutExternalIdentity(_ context.Context, x store.ExternalIdentity) error {
	if err := x.Validate(); err != nil {
		return err
	}
	if err := t.insert(tExternalIDs, &x); err != nil {
		return err
	}
	t.record(store.KindExternalIdentity, store.OpPut, x.AccountID, x.UserID)
	return nil
}
