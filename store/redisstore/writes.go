package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/iamkit/iamkit/store"
)

// errReadOnly is returned by a write through the Reader of View.
var errReadOnly = &store.InvalidError{Field: "transaction", Reason: "View is read-only"}

// prev reads the stored version of a record before a write; found is false when absent.
func prev[T any](ctx context.Context, t *txn, k key) (T, bool, error) {
	r, err := get[T](ctx, t, k)
	if errors.Is(err, store.ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

// put encodes and buffers a record.
func (t *txn) put(k key, v any) error {
	s, err := encode(v)
	if err != nil {
		return err
	}
	t.set(k, s)
	return nil
}

// takeUnique checks and buffers a per-account unique key: it must be free or name id.
func (t *txn) takeUnique(ctx context.Context, u key, id string, kind store.Kind, index string) error {
	vals, _, err := t.getAll(ctx, []key{u}, nil)
	if err != nil {
		return err
	}
	if vals[0].ok && vals[0].s != id {
		return &store.ConflictError{Kind: kind, Index: index}
	}
	if !vals[0].ok {
		t.set(u, id)
	}
	return nil
}

// PutAccount implements store.Tx.
func (t *txn) PutAccount(ctx context.Context, a store.Account) error {
	if !t.rw {
		return errReadOnly
	}
	if err := a.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kAccount, a.ID)
	if err := t.put(k, a); err != nil {
		return err
	}
	t.record(k.b, store.KindAccount, store.OpPut, a.ID, a.ID)
	return nil
}

// PutUser implements store.Tx. A new email is claimed globally at commit.
func (t *txn) PutUser(ctx context.Context, u store.User) error {
	if !t.rw {
		return errReadOnly
	}
	if err := u.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kUser, u.ID)
	old, found, err := prev[store.User](ctx, t, k)
	if err != nil {
		return err
	}
	if !found || old.Email != u.Email {
		if err := t.claimPointer(ctx, t.s.ks.emailPtr(u.Email), u.ID, store.KindUser, "email", userHoldsEmail(u.Email)); err != nil {
			return err
		}
		if found {
			t.dropPointer(t.s.ks.emailPtr(old.Email), u.ID)
		}
	}
	if err := t.put(k, u); err != nil {
		return err
	}
	t.record(k.b, store.KindUser, store.OpPut, "", u.ID)
	return nil
}

func userHoldsEmail(email string) func(context.Context, *txn, string) (bool, error) {
	return func(ctx context.Context, t *txn, id string) (bool, error) {
		u, found, err := prev[store.User](ctx, t, t.s.ks.rec(kUser, id))
		return found && u.Email == email, err
	}
}

// PutMembership implements store.Tx.
func (t *txn) PutMembership(ctx context.Context, m store.Membership) error {
	if !t.rw {
		return errReadOnly
	}
	if err := m.Validate(); err != nil {
		return err
	}
	k := t.s.ks.membership(m.AccountID, m.UserID)
	old, found, err := prev[store.Membership](ctx, t, k)
	if err != nil {
		return err
	}
	if !found {
		t.zadd(t.s.ks.ixMembers(m.AccountID), m.UserID)
		t.sadd(t.s.ks.memberStatus(m.AccountID, m.Status), m.UserID)
		addTo(t.umAdd, m.UserID, m.AccountID)
		removeFrom(t.umDel, m.UserID, m.AccountID)
	} else if old.Status != m.Status {
		t.srem(t.s.ks.memberStatus(m.AccountID, old.Status), m.UserID)
		t.sadd(t.s.ks.memberStatus(m.AccountID, m.Status), m.UserID)
	}
	if err := t.put(k, m); err != nil {
		return err
	}
	t.record(k.b, store.KindMembership, store.OpPut, m.AccountID, m.UserID)
	return nil
}

func addTo(m map[string]map[string]struct{}, a, b string) {
	if m[a] == nil {
		m[a] = map[string]struct{}{}
	}
	m[a][b] = struct{}{}
}

func removeFrom(m map[string]map[string]struct{}, a, b string) {
	delete(m[a], b)
}

// DeleteMembership implements store.Tx: it deletes the user's credentials in the account in
// the same commit.
func (t *txn) DeleteMembership(ctx context.Context, accountID, userID string) error {
	if !t.rw {
		return errReadOnly
	}
	k := t.s.ks.membership(accountID, userID)
	old, found, err := prev[store.Membership](ctx, t, k)
	if err != nil {
		return err
	}
	if !found {
		return store.ErrNotFound
	}
	if err := t.deleteOwnedCredentials(ctx, accountID, userID); err != nil {
		return err
	}
	t.del(k)
	t.zrem(t.s.ks.ixMembers(accountID), userID)
	t.srem(t.s.ks.memberStatus(accountID, old.Status), userID)
	removeFrom(t.umAdd, userID, accountID)
	addTo(t.umDel, userID, accountID)
	t.record(k.b, store.KindMembership, store.OpDelete, accountID, userID)
	return nil
}

// PutInvitation implements store.Tx.
func (t *txn) PutInvitation(ctx context.Context, inv store.Invitation) error {
	if !t.rw {
		return errReadOnly
	}
	if err := inv.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kInvitation, inv.ID)
	old, found, err := prev[store.Invitation](ctx, t, k)
	if err != nil {
		return err
	}
	if err := t.takeUnique(ctx, t.s.ks.unique(inv.AccountID, kInvitation, inv.Email), inv.ID, store.KindInvitation, "email"); err != nil {
		return err
	}
	if found {
		if old.AccountID != inv.AccountID || old.Email != inv.Email {
			t.del(t.s.ks.unique(old.AccountID, kInvitation, old.Email))
		}
		if old.AccountID != inv.AccountID {
			t.zrem(t.s.ks.ixInvitations(old.AccountID), inv.ID)
		}
	}
	if !found || old.AccountID != inv.AccountID {
		t.zadd(t.s.ks.ixInvitations(inv.AccountID), inv.ID)
	}
	if err := t.put(k, inv); err != nil {
		return err
	}
	t.record(k.b, store.KindInvitation, store.OpPut, inv.AccountID, inv.ID)
	return nil
}

// DeleteInvitation implements store.Tx.
func (t *txn) DeleteInvitation(ctx context.Context, id string) error {
	if !t.rw {
		return errReadOnly
	}
	k := t.s.ks.rec(kInvitation, id)
	old, found, err := prev[store.Invitation](ctx, t, k)
	if err != nil || !found {
		return errOr(err, store.ErrNotFound)
	}
	t.del(k)
	t.del(t.s.ks.unique(old.AccountID, kInvitation, old.Email))
	t.zrem(t.s.ks.ixInvitations(old.AccountID), id)
	t.record(k.b, store.KindInvitation, store.OpDelete, old.AccountID, id)
	return nil
}

// PutBotUser implements store.Tx.
func (t *txn) PutBotUser(ctx context.Context, b store.BotUser) error {
	if !t.rw {
		return errReadOnly
	}
	if err := b.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kBot, b.ID)
	old, found, err := prev[store.BotUser](ctx, t, k)
	if err != nil {
		return err
	}
	if found {
		if err := store.CheckBotUserChange(old, b); err != nil {
			return err
		}
	}
	if err := t.takeUnique(ctx, t.s.ks.unique(b.AccountID, kBot, b.Name), b.ID, store.KindBotUser, "name"); err != nil {
		return err
	}
	if found && old.Name != b.Name {
		t.del(t.s.ks.unique(old.AccountID, kBot, old.Name))
	}
	if !found {
		t.zadd(t.s.ks.ixBots(b.AccountID), b.ID)
	}
	if err := t.put(k, b); err != nil {
		return err
	}
	t.record(k.b, store.KindBotUser, store.OpPut, b.AccountID, b.ID)
	return nil
}

// DeleteBotUser implements store.Tx: it deletes the bot's credentials in the same commit.
func (t *txn) DeleteBotUser(ctx context.Context, id string) error {
	if !t.rw {
		return errReadOnly
	}
	k := t.s.ks.rec(kBot, id)
	old, found, err := prev[store.BotUser](ctx, t, k)
	if err != nil || !found {
		return errOr(err, store.ErrNotFound)
	}
	if err := t.deleteOwnedCredentials(ctx, old.AccountID, id); err != nil {
		return err
	}
	t.del(k)
	t.del(t.s.ks.unique(old.AccountID, kBot, old.Name))
	t.zrem(t.s.ks.ixBots(old.AccountID), id)
	t.record(k.b, store.KindBotUser, store.OpDelete, old.AccountID, id)
	return nil
}

// PutCredential implements store.Tx. A new secret hash or fingerprint is claimed globally
// at commit.
func (t *txn) PutCredential(ctx context.Context, c store.Credential) error {
	if !t.rw {
		return errReadOnly
	}
	if err := c.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kCred, c.ID)
	// Read everything a new credential needs in one round trip: the credential, its
	// owner as a bot user and as a member, and the pointer of its secret or fingerprint.
	ptr := t.s.ks.secretPtr(c.SecretHash)
	if c.SecretHash == "" {
		ptr = t.s.ks.fingerprintPtr(c.Fingerprint)
	}
	if _, _, err := t.getAll(ctx, []key{k, t.s.ks.rec(kBot, c.OwnerID), t.s.ks.membership(c.AccountID, c.OwnerID), ptr}, nil); err != nil {
		return err
	}
	old, found, err := prev[store.Credential](ctx, t, k)
	if err != nil {
		return err
	}
	if found {
		if err := store.CheckCredentialChange(old, c); err != nil {
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
		if c.SecretHash != "" {
			if err := t.claimPointer(ctx, t.s.ks.secretPtr(c.SecretHash), c.ID, store.KindCredential, "secret_hash",
				credHolds(func(x store.Credential) bool { return x.SecretHash == c.SecretHash })); err != nil {
				return err
			}
		}
		if c.Fingerprint != "" {
			if err := t.claimPointer(ctx, t.s.ks.fingerprintPtr(c.Fingerprint), c.ID, store.KindCredential, "fingerprint",
				credHolds(func(x store.Credential) bool { return x.Fingerprint == c.Fingerprint })); err != nil {
				return err
			}
		}
		t.zadd(t.s.ks.ixCreds(c.AccountID, c.Kind), c.ID)
		t.zadd(t.s.ks.ixCredsByOwner(c.AccountID, c.OwnerID), c.ID)
	}
	c = c.Clone()
	c.LastUsedAt = time.Time{} // kept by RecordUse, outside transactions
	if err := t.put(k, c); err != nil {
		return err
	}
	t.record(k.b, store.KindCredential, store.OpPut, c.AccountID, c.ID)
	return nil
}

func credHolds(match func(store.Credential) bool) func(context.Context, *txn, string) (bool, error) {
	return func(ctx context.Context, t *txn, id string) (bool, error) {
		c, found, err := prev[store.Credential](ctx, t, t.s.ks.rec(kCred, id))
		return found && match(c), err
	}
}

// DeleteCredential implements store.Tx.
func (t *txn) DeleteCredential(ctx context.Context, id string) error {
	if !t.rw {
		return errReadOnly
	}
	k := t.s.ks.rec(kCred, id)
	old, found, err := prev[store.Credential](ctx, t, k)
	if err != nil || !found {
		return errOr(err, store.ErrNotFound)
	}
	t.deleteCredential(k, old)
	return nil
}

func (t *txn) deleteCredential(k key, c store.Credential) {
	t.del(k)
	t.zrem(t.s.ks.ixCreds(c.AccountID, c.Kind), c.ID)
	t.zrem(t.s.ks.ixCredsByOwner(c.AccountID, c.OwnerID), c.ID)
	t.hdels = append(t.hdels, t.s.ks.lastUsed(k.b))
	t.hdelIDs = append(t.hdelIDs, c.ID)
	if c.SecretHash != "" {
		t.dropPointer(t.s.ks.secretPtr(c.SecretHash), c.ID)
	}
	if c.Fingerprint != "" {
		t.dropPointer(t.s.ks.fingerprintPtr(c.Fingerprint), c.ID)
	}
	t.record(k.b, store.KindCredential, store.OpDelete, c.AccountID, c.ID)
}

// deleteOwnedCredentials deletes every credential ownerID owns in accountID: the cascade of
// bot-user deletion and member removal.
func (t *txn) deleteOwnedCredentials(ctx context.Context, accountID, ownerID string) error {
	ix := t.s.ks.ixCredsByOwner(accountID, ownerID)
	before := ""
	for {
		ids, err := t.zrange(ctx, ix, before, store.MaxPageLimit)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		keys := make([]key, len(ids))
		for i, id := range ids {
			keys[i] = t.s.ks.rec(kCred, id)
		}
		vals, _, err := t.getAll(ctx, keys, nil)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if !v.ok {
				continue
			}
			var c store.Credential
			if err := decode(v.s, &c); err != nil {
				return err
			}
			t.deleteCredential(keys[i], c)
		}
		// Deleted members are now buffered removals, so the next read starts below them.
		before = ids[len(ids)-1]
	}
}

// PutRole implements store.Tx.
func (t *txn) PutRole(ctx context.Context, r store.Role) error {
	if !t.rw {
		return errReadOnly
	}
	if err := r.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kRole, r.ID)
	old, found, err := prev[store.Role](ctx, t, k)
	if err != nil {
		return err
	}
	if err := t.takeUnique(ctx, t.s.ks.unique(r.AccountID, kRole, r.Name), r.ID, store.KindRole, "name"); err != nil {
		return err
	}
	if found {
		if old.AccountID != r.AccountID || old.Name != r.Name {
			t.del(t.s.ks.unique(old.AccountID, kRole, old.Name))
		}
		if old.AccountID != r.AccountID {
			t.zrem(t.s.ks.ixRoles(old.AccountID), r.ID)
		}
	}
	if !found || old.AccountID != r.AccountID {
		t.zadd(t.s.ks.ixRoles(r.AccountID), r.ID)
	}
	if err := t.put(k, r); err != nil {
		return err
	}
	t.record(k.b, store.KindRole, store.OpPut, r.AccountID, r.ID)
	return nil
}

// DeleteRole implements store.Tx.
func (t *txn) DeleteRole(ctx context.Context, id string) error {
	if !t.rw {
		return errReadOnly
	}
	k := t.s.ks.rec(kRole, id)
	old, found, err := prev[store.Role](ctx, t, k)
	if err != nil || !found {
		return errOr(err, store.ErrNotFound)
	}
	t.del(k)
	t.del(t.s.ks.unique(old.AccountID, kRole, old.Name))
	t.zrem(t.s.ks.ixRoles(old.AccountID), id)
	t.record(k.b, store.KindRole, store.OpDelete, old.AccountID, id)
	return nil
}

// PutIdentityProvider implements store.Tx.
func (t *txn) PutIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	if !t.rw {
		return errReadOnly
	}
	if err := p.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kIdP, p.ID)
	old, found, err := prev[store.IdentityProvider](ctx, t, k)
	if err != nil {
		return err
	}
	if err := t.takeUnique(ctx, t.s.ks.unique(p.AccountID, kIdP, p.EntityID), p.ID, store.KindIdentityProvider, "entity_id"); err != nil {
		return err
	}
	if found {
		if old.AccountID != p.AccountID || old.EntityID != p.EntityID {
			t.del(t.s.ks.unique(old.AccountID, kIdP, old.EntityID))
		}
		if old.AccountID != p.AccountID {
			t.zrem(t.s.ks.ixIdPs(old.AccountID), p.ID)
		}
	}
	if !found || old.AccountID != p.AccountID {
		t.zadd(t.s.ks.ixIdPs(p.AccountID), p.ID)
	}
	if err := t.put(k, p); err != nil {
		return err
	}
	t.record(k.b, store.KindIdentityProvider, store.OpPut, p.AccountID, p.ID)
	return nil
}

// DeleteIdentityProvider implements store.Tx.
func (t *txn) DeleteIdentityProvider(ctx context.Context, id string) error {
	if !t.rw {
		return errReadOnly
	}
	k := t.s.ks.rec(kIdP, id)
	old, found, err := prev[store.IdentityProvider](ctx, t, k)
	if err != nil || !found {
		return errOr(err, store.ErrNotFound)
	}
	t.del(k)
	t.del(t.s.ks.unique(old.AccountID, kIdP, old.EntityID))
	t.zrem(t.s.ks.ixIdPs(old.AccountID), id)
	t.record(k.b, store.KindIdentityProvider, store.OpDelete, old.AccountID, id)
	return nil
}

// AppendEvent implements store.Tx. Events are append-only: an existing ID is a conflict.
func (t *txn) AppendEvent(ctx context.Context, e store.Event) error {
	if !t.rw {
		return errReadOnly
	}
	if err := e.Validate(); err != nil {
		return err
	}
	k := t.s.ks.rec(kEvent, e.ID)
	_, found, err := prev[store.Event](ctx, t, k)
	if err != nil {
		return err
	}
	if found {
		return &store.ConflictError{Kind: store.KindEvent, Index: "id"}
	}
	if err := t.put(k, e); err != nil {
		return err
	}
	t.zadd(t.s.ks.ixEvents(e.AccountID), e.ID)
	t.record(k.b, store.KindEvent, store.OpPut, e.AccountID, e.ID)
	return nil
}

// PutExternalIdentity implements store.Tx.
func (t *txn) PutExternalIdentity(ctx context.Context, x store.ExternalIdentity) error {
	if !t.rw {
		return errReadOnly
	}
	if err := x.Validate(); err != nil {
		return err
	}
	k := t.s.ks.externalID(x.IdPID, x.Subject)
	if err := t.put(k, x); err != nil {
		return err
	}
	t.record(k.b, store.KindExternalIdentity, store.OpPut, x.AccountID, x.UserID)
	return nil
}
