package store

import (
	"fmt"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Table describes one kind of record to the adapters: how to find its primary key and its
// account, and which indexes it has. Schema returns every table of the contract; an adapter
// maps each onto its storage (B-trees in memory, Redis keys, an SQL table) and keeps its indexes.
// The rules that give the indexes their meaning (who may own a credential, what a deletion
// cascades to) are not the adapter's: Store applies them.
//
// A Table's methods take and return records by value (Credential, not *Credential), of the
// type its Kind names.
type Table struct {
	Kind Kind
	// Global tables hold records that belong to no account (users). An adapter that shards
	// by account routes a global record by its own key.
	Global bool
	// Indexes are the table's secondary indexes, besides the primary key.
	Indexes []Index

	key      func(any) string
	account  func(any) string
	changeID func(any) string
	clone    func(any) any
	decode   func(data string, raw []byte) (any, error) // raw: data as bytes, or nil
}

// Index is a secondary index of a Table. Its values are strings computed from a record; only
// the last value may be free-form (the others are IDs or enumerations), so an adapter may
// join them with any separator that IDs and enumerations do not contain, such as ':'.
//
// A unique index holds at most one record per value tuple: a Put that would give a second
// record the same values fails with the error Conflict returns. A listing index (not unique)
// lists the records with given values in descending primary-key order, which for IDs is
// newest first.
//
// A Global index spans accounts: a global unique index (a user's email, a token's hash) is
// unique across the whole store, and a global listing index (a user's memberships) lists
// records of many accounts. Other indexes are per account: their first value is the
// account's ID.
type Index struct {
	Name   string
	Unique bool
	Global bool

	values func(any) ([]string, bool)
}

// Values returns the index values of rec, and false when rec is not in this index (for
// example a token credential in the fingerprint index).
func (ix Index) Values(rec any) ([]string, bool) { return ix.values(rec) }

// Key returns the primary key of rec. Keys of records that have an ID are the ID; keys made
// of two IDs (a membership: account and user) join them with '/'.
func (t Table) Key(rec any) string { return t.key(rec) }

// Account returns the account rec belongs to, or "" for a global table.
func (t Table) Account(rec any) string { return t.account(rec) }

// Change returns the Change a Put (OpPut) or Delete (OpDelete) of rec records in the feed.
func (t Table) Change(op Op, rec any) Change {
	return Change{Kind: t.Kind, Op: op, AccountID: t.account(rec), ID: t.changeID(rec)}
}

// Clone returns a deep copy of rec: adapters store and return copies, never the caller's
// memory.
func (t Table) Clone(rec any) any { return t.clone(rec) }

// DecodeJSON decodes a record of this table from the JSON encoding/json gives it.
func (t Table) DecodeJSON(data []byte) (any, error) { return t.decode(string(data), data) }

// DecodeJSONString is DecodeJSON of a string, which it reads without copying it first: the
// strings of the record it returns may share data's memory.
func (t Table) DecodeJSONString(data string) (any, error) { return t.decode(data, nil) }

// Index returns the index called name.
func (t Table) Index(name string) (Index, bool) {
	for _, ix := range t.Indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return Index{}, false
}

// RouteKey returns the shard tag a record with primary key key lives under: that of the key's
// first ID. Every record of an account has a first ID that carries the account's tag.
func RouteKey(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		key = key[:i]
	}
	return ShardTag(key)
}

// JoinKey joins the IDs of a composite primary key.
func JoinKey(ids ...string) string { return strings.Join(ids, "/") }

// Index names used by the Tables.
const (
	IndexAccount     = "account"     // listing: the records of an account
	IndexEmail       = "email"       // users (global unique), invitations (unique per account)
	IndexName        = "name"        // bot users, roles and groups: unique per account
	IndexEntityID    = "entity_id"   // identity providers: unique per account
	IndexSecretHash  = "secret_hash" // credentials: global unique
	IndexFingerprint = "fingerprint" // SSH credentials: global unique
	IndexKind        = "kind"        // credentials of an account by kind
	IndexOwner       = "owner"       // credentials of an account by owner
	IndexStatus      = "status"      // memberships of an account by status (counted for seats)
	IndexUser        = "user"        // memberships of a user, across accounts (global); sessions of a user in an account
	IndexIdP         = "idp"         // sessions of an account that came through an identity provider
	IndexAccountKey  = "key"         // accounts by the embedder's key: global unique
	IndexAll         = "all"         // listing of every record of a table (global, no values)
	IndexVerified    = "verified"    // verified domains by name: global unique
	IndexPolicy      = "policy"      // IP policy rules of an account by policy
)

// Schema returns the tables of the contract, one per record kind, freshly made: a caller may
// keep and index them as it likes.
func Schema() []Table {
	return append([]Table{
		newTable(KindAccount, false, func(a *Account) string { return a.ID }, func(a *Account) string { return a.ID }, nil, Account.clone,
			unique(IndexAccountKey, true, func(a *Account) ([]string, bool) { return []string{a.Key}, a.Key != "" }),
			listing(IndexAll, true, func(*Account) ([]string, bool) { return []string{}, true })),
		newTable(KindUser, true, func(u *User) string { return u.ID }, func(*User) string { return "" }, nil, User.clone,
			unique(IndexEmail, true, func(u *User) ([]string, bool) { return []string{u.Email}, true })),
		newTable(KindMembership, false, func(m *Membership) string { return JoinKey(m.AccountID, m.UserID) },
			func(m *Membership) string { return m.AccountID }, func(m *Membership) string { return m.UserID }, Membership.Clone,
			listing(IndexAccount, false, func(m *Membership) ([]string, bool) { return []string{m.AccountID}, true }),
			listing(IndexStatus, false, func(m *Membership) ([]string, bool) { return []string{m.AccountID, m.Status}, true }),
			listing(IndexUser, true, func(m *Membership) ([]string, bool) { return []string{m.UserID}, true })),
		newTable(KindInvitation, false, func(i *Invitation) string { return i.ID }, func(i *Invitation) string { return i.AccountID }, nil, Invitation.Clone,
			unique(IndexEmail, false, func(i *Invitation) ([]string, bool) { return []string{i.AccountID, i.Email}, true }),
			listing(IndexAccount, false, func(i *Invitation) ([]string, bool) { return []string{i.AccountID}, true })),
		newTable(KindBotUser, false, func(b *BotUser) string { return b.ID }, func(b *BotUser) string { return b.AccountID }, nil, BotUser.Clone,
			unique(IndexName, false, func(b *BotUser) ([]string, bool) { return []string{b.AccountID, b.Name}, true }),
			listing(IndexAccount, false, func(b *BotUser) ([]string, bool) { return []string{b.AccountID}, true })),
		newTable(KindCredential, false, func(c *Credential) string { return c.ID }, func(c *Credential) string { return c.AccountID }, nil, Credential.Clone,
			unique(IndexSecretHash, true, func(c *Credential) ([]string, bool) { return []string{c.SecretHash}, c.SecretHash != "" }),
			unique(IndexFingerprint, true, func(c *Credential) ([]string, bool) { return []string{c.Fingerprint}, c.Fingerprint != "" }),
			listing(IndexKind, false, func(c *Credential) ([]string, bool) { return []string{c.AccountID, string(c.Kind)}, true }),
			listing(IndexOwner, false, func(c *Credential) ([]string, bool) { return []string{c.AccountID, c.OwnerID}, true })),
		newTable(KindRole, false, func(r *Role) string { return r.ID }, func(r *Role) string { return r.AccountID }, nil, Role.Clone,
			unique(IndexName, false, func(r *Role) ([]string, bool) { return []string{r.AccountID, r.Name}, true }),
			listing(IndexAccount, false, func(r *Role) ([]string, bool) { return []string{r.AccountID}, true })),
		newTable(KindIdentityProvider, false, func(p *IdentityProvider) string { return p.ID }, func(p *IdentityProvider) string { return p.AccountID }, nil, IdentityProvider.Clone,
			unique(IndexEntityID, false, func(p *IdentityProvider) ([]string, bool) { return []string{p.AccountID, p.EntityID}, true }),
			listing(IndexAccount, false, func(p *IdentityProvider) ([]string, bool) { return []string{p.AccountID}, true })),
		newTable(KindEvent, false, func(e *Event) string { return e.ID }, func(e *Event) string { return e.AccountID }, nil, Event.Clone,
			listing(IndexAccount, false, func(e *Event) ([]string, bool) { return []string{e.AccountID}, true })),
		newTable(KindExternalIdentity, false, func(x *ExternalIdentity) string { return JoinKey(x.IdPID, x.Subject) },
			func(x *ExternalIdentity) string { return x.AccountID }, func(x *ExternalIdentity) string { return x.UserID }, ExternalIdentity.clone),
		newTable(KindTombstone, false, func(t *Tombstone) string { return JoinKey(t.AccountID, t.OwnerID) },
			func(t *Tombstone) string { return t.AccountID }, func(t *Tombstone) string { return t.OwnerID }, Tombstone.clone,
			listing(IndexAll, true, func(*Tombstone) ([]string, bool) { return []string{}, true })),
		newTable(KindUserSecrets, true, func(u *UserSecrets) string { return u.UserID }, func(*UserSecrets) string { return "" }, nil, UserSecrets.Clone),
		newTable(KindSession, false, func(x *Session) string { return x.ID }, func(x *Session) string { return x.AccountID }, nil, Session.clone,
			listing(IndexUser, false, func(x *Session) ([]string, bool) { return []string{x.AccountID, x.UserID}, true }),
			listing(IndexIdP, false, func(x *Session) ([]string, bool) { return []string{x.AccountID, x.IdPID}, x.IdPID != "" })),
		newTable(KindGroup, false, func(g *Group) string { return g.ID }, func(g *Group) string { return g.AccountID }, nil, Group.Clone,
			unique(IndexName, false, func(g *Group) ([]string, bool) { return []string{g.AccountID, g.DisplayName}, true }),
			listing(IndexAccount, false, func(g *Group) ([]string, bool) { return []string{g.AccountID}, true })),
		newTable(KindDomain, false, func(d *Domain) string { return d.ID }, func(d *Domain) string { return d.AccountID }, nil, Domain.clone,
			unique(IndexName, false, func(d *Domain) ([]string, bool) { return []string{d.AccountID, d.Name}, true }),
			unique(IndexVerified, true, func(d *Domain) ([]string, bool) { return []string{d.Name}, d.Verified() }),
			listing(IndexAccount, false, func(d *Domain) ([]string, bool) { return []string{d.AccountID}, true })),
		newTable(KindIPPolicy, false, func(p *IPPolicy) string { return p.ID }, func(p *IPPolicy) string { return p.AccountID }, nil, IPPolicy.clone,
			listing(IndexAccount, false, func(p *IPPolicy) ([]string, bool) { return []string{p.AccountID}, true })),
		newTable(KindIPPolicyRule, false, func(r *IPPolicyRule) string { return r.ID }, func(r *IPPolicyRule) string { return r.AccountID }, nil, IPPolicyRule.clone,
			listing(IndexAccount, false, func(r *IPPolicyRule) ([]string, bool) { return []string{r.AccountID}, true }),
			listing(IndexPolicy, false, func(r *IPPolicyRule) ([]string, bool) { return []string{r.AccountID, r.PolicyID}, true })),
		newTable(KindIPRestriction, false, func(x *IPRestriction) string { return x.ID }, func(x *IPRestriction) string { return x.AccountID }, nil, IPRestriction.Clone,
			listing(IndexAccount, false, func(x *IPRestriction) ([]string, bool) { return []string{x.AccountID}, true })),
	}, streamTables()...)
}

// newTable builds a Table over records of type T. changeID defaults to the key.
func newTable[T any](kind Kind, global bool, key, account, changeID func(*T) string, clone func(T) T, indexes ...Index) Table {
	if changeID == nil {
		changeID = key
	}
	at := func(rec any) *T {
		switch r := rec.(type) {
		case T:
			return &r
		case *T:
			return r
		}
		panic(fmt.Sprintf("store: a %s record cannot be a %T", kind, rec))
	}
	for i, ix := range indexes {
		vals := ix.values
		indexes[i].values = func(rec any) ([]string, bool) { return vals(at(rec)) }
	}
	return Table{
		Kind: kind, Global: global, Indexes: indexes,
		key:      func(rec any) string { return key(at(rec)) },
		account:  func(rec any) string { return account(at(rec)) },
		changeID: func(rec any) string { return changeID(at(rec)) },
		clone:    func(rec any) any { return clone(*at(rec)) },
		decode: func(data string, raw []byte) (any, error) {
			var r T
			if c, ok := any(&r).(canonical); ok && c.decodeCanonical(data) {
				return r, nil
			}
			r = *new(T) // what the fast path may have filled
			// What encoding/json wrote: durations as integer nanoseconds.
			if raw == nil {
				raw = []byte(data)
			}
			if err := jsonv2.Unmarshal(raw, &r, jsonv1.FormatDurationAsNano(true)); err != nil {
				return nil, fmt.Errorf("store: decoding a %s: %w", kind, err)
			}
			return r, nil
		},
	}
}

// unique and listing make indexes over records of type T; newTable adapts their functions.
func unique[T any](name string, global bool, values func(*T) ([]string, bool)) Index {
	return Index{Name: name, Unique: true, Global: global, values: func(rec any) ([]string, bool) { return values(rec.(*T)) }}
}

func listing[T any](name string, global bool, values func(*T) ([]string, bool)) Index {
	return Index{Name: name, Global: global, values: func(rec any) ([]string, bool) { return values(rec.(*T)) }}
}
