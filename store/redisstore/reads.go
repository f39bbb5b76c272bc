package redisstore

import (
	"context"
	"errors"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

var _ store.Tx = (*txn)(nil)

// Account implements store.Reader.
func (t *txn) Account(ctx context.Context, id string) (store.Account, error) {
	return get[store.Account](ctx, t, t.s.ks.rec(kAccount, id))
}

// User implements store.Reader.
func (t *txn) User(ctx context.Context, id string) (store.User, error) {
	return get[store.User](ctx, t, t.s.ks.rec(kUser, id))
}

// UserByEmail implements store.Reader: it follows the email pointer and confirms it against
// the user's record.
func (t *txn) UserByEmail(ctx context.Context, email string) (store.User, error) {
	id, err := t.pointer(ctx, t.s.ks.emailPtr(email))
	if err != nil || id == "" {
		return store.User{}, errOr(err, store.ErrNotFound)
	}
	u, err := t.User(ctx, id)
	if err != nil {
		return store.User{}, err
	}
	if u.Email != email {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// Membership implements store.Reader.
func (t *txn) Membership(ctx context.Context, accountID, userID string) (store.Membership, error) {
	return get[store.Membership](ctx, t, t.s.ks.membership(accountID, userID))
}

// Memberships implements store.Reader.
func (t *txn) Memberships(ctx context.Context, accountID string, p store.Page) ([]store.Membership, error) {
	return page[store.Membership](ctx, t, t.s.ks.ixMembers(accountID), p, false, recSpec{accountID: accountID})
}

// MembershipsByUser implements store.Reader: it reads the user's index of accounts and
// confirms each entry against the membership record.
func (t *txn) MembershipsByUser(ctx context.Context, userID string) ([]store.Membership, error) {
	accts, err := t.s.client.SMembers(ctx, t.s.ks.userMemberships(userID).k).Result()
	if err != nil {
		return nil, wrap(err)
	}
	for a := range t.umAdd[userID] {
		if !slices.Contains(accts, a) {
			accts = append(accts, a)
		}
	}
	slices.Sort(accts)
	keys := make([]key, len(accts))
	for i, a := range accts {
		keys[i] = t.s.ks.membership(a, userID)
	}
	vals, _, err := t.getAll(ctx, keys, nil)
	if err != nil {
		return nil, err
	}
	out := []store.Membership{}
	for _, v := range vals {
		if !v.ok {
			continue
		}
		var m store.Membership
		if err := decode(v.s, &m); err != nil {
			return nil, err
		}
		if m.UserID == userID {
			out = append(out, m)
		}
	}
	return out, nil
}

// CountMemberships implements store.Reader.
func (t *txn) CountMemberships(ctx context.Context, accountID, status string) (int, error) {
	return t.scard(ctx, t.s.ks.memberStatus(accountID, status))
}

// Invitation implements store.Reader.
func (t *txn) Invitation(ctx context.Context, id string) (store.Invitation, error) {
	return get[store.Invitation](ctx, t, t.s.ks.rec(kInvitation, id))
}

// InvitationByEmail implements store.Reader.
func (t *txn) InvitationByEmail(ctx context.Context, accountID, email string) (store.Invitation, error) {
	return byUnique(ctx, t, t.s.ks.unique(accountID, kInvitation, email), kInvitation,
		func(i store.Invitation) bool { return i.AccountID == accountID && i.Email == email })
}

// Invitations implements store.Reader.
func (t *txn) Invitations(ctx context.Context, accountID string, p store.Page) ([]store.Invitation, error) {
	return page[store.Invitation](ctx, t, t.s.ks.ixInvitations(accountID), p, false, recSpec{kind: kInvitation})
}

// BotUser implements store.Reader.
func (t *txn) BotUser(ctx context.Context, id string) (store.BotUser, error) {
	return get[store.BotUser](ctx, t, t.s.ks.rec(kBot, id))
}

// BotUserByName implements store.Reader.
func (t *txn) BotUserByName(ctx context.Context, accountID, name string) (store.BotUser, error) {
	return byUnique(ctx, t, t.s.ks.unique(accountID, kBot, name), kBot,
		func(b store.BotUser) bool { return b.AccountID == accountID && b.Name == name })
}

// BotUsers implements store.Reader.
func (t *txn) BotUsers(ctx context.Context, accountID string, p store.Page) ([]store.BotUser, error) {
	return page[store.BotUser](ctx, t, t.s.ks.ixBots(accountID), p, false, recSpec{kind: kBot})
}

// byUnique reads the record a per-account unique key names, confirming it.
func byUnique[T any](ctx context.Context, t *txn, u key, kind string, ok func(T) bool) (T, error) {
	var zero T
	vals, _, err := t.getAll(ctx, []key{u}, nil)
	if err != nil || !vals[0].ok {
		return zero, errOr(err, store.ErrNotFound)
	}
	r, err := get[T](ctx, t, t.s.ks.rec(kind, vals[0].s))
	if err != nil {
		return zero, err
	}
	if !ok(r) {
		return zero, store.ErrNotFound
	}
	return r, nil
}

// Credential implements store.Reader.
func (t *txn) Credential(ctx context.Context, id string) (store.Credential, error) {
	vals, lu, err := t.getAll(ctx, []key{t.s.ks.rec(kCred, id)}, []string{id})
	if err != nil {
		return store.Credential{}, err
	}
	if !vals[0].ok {
		return store.Credential{}, store.ErrNotFound
	}
	return decodeCred(vals[0].s, lu[0])
}

func decodeCred(s, lastUsed string) (store.Credential, error) {
	var c store.Credential
	if err := decode(s, &c); err != nil {
		return c, err
	}
	at, err := parseTime(lastUsed)
	if err != nil {
		return c, wrap(err)
	}
	c.LastUsedAt = at
	return c, nil
}

// CredentialBySecretHash implements store.Reader.
func (t *txn) CredentialBySecretHash(ctx context.Context, hash string) (store.Credential, error) {
	return t.credentialByPointer(ctx, t.s.ks.secretPtr(hash), hash,
		func(c store.Credential) string { return c.SecretHash })
}

// CredentialByFingerprint implements store.Reader.
func (t *txn) CredentialByFingerprint(ctx context.Context, fingerprint string) (store.Credential, error) {
	return t.credentialByPointer(ctx, t.s.ks.fingerprintPtr(fingerprint), fingerprint,
		func(c store.Credential) string { return c.Fingerprint })
}

func (t *txn) credentialByPointer(ctx context.Context, ptr key, value string, field func(store.Credential) string) (store.Credential, error) {
	if value == "" {
		return store.Credential{}, store.ErrNotFound
	}
	id, err := t.pointer(ctx, ptr)
	if err != nil || id == "" {
		return store.Credential{}, errOr(err, store.ErrNotFound)
	}
	c, err := t.Credential(ctx, id)
	if err != nil {
		return store.Credential{}, err
	}
	if field(c) != value {
		return store.Credential{}, store.ErrNotFound
	}
	return c, nil
}

// Credentials implements store.Reader.
func (t *txn) Credentials(ctx context.Context, accountID string, kind store.CredentialKind, p store.Page) ([]store.Credential, error) {
	return page[store.Credential](ctx, t, t.s.ks.ixCreds(accountID, kind), p, true, recSpec{kind: kCred})
}

// CredentialsByOwner implements store.Reader.
func (t *txn) CredentialsByOwner(ctx context.Context, accountID, ownerID string, p store.Page) ([]store.Credential, error) {
	return page[store.Credential](ctx, t, t.s.ks.ixCredsByOwner(accountID, ownerID), p, true, recSpec{kind: kCred})
}

// OwnerState implements store.Reader: the bot user and the membership are read together.
func (t *txn) OwnerState(ctx context.Context, accountID, ownerID string) (store.OwnerState, error) {
	vals, _, err := t.getAll(ctx, []key{t.s.ks.rec(kBot, ownerID), t.s.ks.membership(accountID, ownerID)}, nil)
	if err != nil {
		return store.OwnerMissing, err
	}
	var (
		bot *store.BotUser
		mem *store.Membership
	)
	if vals[0].ok {
		bot = new(store.BotUser)
		if err := decode(vals[0].s, bot); err != nil {
			return store.OwnerMissing, err
		}
	}
	if vals[1].ok {
		mem = new(store.Membership)
		if err := decode(vals[1].s, mem); err != nil {
			return store.OwnerMissing, err
		}
	}
	return store.OwnerStateOf(accountID, bot, mem), nil
}

// CredentialAuth implements store.Reader. Outside a transaction it is one script call (one
// round trip) in the credential's slot, which returns the credential, its last-used time
// and its owner's state together.
func (t *txn) CredentialAuth(ctx context.Context, id string) (store.Credential, store.OwnerState, error) {
	if t.rw {
		c, err := t.Credential(ctx, id)
		if err != nil {
			return store.Credential{}, store.OwnerMissing, err
		}
		st, err := t.OwnerState(ctx, c.AccountID, c.OwnerID)
		return c, st, err
	}
	b := t.s.ks.bucket(id)
	r, err := scriptAuth.Run(ctx, t.s.client,
		[]string{t.s.ks.rec(kCred, id).k, t.s.ks.lastUsed(b).k},
		id, t.s.ks.heads[b], t.s.ks.n, b).Slice()
	if errors.Is(err, redis.Nil) {
		return store.Credential{}, store.OwnerMissing, store.ErrNotFound
	}
	if err != nil {
		return store.Credential{}, store.OwnerMissing, wrap(err)
	}
	if len(r) != 3 {
		return store.Credential{}, store.OwnerMissing, errors.New("redisstore: unexpected reply from the auth script")
	}
	credJSON, _ := r[0].(string)
	lu, _ := r[1].(string)
	st, _ := r[2].(int64)
	c, err := decodeCred(credJSON, lu)
	if err != nil {
		return store.Credential{}, store.OwnerMissing, err
	}
	if st < 0 { // the owner lives in another bucket
		s, err := t.OwnerState(ctx, c.AccountID, c.OwnerID)
		return c, s, err
	}
	return c, store.OwnerState(st), nil
}

// Role implements store.Reader.
func (t *txn) Role(ctx context.Context, id string) (store.Role, error) {
	return get[store.Role](ctx, t, t.s.ks.rec(kRole, id))
}

// Roles implements store.Reader.
func (t *txn) Roles(ctx context.Context, accountID string, p store.Page) ([]store.Role, error) {
	return page[store.Role](ctx, t, t.s.ks.ixRoles(accountID), p, false, recSpec{kind: kRole})
}

// IdentityProvider implements store.Reader.
func (t *txn) IdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error) {
	return get[store.IdentityProvider](ctx, t, t.s.ks.rec(kIdP, id))
}

// IdentityProviders implements store.Reader.
func (t *txn) IdentityProviders(ctx context.Context, accountID string, p store.Page) ([]store.IdentityProvider, error) {
	return page[store.IdentityProvider](ctx, t, t.s.ks.ixIdPs(accountID), p, false, recSpec{kind: kIdP})
}

// Events implements store.Reader.
func (t *txn) Events(ctx context.Context, accountID string, p store.Page) ([]store.Event, error) {
	return page[store.Event](ctx, t, t.s.ks.ixEvents(accountID), p, false, recSpec{kind: kEvent})
}

// page reads one newest-first page of an index and its records. Outside a transaction it is
// one script call; inside, one read of the index and one of the records (both watched).
func page[T any](ctx context.Context, t *txn, ix key, p store.Page, creds bool, spec recSpec) ([]T, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var ids []string
	var vals []val
	var lus []string
	if !t.rw {
		var err error
		ids, vals, lus, err = t.pageScript(ctx, ix, p, creds, spec)
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		ids, err = t.zrange(ctx, ix, p.BeforeID, p.Limit)
		if err != nil {
			return nil, err
		}
		keys := make([]key, len(ids))
		for i, id := range ids {
			keys[i] = spec.key(t.s.ks, id)
		}
		var luIDs []string
		if creds {
			luIDs = ids
		}
		vals, lus, err = t.getAll(ctx, keys, luIDs)
		if err != nil {
			return nil, err
		}
	}
	out := make([]T, 0, len(ids))
	for i := range ids {
		if !vals[i].ok {
			continue // deleted between the two reads of a retried transaction
		}
		var r T
		if creds {
			c, err := decodeCred(vals[i].s, lus[i])
			if err != nil {
				return nil, err
			}
			r = any(c).(T)
		} else if err := decode(vals[i].s, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// pageScript runs scriptPage and fetches, in a second round trip, the records that live in
// another bucket than the index (IDs that do not carry their account's tag).
func (t *txn) pageScript(ctx context.Context, ix key, p store.Page, creds bool, spec recSpec) ([]string, []val, []string, error) {
	max := "+"
	if p.BeforeID != "" {
		max = "(" + p.BeforeID
	}
	allLocal := "0"
	tail := spec.kind + ":"
	if spec.accountID != "" {
		allLocal, tail = "1", "x:"+spec.accountID+":mem:"
	}
	k2 := ix.k
	flag := "0"
	if creds {
		k2, flag = t.s.ks.lastUsed(ix.b).k, "1"
	}
	r, err := scriptPage.Run(ctx, t.s.client, []string{ix.k, k2},
		max, p.Limit, t.s.ks.heads[ix.b]+tail, flag, t.s.ks.n, ix.b, allLocal).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, nil, wrap(err)
	}
	step := 2
	if creds {
		step = 3
	}
	n := len(r) / step
	ids := make([]string, n)
	vals := make([]val, n)
	lus := make([]string, n)
	var foreign []int
	for i := 0; i < n; i++ {
		ids[i] = r[i*step]
		switch v := r[i*step+1]; v {
		case "-":
			foreign = append(foreign, i)
		case "":
		default:
			vals[i] = val{s: v, ok: true}
		}
		if creds {
			lus[i] = r[i*step+2]
		}
	}
	if len(foreign) > 0 {
		keys := make([]key, len(foreign))
		var luIDs []string
		for j, i := range foreign {
			keys[j] = spec.key(t.s.ks, ids[i])
			if creds {
				luIDs = append(luIDs, ids[i])
			}
		}
		fv, flu, err := t.getAll(ctx, keys, luIDs)
		if err != nil {
			return nil, nil, nil, err
		}
		for j, i := range foreign {
			vals[i] = fv[j]
			if creds {
				lus[i] = flu[j]
			}
		}
	}
	return ids, vals, lus, nil
}

// recSpec says where the records an index lists live: under their own IDs (kind), or, for
// memberships, under the account.
type recSpec struct {
	kind      string
	accountID string // memberships only
}

func (s recSpec) key(ks *keyspace, id string) key {
	if s.accountID != "" {
		return ks.membership(s.accountID, id)
	}
	return ks.rec(s.kind, id)
}

// ExternalIdentity implements store.Reader.
func (t *txn) ExternalIdentity(ctx context.Context, idpID, subject string) (store.ExternalIdentity, error) {
	return get[store.ExternalIdentity](ctx, t, t.s.ks.externalID(idpID, subject))
}
