package store

import (
	"context"
	"time"
)

// Store is a transactional record store with a change feed: what the domain packages of
// iamkit read and write through. New makes one from an adapter's Backend, applying the
// contract's rules once for every adapter. Implementations must be safe for concurrent use.
type Store interface {
	// View runs fn with a read-only view of the store. Each Reader call is atomic and sees
	// only committed data; whether several calls see one snapshot depends on the adapter
	// (memstore: yes; redisstore: no, read-committed). Read inside Update when several reads
	// must agree with each other and with a write.
	View(ctx context.Context, fn func(Reader) error) error

	// Update runs fn in a read-write transaction and commits its writes atomically if fn
	// returns nil; if fn returns an error nothing is written and Update returns that error.
	// An adapter may run fn again when a concurrent transaction conflicts with it, and fails
	// with an error matching ErrUnavailable (code CodeAborted) when it gives up. fn must not
	// have side effects outside tx.
	Update(ctx context.Context, fn func(Tx) error) error

	// Head returns the cursor of the newest commit: passing it to Changes waits for the next one.
	// A cursor Changes returns once it has read everything equals Head's at that moment, so
	// a follower knows it is in sync by comparing the two.
	Head(ctx context.Context) (Cursor, error)

	// Changes returns the commits after cursor, oldest first. When some commits after cursor
	// are no longer retained (trimmed, or lost with the store's data), it returns a Batch
	// with Gap set and no commits, whose Next resumes at the oldest change still held: the
	// caller should treat everything it cached as stale. A cursor never silently loses its
	// place: however the store's retained commits change, commits missed after it are a gap.
	//
	// Who waits: Changes answers at once when there is something to report, commits or a
	// gap, and blocks only while there is nothing, until there is or ctx is done (then it
	// returns ctx.Err()). While it blocks it keeps watching for both, and an answer it finds
	// must reach a caller whose ctx has a deadline before that deadline: an adapter that
	// waits on something that cannot be interrupted (a blocking read over the network) bounds
	// each such wait well inside the time ctx has left, rather than by a setting of its own
	// that may be longer. Callers such as a cache's feed follower rely on this: they call
	// Changes with a deadline of one poll interval and treat a deadline with no answer as a
	// quiet feed.
	Changes(ctx context.Context, after Cursor) (Batch, error)

	// RecordUse records uses of credentials, keeping the latest per credential: its time and
	// the address it came from (Credential.LastUsedAt and LastUsedIP). It is not
	// transactional with anything, does not appear in the change feed, and ignores
	// credentials that no longer exist.
	RecordUse(ctx context.Context, uses []Use) error

	// PutSingleUse stores a single-use key (a SAML request ID, an assertion ID) with a value
	// until expiresAt (exclusive: at expiresAt it has expired). It fails with ErrConflict if
	// the key is stored and not yet expired. Expiry is judged by the store's clock.
	PutSingleUse(ctx context.Context, key string, value []byte, expiresAt time.Time) error

	// TakeSingleUse returns a single-use key's value and deletes it, atomically, so only one
	// caller ever takes it. It fails with ErrNotFound if the key is absent or expired.
	TakeSingleUse(ctx context.Context, key string) ([]byte, error)

	// Close releases the store's resources; blocked Changes calls return ErrClosed. Calling it
	// again does nothing.
	Close() error
}

// Reader reads records. Lookups that find nothing return an error matching ErrNotFound.
// Listings return newest first (descending ID order, which is creation order) and an empty
// slice, not an error, when nothing matches.
type Reader interface {
	Account(ctx context.Context, id string) (Account, error)
	// AccountByKey returns the account with the embedder's key (Account.Key).
	AccountByKey(ctx context.Context, key string) (Account, error)
	// Accounts lists every account, by descending ID; Page.BeforeID is an account ID.
	// Background work that visits every account (pruning audit events) pages through it.
	Accounts(ctx context.Context, p Page) ([]Account, error)

	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)

	Membership(ctx context.Context, accountID, userID string) (Membership, error)
	// Memberships lists an account's memberships by descending user ID; Page.BeforeID is a
	// user ID.
	Memberships(ctx context.Context, accountID string, p Page) ([]Membership, error)
	// MembershipsByUser lists every membership of one user, in any order.
	MembershipsByUser(ctx context.Context, userID string) ([]Membership, error)
	// CountMemberships counts an account's memberships with the given status.
	CountMemberships(ctx context.Context, accountID, status string) (int, error)

	Invitation(ctx context.Context, id string) (Invitation, error)
	InvitationByEmail(ctx context.Context, accountID, email string) (Invitation, error)
	Invitations(ctx context.Context, accountID string, p Page) ([]Invitation, error)

	BotUser(ctx context.Context, id string) (BotUser, error)
	BotUserByName(ctx context.Context, accountID, name string) (BotUser, error)
	BotUsers(ctx context.Context, accountID string, p Page) ([]BotUser, error)

	// Credential returns a credential with its last-used time.
	Credential(ctx context.Context, id string) (Credential, error)
	// CredentialBySecretHash finds a token credential by the hash of its secret (the unique
	// key that keeps two credentials from sharing a secret).
	CredentialBySecretHash(ctx context.Context, hash string) (Credential, error)
	CredentialByFingerprint(ctx context.Context, fingerprint string) (Credential, error)
	// Credentials lists an account's credentials of one kind.
	Credentials(ctx context.Context, accountID string, kind CredentialKind, p Page) ([]Credential, error)
	// CredentialsUnusedSince lists an account's credentials of one kind that were not used
	// since a time: never used, or last used before it. Page.BeforeID is a credential ID.
	CredentialsUnusedSince(ctx context.Context, accountID string, kind CredentialKind, since time.Time, p Page) ([]Credential, error)
	// CredentialsByOwner lists the credentials, of every kind, one owner has in one account,
	// in descending full-ID order: grouped by kind prefix (sshcr_, pat_, cr_, ak_), newest
	// first within a kind. Page.BeforeID is a credential ID.
	CredentialsByOwner(ctx context.Context, accountID, ownerID string, p Page) ([]Credential, error)
	// OwnerState reports whether ownerID is an active, inactive or missing owner in accountID.
	OwnerState(ctx context.Context, accountID, ownerID string) (OwnerState, error)
	// CredentialAuth returns a credential (without its last-used time) and its owner: what a
	// verifier needs on a cache miss, in as few round trips as the adapter allows.
	CredentialAuth(ctx context.Context, id string) (Credential, Owner, error)
	// Standing reads an account and what lets principalID act in it, the bot user with that
	// ID and the membership of the user with that ID, in one read (one round trip where the
	// adapter allows): what an authorizer needs. What is missing is nil.
	Standing(ctx context.Context, accountID, principalID string) (Standing, error)

	Role(ctx context.Context, id string) (Role, error)
	Roles(ctx context.Context, accountID string, p Page) ([]Role, error)

	IdentityProvider(ctx context.Context, id string) (IdentityProvider, error)
	IdentityProviders(ctx context.Context, accountID string, p Page) ([]IdentityProvider, error)

	Group(ctx context.Context, id string) (Group, error)
	GroupByName(ctx context.Context, accountID, displayName string) (Group, error)
	// Groups lists an account's groups by descending ID; Page.BeforeID is a group ID.
	Groups(ctx context.Context, accountID string, p Page) ([]Group, error)

	Events(ctx context.Context, accountID string, p Page) ([]Event, error)

	Domain(ctx context.Context, id string) (Domain, error)
	// DomainByName finds a domain an account claims by its canonical name.
	DomainByName(ctx context.Context, accountID, name string) (Domain, error)
	// VerifiedDomain finds the one domain of that name any account has verified.
	VerifiedDomain(ctx context.Context, name string) (Domain, error)
	Domains(ctx context.Context, accountID string, p Page) ([]Domain, error)

	// ExternalIdentity returns the link of an identity provider's subject to a user.
	ExternalIdentity(ctx context.Context, idpID, subject string) (ExternalIdentity, error)

	// Tombstones lists owners whose credentials await purging (see Tombstone), across all
	// accounts, in descending key order; Page.BeforeID is a Tombstone's key,
	// JoinKey(AccountID, OwnerID).
	Tombstones(ctx context.Context, p Page) ([]Tombstone, error)

	// UserSecrets returns a user's sign-in secrets.
	UserSecrets(ctx context.Context, userID string) (UserSecrets, error)

	Session(ctx context.Context, id string) (Session, error)
	// SessionsByUser lists a user's sessions in an account; SessionsByIdP an account's
	// sessions that came through an identity provider. Page.BeforeID is a session ID.
	SessionsByUser(ctx context.Context, accountID, userID string, p Page) ([]Session, error)
	SessionsByIdP(ctx context.Context, accountID, idpID string, p Page) ([]Session, error)
	// SessionAuth returns a session with what verifying it takes (see SessionAuth), in as
	// few round trips as the adapter allows. A session whose account is missing is not found.
	SessionAuth(ctx context.Context, id string) (SessionAuth, error)

	StreamReader
	IPPolicy(ctx context.Context, id string) (IPPolicy, error)
	IPPolicies(ctx context.Context, accountID string, p Page) ([]IPPolicy, error)
	IPPolicyRule(ctx context.Context, id string) (IPPolicyRule, error)
	// IPPolicyRules lists an account's IP policy rules, IPPolicyRulesOf those of one policy.
	// Page.BeforeID is a rule ID.
	IPPolicyRules(ctx context.Context, accountID string, p Page) ([]IPPolicyRule, error)
	IPPolicyRulesOf(ctx context.Context, accountID, policyID string, p Page) ([]IPPolicyRule, error)
	IPRestriction(ctx context.Context, id string) (IPRestriction, error)
	IPRestrictions(ctx context.Context, accountID string, p Page) ([]IPRestriction, error)
}

// Tx is a read-write transaction: a Reader that also sees its own writes. Put methods insert
// or replace a whole record; Delete methods fail with ErrNotFound when there is nothing to
// delete.
type Tx interface {
	Reader
	StreamWriter

	PutAccount(ctx context.Context, a Account) error
	// PutUser writes a user. Users belong to no account, so a sharded adapter may refuse an
	// Update that writes a user together with records of an account, unless the user's ID
	// carries that account's shard tag (see ShardTag).
	PutUser(ctx context.Context, u User) error

	// PutMembership writes a membership. A new membership of a user whose earlier membership
	// still has credentials to purge fails with ErrConflict, code CodePurgePending.
	PutMembership(ctx context.Context, m Membership) error
	// DeleteMembership deletes a membership. From this commit on, every credential the user
	// owns in the account is gone for every read; a Tombstone attributed to by records them
	// until PurgeCredentials has deleted them.
	DeleteMembership(ctx context.Context, accountID, userID string, by Principal) error

	PutInvitation(ctx context.Context, inv Invitation) error
	DeleteInvitation(ctx context.Context, id string) error

	PutBotUser(ctx context.Context, b BotUser) error
	// DeleteBotUser deletes a bot user. Its credentials are gone from this commit on, as for
	// DeleteMembership.
	DeleteBotUser(ctx context.Context, id string, by Principal) error

	// PutCredential writes a credential. A new one's owner must exist in its account; an
	// existing one's AccountID, OwnerID, Kind and secret must not change (ErrInvalid, code
	// CodeImmutable). LastUsedAt is ignored: RecordUse keeps it.
	PutCredential(ctx context.Context, c Credential) error
	DeleteCredential(ctx context.Context, id string) error

	PutRole(ctx context.Context, r Role) error
	DeleteRole(ctx context.Context, id string) error

	PutIdentityProvider(ctx context.Context, p IdentityProvider) error
	DeleteIdentityProvider(ctx context.Context, id string) error

	// PutGroup writes a group; its AccountID is fixed when it is first written.
	PutGroup(ctx context.Context, g Group) error
	DeleteGroup(ctx context.Context, id string) error
	// PutDomain writes a domain. Its name is unique in its account, and once verified across
	// the store (ErrConflict, index "verified"); its AccountID and Name are fixed at creation
	// (ErrInvalid, code CodeImmutable).
	PutDomain(ctx context.Context, d Domain) error
	DeleteDomain(ctx context.Context, id string) error

	// PutExternalIdentity writes (inserts or replaces) the link of (IdPID, Subject) to a user.
	PutExternalIdentity(ctx context.Context, x ExternalIdentity) error

	// PurgeCredentials deletes up to limit credentials of an owner that has a Tombstone in
	// the account, and returns them; when none are left it deletes the tombstone and reports
	// done. Without a tombstone it does nothing and reports done.
	PurgeCredentials(ctx context.Context, accountID, ownerID string, limit int) (purged []Credential, done bool, err error)

	// PutUserSecrets writes a user's sign-in secrets. Like users, they belong to no account:
	// a sharded adapter may refuse an Update that writes them together with records of an
	// account, unless the user's ID carries that account's shard tag.
	PutUserSecrets(ctx context.Context, u UserSecrets) error

	// PutSession writes a session. A new one's user must be a member of its account
	// (ErrInvalid, field session.user_id, otherwise); an existing one's AccountID, UserID,
	// SecretHash, Method, IdPID and CreatedAt must not change (ErrInvalid, code
	// CodeImmutable).
	PutSession(ctx context.Context, x Session) error
	DeleteSession(ctx context.Context, id string) error

	// PutIPPolicy writes an IP policy; its AccountID must not change.
	PutIPPolicy(ctx context.Context, p IPPolicy) error
	// DeleteIPPolicy deletes an IP policy that has no rules and that no restriction applies
	// (ErrConflict, code CodeInUse, otherwise).
	DeleteIPPolicy(ctx context.Context, id string) error
	// PutIPPolicyRule writes an IP policy rule. A new one's policy must be in its account
	// (ErrInvalid, field ip_policy_rule.policy_id); an existing one's AccountID and PolicyID
	// must not change (CodeImmutable).
	PutIPPolicyRule(ctx context.Context, r IPPolicyRule) error
	DeleteIPPolicyRule(ctx context.Context, id string) error
	// PutIPRestriction writes an IP restriction. Its policies must be in its account
	// (ErrInvalid, field ip_restriction.policy_ids[i]); an existing one's AccountID and Type
	// must not change (CodeImmutable).
	PutIPRestriction(ctx context.Context, x IPRestriction) error
	DeleteIPRestriction(ctx context.Context, id string) error

	// AppendEvent records an audit event; it commits with the rest of the transaction. An
	// event is never replaced: an ID already used is a conflict.
	AppendEvent(ctx context.Context, e Event) error
	// PruneEvents deletes, oldest first, up to limit (1 to MaxPageLimit) audit events of an
	// account: those created before before (none by age when it is zero), and those beyond
	// the newest keep (none by count when keep is 0). It returns how many it deleted, and
	// done when no more are to be pruned by those bounds (it may report more when exactly
	// limit were). Event deletions are changes like any other: caches ignore them.
	PruneEvents(ctx context.Context, accountID string, before time.Time, keep, limit int) (pruned int, done bool, err error)

	// AppendEvents is AppendEvent for several events, checking that none of their IDs is
	// used (stored, or twice in events) with one read of the store, where AppendEvent reads
	// once per event: what a transaction that records many events (a purge batch) calls.
	AppendEvents(ctx context.Context, events []Event) error
}

// ShardTag returns the shard tag carried by the last four characters of every iamkit ID, or
// "" if id is shorter. An account's records carry the account's tag; adapters that shard by
// account route on it.
func ShardTag(id string) string {
	const n = 4
	if len(id) < n {
		return ""
	}
	return id[len(id)-n:]
}
