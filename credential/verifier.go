package credential

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/singleflight"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Reason is why a Verifier rejected a credential. It is itself the error Verify returns, so
// rejecting never allocates: match a reason with errors.Is(err, credential.ReasonExpired) or
// by its code (store.CodeOf), any rejection with errors.Is(err, store.ErrUnauthenticated)
// (ReasonUnavailable: store.ErrUnavailable, since retrying may succeed), or read it with
// errors.As.
type Reason uint8

// Rejection reasons.
const (
	// ReasonMalformed: not a well-formed token of any kind (shape or checksum); no lookup was made.
	ReasonMalformed Reason = iota + 1
	// ReasonWrongKind: a well-formed token of another kind (an API key offered as an authtoken).
	ReasonWrongKind
	// ReasonUnknown: no such credential, or the secret does not match it.
	ReasonUnknown
	// ReasonRevoked: the credential was deleted while this verifier had it cached. A verifier
	// that never saw it says ReasonUnknown; so does one whose owner was deleted with it.
	ReasonRevoked
	// ReasonExpired: the credential's expires_at has passed.
	ReasonExpired
	// ReasonOwnerInactive: the owner is a deactivated bot user or a disabled member.
	ReasonOwnerInactive
	// ReasonUnavailable: the verifier could not reach the store and its cache was too stale to
	// trust. Verifiers fail closed.
	ReasonUnavailable
	// ReasonIPNotAllowed: the credential has an address allow-list and the client's address
	// is not in it, or is unknown (a verification without an address).
	ReasonIPNotAllowed
	// ReasonNotScoped: an access token offered to VerifyAgent that does not allow starting
	// agent sessions: its scopes lack tunnel:start, its owner no longer holds it, or the
	// Verifier has no Authorizer to ask (WithAuthorizer).
	ReasonNotScoped
	// ReasonIPRestricted: VerifyAgent's gate (WithAgentGate: the account-wide IP
	// restrictions of type agent) refuses the agent's address.
	ReasonIPRestricted

	numReasons = int(ReasonIPRestricted) + 1
)

// String returns the reason's name, such as "expired" or "ip_not_allowed".
func (r Reason) String() string {
	switch r {
	case ReasonMalformed:
		return "malformed"
	case ReasonWrongKind:
		return "wrong_kind"
	case ReasonUnknown:
		return "unknown"
	case ReasonRevoked:
		return "revoked"
	case ReasonExpired:
		return "expired"
	case ReasonOwnerInactive:
		return "owner_inactive"
	case ReasonUnavailable:
		return "unavailable"
	case ReasonIPNotAllowed:
		return "ip_not_allowed"
	case ReasonNotScoped:
		return "not_scoped"
	case ReasonIPRestricted:
		return "ip_restricted"
	}
	return "invalid_reason"
}

// Error implements error.
func (r Reason) Error() string { return "credential: rejected: " + r.String() }

// Is reports whether target is the store sentinel r matches: store.ErrUnavailable for
// ReasonUnavailable, store.ErrUnauthenticated for every other reason.
func (r Reason) Is(target error) bool {
	if r == ReasonUnavailable {
		return target == store.ErrUnavailable
	}
	return target == store.ErrUnauthenticated
}

// ErrorCode returns r's code: CodeMalformedToken, CodeWrongKind, CodeUnknown, CodeRevoked,
// CodeExpired, CodeOwnerInactive, CodeIPNotAllowed, CodeNotScoped, CodeIPRestricted or
// CodeVerifierUnavailable.
func (r Reason) ErrorCode() string {
	switch r {
	case ReasonMalformed:
		return CodeMalformedToken
	case ReasonWrongKind:
		return CodeWrongKind
	case ReasonUnknown:
		return CodeUnknown
	case ReasonRevoked:
		return CodeRevoked
	case ReasonExpired:
		return CodeExpired
	case ReasonOwnerInactive:
		return CodeOwnerInactive
	case ReasonUnavailable:
		return CodeVerifierUnavailable
	case ReasonIPNotAllowed:
		return CodeIPNotAllowed
	case ReasonNotScoped:
		return CodeNotScoped
	case ReasonIPRestricted:
		return CodeIPRestricted
	}
	return store.CodeInternal
}

// Result is what a successful verification tells: whose credential it is, who its owner is
// and what it allows. Its strings and ACL are shared, immutable values; a Result is safe to
// keep and to share.
type Result struct {
	Kind         store.CredentialKind
	CredentialID string
	AccountID    string
	OwnerID      string
	// OwnerBot reports whether the owner is a bot user (otherwise a user, a member).
	OwnerBot bool
	// Subject is what audit events name the owner by: the bot user's name or the user's
	// email.
	Subject   string
	ACL       ACL
	ExpiresAt time.Time // zero: never
	// Scope is an access token's scopes, compiled with the Verifier's permission registry
	// (a scope the registry does not hold allows nothing); the zero Scope for other kinds.
	Scope identity.Scope
}

// Principal returns the owner as the principal acting with this credential, through src: a
// caller builds it from the verification alone, with no store read. An access token's
// principal carries its Scope, which rbac ANDs with the owner's grants on every check.
func (r Result) Principal(src identity.Source) identity.Principal {
	kind := identity.KindUser
	if r.OwnerBot {
		kind = identity.KindBotUser
	}
	return identity.Principal{
		ID: r.OwnerID, Kind: kind, AccountID: r.AccountID, Subject: r.Subject,
		Source: src, CredentialID: r.CredentialID, Scope: r.Scope,
	}
}

// Stats are a Verifier's counters since it was made.
type Stats struct {
	Hits          uint64            // verifications answered from the cache (accepted or not)
	Misses        uint64            // verifications that read the store
	Rejections    map[Reason]uint64 // by reason
	Invalidations uint64            // cache entries dropped because the change feed said so
	Flushes       uint64            // whole-cache flushes (feed gaps)
	Cached        int               // credentials in the cache now (tokens and SSH keys)
	Negative      int               // tokens remembered as not verifying (unknown or revoked)
	Owners        int               // owners in the cache now
}

const numShards = 64

// coarseTick is the resolution of a running Verifier's system clock.
const coarseTick = time.Millisecond

// Verifier checks authtokens, API keys and SSH keys against a store, keeping what it learns
// in memory and dropping it as the store's change feed reports changes. It is safe for
// concurrent use; call Run in a goroutine to follow the feed. Until Run has synced with the
// feed, and whenever the feed has been silent for longer than the maximum staleness, the
// Verifier trusts nothing it cached and reads the store on every call, failing closed
// (ReasonUnavailable) when the store cannot answer.
type Verifier struct {
	st        store.Store
	authz     *rbac.Authorizer  // nil: access tokens are refused by VerifyAgent
	gate      AgentGate         // nil: VerifyAgent asks nothing more
	perms     *rbac.Permissions // compiles access tokens' scopes
	hasher    *Hasher
	clock     store.Clock
	logger    *slog.Logger
	maxStale  time.Duration
	negTTL    time.Duration
	negMax    int
	loadLimit time.Duration
	useEvery  time.Duration
	seed      maphash.Seed
	onRevoked func(context.Context, time.Duration) // WithRevocationObserver
	follower  *store.Follower
	ownFeed   bool // the follower is the Verifier's own: Run runs it

	shards [numShards]shard
	owners owners
	acls   acls
	loads  singleflight.Group

	rejections [numReasons]paddedCounter
	flushes    atomic.Uint64

	// coarseNow is the system time (UnixNano) refreshed every coarseTick by Run, or 0; used
	// only when no clock was injected.
	coarseNow   atomic.Int64
	coarseClock bool

	pendingMu sync.Mutex
	pending   []store.Use // uses queued since the last RecordUse

	sshMu  sync.Mutex
	sshIDs map[string][sha256.Size]byte // SSH credential ID -> fingerprint, to invalidate by ID
}

type paddedCounter struct {
	atomic.Uint64
	_ [56]byte
}

// shard is one stripe of the cache. Credentials are keyed by ID body (tokens) or by
// fingerprint (SSH keys).
type shard struct {
	mu      sync.RWMutex
	creds   map[string]*entry
	ssh     map[[sha256.Size]byte]*entry
	neg     map[string]negative // ID bodies known not to verify
	epoch   uint64              // bumped by every invalidation: a load that straddles one is not cached
	hits    atomic.Uint64
	misses  atomic.Uint64
	invalid atomic.Uint64
	_       [40]byte
}

type negative struct {
	reason  Reason
	expires int64 // UnixNano
	// revoked is when the revocation was committed (UnixNano by the store's clock), until the
	// first rejection it causes reports its latency; then 0.
	revoked int64
}

// entry is a cached credential. Its fields are immutable but for owner and lastUse. An
// entry is 96 bytes, a size class of its own (TestEntrySize pins it): the ID and an ACL of
// its own share one allocation, fields most credentials leave empty are behind one pointer,
// and the kind is a byte.
type entry struct {
	// text is the credential's full ID (its first idLen bytes), followed by the encoding of
	// its ACL unless shared holds the ACL: an ACL costs a credential only its encoded bytes.
	text    string
	hash    [sha256.Size]byte // secret hash (tokens) or key fingerprint (SSH)
	shared  *ACL              // interned: credentials with the same rules share one; nil: see text
	more    *entryMore        // nil: any address and no scope
	expires int64             // UnixNano; 0: never
	owner   atomic.Pointer[owner]
	lastUse atomic.Int64 // UnixNano of the last use queued for RecordUse
	idLen   uint16
	kind    kindCode
}

// entryMore holds what only some credentials have: an address allow-list, an access token's
// compiled scopes.
type entryMore struct {
	allow AllowList      // the zero AllowList allows any address
	scope identity.Scope // access tokens' compiled scopes; zero for other kinds
}

// id returns the credential's ID.
func (e *entry) id() string { return e.text[:e.idLen] }

// acl returns the credential's ACL.
func (e *entry) acl() ACL {
	if e.shared != nil {
		return *e.shared
	}
	return ACL{enc: e.text[e.idLen:]}
}

// kindCode is a store.CredentialKind in a byte; 0 is none.
type kindCode uint8

const (
	codeAuthtoken kindCode = 1 + iota
	codeAPIKey
	codeAccessToken
	codeSSHCredential
)

// kind returns the store.CredentialKind k stands for.
func (k kindCode) kind() store.CredentialKind {
	switch k {
	case codeAuthtoken:
		return store.Authtoken
	case codeAPIKey:
		return store.APIKey
	case codeAccessToken:
		return store.AccessToken
	case codeSSHCredential:
		return store.SSHCredential
	}
	return ""
}

// codeOf returns k's kindCode, or false for a kind the Verifier does not know.
func codeOf(k store.CredentialKind) (kindCode, bool) {
	for c := codeAuthtoken; c <= codeSSHCredential; c++ {
		if c.kind() == k {
			return c, true
		}
	}
	return 0, false
}

// maxInternedACLs bounds the parsed ACLs a Verifier shares between credentials; past it,
// credentials with new rule lists keep their own copy of the encoding, in their entry.
const maxInternedACLs = 4096

// acls interns parsed ACLs by their rules.
type acls struct {
	mu sync.Mutex
	m  map[string]*ACL
}

// get returns the ACL of rules: an interned one (shared), or one of the caller's own (its
// encoding to be copied into the entry) when the table is full.
func (a *acls) get(rules []string) (acl ACL, shared *ACL, err error) {
	if len(rules) == 0 {
		return ACL{}, nil, nil
	}
	key := strings.Join(rules, "\n") // a rule never contains a newline: ParseACL refuses it
	a.mu.Lock()
	defer a.mu.Unlock()
	if shared := a.m[key]; shared != nil {
		return *shared, shared, nil
	}
	if acl, err = ParseACL(rules); err != nil {
		return ACL{}, nil, err
	}
	if len(a.m) < maxInternedACLs {
		shared = &acl
		a.m[key] = shared
	}
	return acl, shared, nil
}

// owner is the cached state of a credential's owner, shared by all of its credentials, so a
// change of state is one write seen by all of them. Its kind and subject are fixed: a change
// of either (a bot user renamed, a user's email changed) replaces the entry.
type owner struct {
	accountID, id string
	bot           bool
	subject       string
	state         atomic.Int32 // store.OwnerState, ownerStale or ownerRemoved
	// gone is set when the owner was removed (a store.Tombstone was written for it): its
	// credentials, purged later, were not revoked one by one.
	gone atomic.Bool
}

// Owner states besides store.OwnerState's: stale (reload it from the store) and removed (the
// feed said the owner was deleted with a store.Tombstone: its credentials are gone, and are
// refused without reading the store until the purge reaches them).
const (
	ownerStale   = -1
	ownerRemoved = -2
)

type ownerKey struct{ accountID, id string }

type owners struct {
	mu    sync.Mutex
	m     map[ownerKey]*owner
	epoch uint64
}

// NewVerifier returns a Verifier reading st. It takes the options WithHasher, WithClock,
// WithLogger, WithMaxStaleness, WithNegativeCache, WithLastUsedInterval, WithFollower,
// WithRevocationObserver and WithAuthorizer (which access tokens need: see VerifyAgent and
// Result.Scope). A nil store,
// or an option set to nil or out of range, is an error matching store.ErrInvalid that names
// it.
func NewVerifier(st store.Store, opts ...Option) (*Verifier, error) {
	if st == nil {
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	}
	c := newConfig(opts)
	if err := c.check(); err != nil {
		return nil, err
	}
	perms, err := c.permissions()
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		st:        st,
		authz:     c.authz,
		gate:      c.gate,
		perms:     perms,
		hasher:    c.hasher,
		clock:     c.clock,
		logger:    c.logger,
		maxStale:  c.maxStale,
		negTTL:    c.negTTL,
		negMax:    c.negMax,
		loadLimit: 5 * time.Second,
		useEvery:  c.useEvery,
		seed:      maphash.MakeSeed(),
		onRevoked: c.onRevoked,

		coarseClock: !c.clockSet,
	}
	for i := range v.shards {
		v.shards[i].creds = map[string]*entry{}
		v.shards[i].ssh = map[[sha256.Size]byte]*entry{}
		v.shards[i].neg = map[string]negative{}
	}
	v.owners.m = map[ownerKey]*owner{}
	v.acls.m = map[string]*ACL{}
	v.sshIDs = map[string][sha256.Size]byte{}
	v.follower = c.follower
	if v.follower == nil {
		var err error
		if v.follower, err = store.NewFollower(st, store.WithFollowerClock(v.clock), store.WithFollowerLogger(v.logger)); err != nil {
			return nil, err
		}
		v.ownFeed = true
	}
	if err := v.follower.Subscribe((*feedHandler)(v)); err != nil {
		return nil, err
	}
	return v, nil
}

// Run follows the store's change feed and flushes last-used times until ctx is done or the
// store is closed, and returns why it stopped. With WithFollower the shared follower's owner
// runs the feed, and Run keeps the coarse clock and the last-used writes until ctx is done.
// Call it once, in its own goroutine.
func (v *Verifier) Run(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	if v.coarseClock {
		v.coarseNow.Store(v.clock.Now().UnixNano())
		defer v.coarseNow.Store(0)
		go func() {
			t := time.NewTicker(coarseTick)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					v.coarseNow.Store(v.clock.Now().UnixNano())
				case <-done:
					return
				}
			}
		}()
	}
	go func() {
		t := time.NewTicker(v.useEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				v.FlushUsage(ctx)
			case <-done:
				return
			}
		}
	}()
	var err error
	if v.ownFeed {
		err = v.follower.Run(ctx)
	} else {
		<-ctx.Done()
		err = ctx.Err()
	}
	v.FlushUsage(context.WithoutCancel(ctx))
	return err
}

// Sync returns once the cache reflects every store commit made before it was called, or when
// ctx is done; it fails at once (store.ErrUnavailable, code store.CodeNotRunning) when
// nothing follows the feed. Call it after a write when the next verification must see
// that write: without it, the change reaches the cache within moments, not at once.
func (v *Verifier) Sync(ctx context.Context) error { return v.follower.Sync(ctx) }

// Verify checks a token that must be of the given kind (store.Authtoken, store.APIKey or
// store.AccessToken), for callers that accept one kind only: a token of another kind is
// rejected with ReasonWrongKind. On success it returns whose credential it is; otherwise a
// Reason. A cache hit does not allocate. Verify returns by ctx's deadline, whatever the
// store's client does with it: when the store has not answered by then, it rejects with
// ReasonUnavailable, and an answer that comes later is not acted on.
//
// Verify does not know the client's address: a credential with an address allow-list is
// rejected (ReasonIPNotAllowed). Callers that know it use VerifyFrom.
func (v *Verifier) Verify(ctx context.Context, kind store.CredentialKind, token string) (Result, error) {
	return v.VerifyFrom(ctx, kind, token, netip.Addr{})
}

// VerifyFrom is Verify for a client at addr (the zero Addr when unknown): a credential with
// an address allow-list (store.Credential.AllowedIPs) is accepted only from an address in
// it (ReasonIPNotAllowed otherwise, and always for an unknown address), and the credential's
// last use records addr. The check allocates nothing.
func (v *Verifier) VerifyFrom(ctx context.Context, kind store.CredentialKind, token string, addr netip.Addr) (Result, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return v.reject(ReasonMalformed)
	}
	if tok.Kind() != kind {
		return v.reject(ReasonWrongKind)
	}
	return v.verify(ctx, tok, addr)
}

// VerifyToken checks a token of any kind, the kind read from its prefix (Result.Kind says
// which). Otherwise it is Verify.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (Result, error) {
	return v.VerifyTokenFrom(ctx, token, netip.Addr{})
}

// VerifyTokenFrom is VerifyToken for a client at addr, as VerifyFrom.
func (v *Verifier) VerifyTokenFrom(ctx context.Context, token string, addr netip.Addr) (Result, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return v.reject(ReasonMalformed)
	}
	return v.verify(ctx, tok, addr)
}

// VerifyAgent checks the token an agent offers a tunnel edge, from addr (as VerifyFrom): an
// authtoken, as Verify(ctx, store.Authtoken, ...) takes it, or an access token that allows
// starting agent sessions: its scopes include rbac.TunnelStart and its owner still holds it,
// which the Verifier asks the Authorizer of WithAuthorizer (a warm check, without allocation
// or store read). An access token that does not is rejected with ReasonNotScoped, and so is
// every access token when the Verifier has no Authorizer; an API key is ReasonWrongKind.
// Result.Scope tells an access token's session from an authtoken's. An edge that keeps a
// session open verifies it again now and then, as with authtokens: a demoted owner's session
// then ends. With WithAgentGate, an agent the gate refuses is rejected with
// ReasonIPRestricted.
func (v *Verifier) VerifyAgent(ctx context.Context, token string, addr netip.Addr) (Result, error) {
	res, err := v.verifyAgent(ctx, token, addr)
	if err != nil || v.gate == nil {
		return res, err
	}
	switch err := v.gate.AllowAgent(ctx, res.Principal(identity.SourceAPI), addr); {
	case errors.Is(err, store.ErrDenied):
		return v.reject(ReasonIPRestricted)
	case err != nil:
		return v.rejectErr(err)
	}
	return res, nil
}

// verifyAgent is VerifyAgent without the gate.
func (v *Verifier) verifyAgent(ctx context.Context, token string, addr netip.Addr) (Result, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return v.reject(ReasonMalformed)
	}
	switch tok.Kind() {
	case store.Authtoken:
		return v.verify(ctx, tok, addr)
	case store.AccessToken:
	default:
		return v.reject(ReasonWrongKind)
	}
	res, err := v.verify(ctx, tok, addr)
	if err != nil {
		return res, err
	}
	if v.authz == nil {
		return v.reject(ReasonNotScoped)
	}
	d, err := v.authz.Check(ctx, res.Principal(identity.SourceAPI), rbac.TunnelStart)
	switch {
	case err != nil:
		return v.rejectErr(err)
	case !d.Allowed:
		return v.reject(ReasonNotScoped)
	}
	return res, nil
}

// verify checks a parsed token from addr.
func (v *Verifier) verify(ctx context.Context, tok Token, addr netip.Addr) (Result, error) {
	if IsTestToken(tok) {
		return v.reject(ReasonUnknown) // a reserved ID names no credential: no lookup
	}
	kind := tok.Kind()
	sum := v.hasher.Hash(tok)
	now := v.now()
	if v.stale(now) {
		return v.verifyDirect(ctx, tok, sum, now, addr)
	}
	body := tok.IDBody()
	sh := &v.shards[maphash.String(v.seed, body)%numShards]
	sh.mu.RLock()
	e := sh.creds[body]
	var (
		neg   negative
		isNeg bool
	)
	if e == nil {
		neg, isNeg = sh.neg[body]
	}
	epoch := sh.epoch
	sh.mu.RUnlock()
	if e == nil {
		if isNeg && neg.expires > now {
			sh.hits.Add(1)
			if neg.revoked != 0 {
				v.firstRevokedRejection(ctx, sh, body)
			}
			return v.reject(neg.reason)
		}
		sh.misses.Add(1)
		var err error
		if e, err = v.loadToken(ctx, sh, epoch, tok, now); err != nil {
			return v.rejectErr(err)
		}
	} else {
		sh.hits.Add(1)
	}
	if e.kind.kind() != kind {
		// The token's ID body is another kind's credential: the hash covers only the secret,
		// so a secret re-wrapped under another prefix must not pass.
		return v.reject(ReasonUnknown)
	}
	return v.check(ctx, e, sum, now, addr)
}

// VerifySSHKey checks an SSH public key offered by a client. A cache hit allocates only what
// hashing the key's wire form takes. Like Verify, it returns by ctx's deadline, and rejects
// a key with an address allow-list (VerifySSHKeyFrom knows the client's address).
func (v *Verifier) VerifySSHKey(ctx context.Context, key ssh.PublicKey) (Result, error) {
	return v.VerifySSHKeyFrom(ctx, key, netip.Addr{})
}

// VerifySSHKeyFrom is VerifySSHKey for a client at addr, as VerifyFrom.
func (v *Verifier) VerifySSHKeyFrom(ctx context.Context, key ssh.PublicKey, addr netip.Addr) (Result, error) {
	if key == nil {
		return v.reject(ReasonMalformed)
	}
	fp := sha256.Sum256(key.Marshal())
	now := v.now()
	if v.stale(now) {
		e, err := v.direct(ctx, func(ctx context.Context) (*entry, error) { return v.fetchSSH(ctx, fp, false) })
		if err != nil {
			return v.rejectErr(err)
		}
		return v.check(ctx, e, fp, now, addr)
	}
	sh := &v.shards[int(fp[0])%numShards]
	sh.mu.RLock()
	e := sh.ssh[fp]
	epoch := sh.epoch
	sh.mu.RUnlock()
	if e == nil {
		sh.misses.Add(1)
		ch := v.loads.DoChan(string(fp[:]), func() (any, error) {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.loadLimit)
			defer cancel()
			e, err := v.fetchSSH(lctx, fp, true)
			if err != nil {
				return nil, err
			}
			v.sshMu.Lock()
			v.sshIDs[e.id()] = fp
			v.sshMu.Unlock()
			sh.mu.Lock()
			if sh.epoch == epoch {
				sh.ssh[fp] = e
			}
			sh.mu.Unlock()
			return e, nil
		})
		res, err := await(ctx, ch)
		if err != nil {
			return v.rejectErr(err)
		}
		e = res.(*entry)
	} else {
		sh.hits.Add(1)
	}
	return v.check(ctx, e, fp, now, addr)
}

// check decides on a cached or freshly loaded entry, for a client at addr.
func (v *Verifier) check(ctx context.Context, e *entry, sum [sha256.Size]byte, now int64, addr netip.Addr) (Result, error) {
	if !equal32(&e.hash, &sum) {
		return v.reject(ReasonUnknown)
	}
	if e.more != nil && !e.more.allow.Allows(addr) {
		return v.reject(ReasonIPNotAllowed)
	}
	o := e.owner.Load()
	state := store.OwnerState(o.state.Load())
	if state == ownerStale {
		var err error
		if o, err = v.reloadOwner(ctx, e, o); err != nil {
			return v.rejectErr(err)
		}
		state = store.OwnerState(o.state.Load())
	}
	switch state {
	case store.OwnerActive:
	case store.OwnerInactive:
		return v.reject(ReasonOwnerInactive)
	default:
		return v.reject(ReasonUnknown)
	}
	n := now
	if e.expires != 0 && n >= e.expires {
		return v.reject(ReasonExpired)
	}
	if last := e.lastUse.Load(); n-last >= int64(v.useEvery) && e.lastUse.CompareAndSwap(last, n) {
		v.queueUse(e, n, addr)
	}
	res := Result{
		Kind:         e.kind.kind(),
		CredentialID: e.id(),
		AccountID:    o.accountID,
		OwnerID:      o.id,
		OwnerBot:     o.bot,
		Subject:      o.subject,
		ACL:          e.acl(),
		ExpiresAt:    unixTime(e.expires),
	}
	if e.more != nil {
		res.Scope = e.more.scope
	}
	return res, nil
}

// queueUse queues a use of e at n from addr for the next FlushUsage, off the hot path: at
// most once per WithLastUsedInterval per credential.
func (v *Verifier) queueUse(e *entry, n int64, addr netip.Addr) {
	u := store.Use{CredentialID: e.id(), At: time.Unix(0, n).UTC()}
	if addr.IsValid() {
		u.IP = addr.Unmap().WithZone("")
	}
	v.pendingMu.Lock()
	v.pending = append(v.pending, u)
	v.pendingMu.Unlock()
}

// now returns the time for expiry, staleness and last-use: the coarse system time while Run
// keeps it, else the clock's.
func (v *Verifier) now() int64 {
	if n := v.coarseNow.Load(); n != 0 {
		return n
	}
	return v.clock.Now().UnixNano()
}

// equal32 compares two digests in constant time: no branch or memory access depends on their
// contents. (subtle.ConstantTimeCompare does the same for any length, at ten times the cost.)
func equal32(a, b *[sha256.Size]byte) bool {
	var x uint64
	for i := 0; i < sha256.Size; i += 8 {
		x |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return x == 0
}

func unixTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (v *Verifier) stale(now int64) bool {
	return now-v.follower.SyncedNano() > int64(v.maxStale)
}

func (v *Verifier) reject(r Reason) (Result, error) {
	v.rejections[r].Add(1)
	return Result{}, r
}

// rejectErr turns a load error into a rejection: a Reason as is, anything else (the store
// failed) as ReasonUnavailable.
func (v *Verifier) rejectErr(err error) (Result, error) {
	var r Reason
	if errors.As(err, &r) {
		return v.reject(r)
	}
	if v.logger != nil {
		v.logger.Warn("credential verifier: store read failed", "err", err)
	}
	return v.reject(ReasonUnavailable)
}

// loadToken reads a token's credential from the store once for all concurrent callers,
// caching it (or its absence) unless an invalidation raced with the read.
func (v *Verifier) loadToken(ctx context.Context, sh *shard, epoch uint64, tok Token, now int64) (*entry, error) {
	credID := tok.CredentialID()
	ch := v.loads.DoChan(credID, func() (any, error) {
		body := id.Body(credID)
		// A load that finished just before this one began may have cached it: the caller
		// missed the cache before that load filled it.
		sh.mu.RLock()
		cached := sh.creds[body]
		sh.mu.RUnlock()
		if cached != nil {
			return cached, nil
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.loadLimit)
		defer cancel()
		e, err := v.fetch(lctx, credID, true)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if sh.epoch != epoch {
			return e, err
		}
		switch {
		case err == nil:
			// Keyed by the body of the entry's own ID, not of credID: the key then keeps no
			// second copy of the ID alive.
			sh.creds[id.Body(e.id())] = e
		case errors.Is(err, ReasonUnknown) && v.negMax > 0:
			if len(sh.neg) >= v.negMax/numShards+1 {
				for k := range sh.neg { // evict an arbitrary entry
					delete(sh.neg, k)
					break
				}
			}
			sh.neg[body] = negative{reason: ReasonUnknown, expires: now + int64(v.negTTL)}
		}
		return e, err
	})
	r, err := await(ctx, ch)
	if err != nil {
		return nil, err
	}
	return r.(*entry), nil
}

// await waits for a store read shared through v.loads (DoChan) or started by direct, or for
// ctx, whichever comes first. Every store read on the verify path goes through it, so that a
// verification returns by its caller's deadline whatever the store's client does with ctx
// (go-redis, for one, ignores deadlines unless ContextTimeoutEnabled is set), and so that an
// answer that arrives once the deadline has passed is not acted on: it is an error, never an
// accept.
func await(ctx context.Context, ch <-chan singleflight.Result) (any, error) {
	select {
	case r := <-ch:
		if err := ctx.Err(); err != nil {
			return nil, err // too late to act on, whatever it says
		}
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// direct runs a read of the store on its own goroutine, with the caller's ctx, and awaits it.
func (v *Verifier) direct(ctx context.Context, read func(context.Context) (*entry, error)) (*entry, error) {
	ch := make(chan singleflight.Result, 1)
	go func() {
		e, err := read(ctx)
		ch <- singleflight.Result{Val: e, Err: err}
	}()
	r, err := await(ctx, ch)
	if err != nil {
		return nil, err
	}
	return r.(*entry), nil
}

// fetch reads a token credential and its owner in one store read. With share, the owner entry
// is the shared one (cached); without, it is private to the result.
func (v *Verifier) fetch(ctx context.Context, credID string, share bool) (*entry, error) {
	return v.load(ctx, share, func(r store.Reader) (store.Credential, store.Owner, error) {
		return r.CredentialAuth(ctx, credID)
	})
}

// fetchSSH reads an SSH credential by fingerprint, then it and its owner. share is as for
// fetch.
func (v *Verifier) fetchSSH(ctx context.Context, fp [sha256.Size]byte, share bool) (*entry, error) {
	return v.load(ctx, share, func(r store.Reader) (store.Credential, store.Owner, error) {
		c, err := r.CredentialByFingerprint(ctx, fingerprintString(fp))
		if err != nil {
			return c, store.Owner{}, err
		}
		return r.CredentialAuth(ctx, c.ID)
	})
}

// load runs read in a View and makes a cache entry of what it found.
func (v *Verifier) load(ctx context.Context, share bool, read func(store.Reader) (store.Credential, store.Owner, error)) (*entry, error) {
	var (
		c store.Credential
		o store.Owner
	)
	v.owners.mu.Lock()
	epoch := v.owners.epoch // read before the store: a change applied after it is not missed
	v.owners.mu.Unlock()
	err := v.st.View(ctx, func(r store.Reader) error {
		var err error
		c, o, err = read(r)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ReasonUnknown
	}
	if err != nil {
		return nil, err
	}
	return v.newEntry(c, o, epoch, share)
}

func (v *Verifier) newEntry(c store.Credential, so store.Owner, ownerEpoch uint64, share bool) (*entry, error) {
	acl, shared, err := v.acls.get(c.ACL)
	if err != nil {
		// Stored ACLs were validated on write; one that no longer parses allows nothing.
		if v.logger != nil {
			v.logger.Error("credential verifier: stored ACL does not parse", "credential_id", c.ID, "err", err)
		}
		return nil, ReasonUnavailable
	}
	kind, ok := codeOf(c.Kind)
	if !ok || len(c.ID) > math.MaxUint16 {
		return nil, ReasonUnavailable
	}
	e := &entry{text: c.ID, idLen: uint16(len(c.ID)), kind: kind, shared: shared}
	if shared == nil && acl.enc != "" {
		e.text = c.ID + acl.enc
	}
	if err := v.addMore(e, c); err != nil {
		return nil, err
	}
	if c.Kind == store.SSHCredential {
		fp, ok := parseFingerprint(c.Fingerprint)
		if !ok {
			return nil, ReasonUnavailable
		}
		e.hash = fp
	} else if e.hash, err = ParseSecretHash(c.SecretHash); err != nil {
		return nil, ReasonUnavailable
	}
	if !c.ExpiresAt.IsZero() {
		e.expires = c.ExpiresAt.UnixNano()
	}
	if share {
		e.owner.Store(v.owners.get(ownerKey{c.AccountID, c.OwnerID}, so, ownerEpoch))
	} else {
		e.owner.Store(newOwner(ownerKey{c.AccountID, c.OwnerID}, so))
	}
	return e, nil
}

// addMore gives e the allow-list and scope of c, if it has either.
func (v *Verifier) addMore(e *entry, c store.Credential) error {
	if len(c.AllowedIPs) == 0 && c.Kind != store.AccessToken {
		return nil
	}
	e.more = &entryMore{}
	if len(c.AllowedIPs) > 0 {
		allow, err := ParseAllowList(c.AllowedIPs)
		if err != nil { // the store validated it: a list that no longer parses allows nothing
			if v.logger != nil {
				v.logger.Error("credential verifier: stored allow-list does not parse", "credential_id", c.ID, "err", err)
			}
			return ReasonUnavailable
		}
		e.more.allow = allow
	}
	if c.Kind == store.AccessToken {
		e.more.scope = v.compileScope(c)
	}
	return nil
}

// compileScope compiles an access token's scope names with the Verifier's registry. A name
// the registry does not hold (a permission no longer registered, or a registry other than
// the Service's) allows nothing.
func (v *Verifier) compileScope(c store.Credential) identity.Scope {
	var set rbac.Set
	for _, name := range c.Scopes {
		p, err := v.perms.Lookup(name)
		if err != nil {
			if v.logger != nil {
				v.logger.Warn("credential verifier: an access token's scope is not a registered permission; it allows nothing",
					"credential_id", c.ID, "scope", name)
			}
			continue
		}
		set = set.With(p)
	}
	return identity.ScopeOf(set)
}

// newOwner returns an owner entry for k as the store reported it.
func newOwner(k ownerKey, so store.Owner) *owner {
	o := &owner{accountID: k.accountID, id: k.id, bot: so.Bot, subject: so.Subject}
	o.state.Store(int32(so.State))
	return o
}

// get returns the shared owner entry for k, creating it from so unless an owner change was
// applied since ownerEpoch was read, in which case the entry is private and stale.
func (os *owners) get(k ownerKey, so store.Owner, epoch uint64) *owner {
	os.mu.Lock()
	defer os.mu.Unlock()
	if o := os.m[k]; o != nil {
		return o
	}
	o := newOwner(k, so)
	if os.epoch != epoch {
		o.state.Store(ownerStale)
		return o
	}
	os.m[k] = o
	return o
}

// reloadOwner replaces a stale owner entry with a fresh one, one store read per owner for all
// concurrent callers. It reads the owner through e's credential (store.Reader.CredentialAuth),
// which also tells its kind and subject; a credential gone meanwhile is ReasonUnknown.
func (v *Verifier) reloadOwner(ctx context.Context, e *entry, stale *owner) (*owner, error) {
	key := "owner\x00" + stale.accountID + "\x00" + stale.id
	ch := v.loads.DoChan(key, func() (any, error) {
		v.owners.mu.Lock()
		epoch := v.owners.epoch
		v.owners.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.loadLimit)
		defer cancel()
		var so store.Owner
		err := v.st.View(lctx, func(r store.Reader) error {
			var err error
			_, so, err = r.CredentialAuth(lctx, e.id())
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil, ReasonUnknown
		}
		if err != nil {
			return nil, err
		}
		return v.owners.get(ownerKey{stale.accountID, stale.id}, so, epoch), nil
	})
	r, err := await(ctx, ch)
	if err != nil {
		return nil, err
	}
	o := r.(*owner)
	e.owner.CompareAndSwap(stale, o)
	return o, nil
}

// verifyDirect verifies against the store without the cache, touching no shared state.
func (v *Verifier) verifyDirect(ctx context.Context, tok Token, sum [sha256.Size]byte, now int64, addr netip.Addr) (Result, error) {
	credID := tok.CredentialID()
	e, err := v.direct(ctx, func(ctx context.Context) (*entry, error) { return v.fetch(ctx, credID, false) })
	if err != nil {
		return v.rejectErr(err)
	}
	if e.kind.kind() != tok.Kind() {
		return v.reject(ReasonUnknown)
	}
	return v.check(ctx, e, sum, now, addr)
}

// FlushUsage writes the last uses (times and addresses) queued since the previous flush. Run
// calls it periodically; call it yourself before shutting down if you do not use Run.
func (v *Verifier) FlushUsage(ctx context.Context) {
	v.pendingMu.Lock()
	uses := v.pending
	v.pending = nil
	v.pendingMu.Unlock()
	if len(uses) == 0 {
		return
	}
	if err := v.st.RecordUse(ctx, uses); err != nil && v.logger != nil {
		v.logger.Warn("credential verifier: recording last-used times failed", "count", len(uses), "err", err)
	}
}

// firstRevokedRejection reports, once, how long after its revocation was committed a revoked
// token was first rejected (WithRevocationObserver).
func (v *Verifier) firstRevokedRejection(ctx context.Context, sh *shard, body string) {
	sh.mu.Lock()
	neg, ok := sh.neg[body]
	if ok && neg.revoked != 0 {
		sh.neg[body] = negative{reason: neg.reason, expires: neg.expires}
	}
	sh.mu.Unlock()
	if ok && neg.revoked != 0 {
		v.onRevoked(ctx, time.Duration(v.clock.Now().UnixNano()-neg.revoked))
	}
}

// Stats returns the verifier's counters and the sizes of its caches (which it counts under
// each shard's lock: read them at a scrape's pace, not per request).
func (v *Verifier) Stats() Stats {
	s := Stats{Rejections: map[Reason]uint64{}, Flushes: v.flushes.Load()}
	for i := range v.shards {
		sh := &v.shards[i]
		s.Hits += sh.hits.Load()
		s.Misses += sh.misses.Load()
		s.Invalidations += sh.invalid.Load()
		sh.mu.RLock()
		s.Cached += len(sh.creds) + len(sh.ssh)
		s.Negative += len(sh.neg)
		sh.mu.RUnlock()
	}
	v.owners.mu.Lock()
	s.Owners = len(v.owners.m)
	v.owners.mu.Unlock()
	for r := Reason(1); int(r) < numReasons; r++ {
		if n := v.rejections[r].Load(); n > 0 {
			s.Rejections[r] = n
		}
	}
	return s
}

// feedHandler applies the change feed to a Verifier's cache.
type feedHandler Verifier

// Apply drops what a commit changed.
func (h *feedHandler) Apply(c store.Commit) {
	v := (*Verifier)(h)
	var deletedOwners map[ownerKey]bool
	for _, ch := range c.Changes {
		if ch.Kind == store.KindTombstone && ch.Op == store.OpPut {
			v.markOwnerGone(ownerKey{ch.AccountID, ch.ID})
		}
	}
	for _, ch := range c.Changes {
		switch ch.Kind {
		case store.KindUser:
			// A user's email is the subject of its owner entries, in every account.
			v.invalidateOwnerInAllAccounts(ch.ID)
		case store.KindBotUser, store.KindMembership:
			k := ownerKey{ch.AccountID, ch.ID}
			v.invalidateOwner(k)
			if ch.Op == store.OpDelete {
				if deletedOwners == nil {
					deletedOwners = map[ownerKey]bool{}
				}
				deletedOwners[k] = true
			}
		}
	}
	var committed int64
	if v.onRevoked != nil && !c.Committed.IsZero() {
		committed = c.Committed.UnixNano()
	}
	for _, ch := range c.Changes {
		if ch.Kind == store.KindCredential {
			v.invalidateCredential(ch.ID, ch.Op == store.OpDelete, deletedOwners, committed)
		}
	}
}

// Flush drops everything.
func (h *feedHandler) Flush() {
	v := (*Verifier)(h)
	v.flushes.Add(1)
	for i := range v.shards {
		sh := &v.shards[i]
		sh.mu.Lock()
		sh.epoch++
		clear(sh.creds)
		clear(sh.ssh)
		clear(sh.neg)
		sh.mu.Unlock()
	}
	v.owners.mu.Lock()
	v.owners.epoch++
	for k, o := range v.owners.m {
		o.state.Store(ownerStale)
		delete(v.owners.m, k)
	}
	v.owners.mu.Unlock()
}

// markOwnerGone records that an owner was removed, so that the purge of its credentials,
// later, is not taken for revocations.
func (v *Verifier) markOwnerGone(k ownerKey) {
	v.owners.mu.Lock()
	if o := v.owners.m[k]; o != nil {
		o.gone.Store(true)
	}
	v.owners.mu.Unlock()
}

// invalidateOwnerInAllAccounts drops the owner entries of ownerID in every account.
func (v *Verifier) invalidateOwnerInAllAccounts(ownerID string) {
	v.owners.mu.Lock()
	v.owners.epoch++
	for k, o := range v.owners.m {
		if k.id == ownerID {
			o.state.Store(ownerStale)
			delete(v.owners.m, k)
		}
	}
	v.owners.mu.Unlock()
}

// invalidateOwner drops the owner entry k: stale, to be read again, or removed when the same
// commit wrote its tombstone (markOwnerGone).
func (v *Verifier) invalidateOwner(k ownerKey) {
	v.owners.mu.Lock()
	v.owners.epoch++
	if o := v.owners.m[k]; o != nil {
		if o.gone.Load() {
			o.state.Store(ownerRemoved)
		} else {
			o.state.Store(ownerStale)
		}
		delete(v.owners.m, k)
	}
	v.owners.mu.Unlock()
}

// invalidateCredential drops a credential from the cache. A credential deleted on its own is
// remembered as revoked for the negative-cache TTL, with the time its revocation was
// committed (0: unknown); one deleted with its owner, or purged after its owner was removed,
// is not.
func (v *Verifier) invalidateCredential(credID string, deleted bool, deletedOwners map[ownerKey]bool, committed int64) {
	body := id.Body(credID)
	sh := &v.shards[maphash.String(v.seed, body)%numShards]
	sh.mu.Lock()
	sh.epoch++
	if e := sh.creds[body]; e != nil {
		delete(sh.creds, body)
		sh.invalid.Add(1)
		if o := e.owner.Load(); deleted && !o.gone.Load() && !deletedOwners[ownerKey{o.accountID, o.id}] {
			sh.neg[body] = negative{reason: ReasonRevoked, expires: v.now() + int64(v.negTTL), revoked: committed}
		}
	} else {
		delete(sh.neg, body)
	}
	sh.mu.Unlock()
	v.sshMu.Lock()
	fp, isSSH := v.sshIDs[credID]
	delete(v.sshIDs, credID)
	v.sshMu.Unlock()
	if isSSH {
		sh := &v.shards[int(fp[0])%numShards]
		sh.mu.Lock()
		sh.epoch++
		if sh.ssh[fp] != nil {
			delete(sh.ssh, fp)
			sh.invalid.Add(1)
		}
		sh.mu.Unlock()
	}
}

// fingerprintString is the store's form of an SSH key fingerprint, as ssh.FingerprintSHA256
// writes it.
func fingerprintString(fp [sha256.Size]byte) string {
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(fp[:])
}

// parseFingerprint is the inverse of fingerprintString.
func parseFingerprint(s string) ([sha256.Size]byte, bool) {
	var fp [sha256.Size]byte
	b64, ok := strings.CutPrefix(s, "SHA256:")
	if !ok || base64.RawStdEncoding.DecodedLen(len(b64)) != sha256.Size {
		return fp, false
	}
	n, err := base64.RawStdEncoding.Decode(fp[:], []byte(b64))
	return fp, err == nil && n == sha256.Size
}
