package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Options is what the suite hands the adapter's factory.
type Options struct {
	// Now is the only clock the store may read (single-use key expiry, etc.). It is a fake
	// clock that the suite advances by hand.
	Now func() time.Time
	// FeedRetention is how many commits per shard the store's change feed must retain at
	// least and, for the gap tests, not many more than (approximate trimming is fine: the
	// suite writes 20 times more to force a gap).
	FeedRetention int
}

// NewStore returns a fresh, empty store for one subtest; the factory registers its own
// cleanup (t.Cleanup). One subtest closes its store itself, so that cleanup must tolerate a
// store that is already closed.
type NewStore func(t *testing.T, o Options) store.Store

// Run runs every conformance test against stores made by newStore. Each subtest gets its
// own store, its own fake clock, and runs in parallel with the others; run it under the race
// detector.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	groups := []struct {
		name string
		run  func(*testing.T, NewStore)
	}{
		{"CRUD", testCRUD},
		{"Validation", testValidation},
		{"Pagination", testPagination},
		{"UniqueKeys", testUniqueKeys},
		{"Lookups", testLookups},
		{"Owners", testOwners},
		{"Cascades", testCascades},
		{"Transactions", testTransactions},
		{"Context", testContext},
		{"Concurrency", testConcurrency},
		{"ChangeFeed", testChangeFeed},
		{"SingleUse", testSingleUse},
		{"RecordUse", testRecordUse},
		{"ExternalIdentities", testExternalIdentities},
		{"SignIn", testSignIn},
		{"Streams", testStreams},
		{"Domains", testDomains},
		{"OIDCProvider", testOIDCProvider},
		{"IPRestrictions", testIPRestrictions},
		{"Retention", testRetention},
		{"Close", testClose},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newStore)
		})
	}
}

const (
	// defaultRetention is the feed retention of every subtest but the gap test: more
	// commits than any of them writes, so that none of them sees a gap.
	defaultRetention = 1000
	// waitTimeout bounds every wait on the change feed, so that a broken adapter fails a
	// subtest instead of hanging the run.
	waitTimeout = 10 * time.Second
	// blockWait is how long a Changes call must stay blocked to count as blocked.
	blockWait = 100 * time.Millisecond
)

// epoch is where every subtest's clocks start: UTC, microsecond precision, so that times
// survive a JSON round trip unchanged.
var epoch = time.Date(2025, time.March, 14, 15, 9, 26, 535897000, time.UTC)

// fakeClock is a mutex-guarded manual clock. When step is non-zero every reading advances it
// by step, so that IDs made from it sort by creation even without the Generator's
// monotonic entropy.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// Now returns the fake time, then advances it by step.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is one subtest's world: its store, its clock and its ID generator. Its helpers fail
// the test, so they must only be called from the subtest's own goroutine.
type env struct {
	t     *testing.T
	ctx   context.Context
	s     store.Store
	clock *fakeClock // the store's clock (Options.Now)
	ids   *id.Generator

	owners     map[string]string // account ID -> a bot user that can own credentials there
	sharedUser string            // a user that pagination seeds make a member of several accounts
}

// leaf runs f as a parallel subtest named name with a fresh store.
func leaf(t *testing.T, name string, ns NewStore, f func(e *env)) {
	t.Helper()
	leafWith(t, name, ns, defaultRetention, f)
}

// leafWith is leaf with a chosen feed retention.
func leafWith(t *testing.T, name string, ns NewStore, retention int, f func(e *env)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(newEnv(t, ns, retention))
	})
}

func newEnv(t *testing.T, ns NewStore, retention int) *env {
	t.Helper()
	clk := &fakeClock{now: epoch}
	idClock := &fakeClock{now: epoch, step: time.Millisecond}
	// Deterministic randomness per subtest, so a failure reproduces with the same IDs.
	rnd := rand.NewChaCha8(sha256.Sum256([]byte(t.Name())))
	e := &env{
		t:      t,
		ctx:    t.Context(),
		clock:  clk,
		ids:    id.NewGenerator(idClock, rnd),
		owners: map[string]string{},
	}
	e.s = ns(t, Options{Now: clk.Now, FeedRetention: retention})
	if e.s == nil {
		t.Fatal("NewStore returned a nil store")
	}
	return e
}

// now is the store clock's time, in the form every stored time takes.
func (e *env) now() time.Time { return e.clock.Now().UTC().Truncate(time.Microsecond) }

func (e *env) newID(p id.Prefix) string {
	e.t.Helper()
	v, err := e.ids.New(p)
	if err != nil {
		e.t.Fatalf("id.New(%s): %v", p, err)
	}
	return v
}

func (e *env) newIDIn(p id.Prefix, accountID string) string {
	e.t.Helper()
	v, err := e.ids.NewIn(p, accountID)
	if err != nil {
		e.t.Fatalf("id.NewIn(%s, %s): %v", p, accountID, err)
	}
	return v
}

// update runs fn in an Update and fails the test if it returns an error.
func (e *env) update(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.s.Update(e.ctx, fn); err != nil {
		e.t.Fatalf("Update: %v", err)
	}
}

// tryUpdate runs fn in an Update and returns its error.
func (e *env) tryUpdate(fn func(tx store.Tx) error) error {
	return e.s.Update(e.ctx, fn)
}

// read runs f in a View and returns its result.
func read[T any](e *env, f func(r store.Reader) (T, error)) (T, error) {
	var v T
	err := e.s.View(e.ctx, func(r store.Reader) error {
		var err error
		v, err = f(r)
		return err
	})
	return v, err
}

// mustRead runs f in a View and fails the test on error.
func mustRead[T any](e *env, f func(r store.Reader) (T, error)) T {
	e.t.Helper()
	v, err := read(e, f)
	if err != nil {
		e.t.Fatalf("View: %v", err)
	}
	return v
}

// suffix is a lower-case, unique-per-ID string for names and emails.
func suffix(recID string) string {
	body := id.Body(recID)
	if len(body) > id.BodyLen-id.TagLen {
		body = body[:id.BodyLen-id.TagLen]
	}
	return strings.ToLower(body)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func fingerprintOf(s string) string {
	sum := sha256.Sum256([]byte("ssh:" + s))
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Record builders. They return records that are valid but not stored.

func (e *env) newAccount() store.Account {
	e.t.Helper()
	acct := e.newID(id.Account)
	return store.Account{
		ID:   acct,
		Name: "Acme " + suffix(acct),
		Plan: "pro",
		SSO: store.SSOSettings{
			Provisioning: "jit",
			Enforcement:  "mixed",
			Since:        e.now().Add(-time.Hour),
		},
		Seats: 5,
		CredentialPolicy: store.CredentialPolicy{
			AccessTokenMaxLifetime: 90 * 24 * time.Hour,
			MaxRotationOverlap:     24 * time.Hour,
		},
		CreatedAt: e.now(),
	}
}

func (e *env) newUser() store.User {
	e.t.Helper()
	u := e.newID(id.User)
	return store.User{ID: u, Email: "u-" + suffix(u) + "@example.com", Name: "User " + suffix(u), CreatedAt: e.now()}
}

func (e *env) newMembership(accountID, userID, status string) store.Membership {
	return store.Membership{
		AccountID: accountID,
		UserID:    userID,
		Roles:     []string{"admin", "developer"},
		Status:    status,
		CreatedAt: e.now(),
		UpdatedAt: e.now(),
	}
}

func (e *env) newInvitation(accountID string) store.Invitation {
	e.t.Helper()
	inv := e.newIDIn(id.Invitation, accountID)
	return store.Invitation{
		ID:        inv,
		AccountID: accountID,
		Email:     "inv-" + suffix(inv) + "@example.com",
		Roles:     []string{"developer"},
		InvitedBy: "usr_inviter",
		ExpiresAt: e.now().Add(7 * 24 * time.Hour),
		CreatedAt: e.now(),
		TokenHash: hashOf("invitation token " + inv),
	}
}

func (e *env) newBot(accountID string) store.BotUser {
	e.t.Helper()
	b := e.newIDIn(id.BotUser, accountID)
	return store.BotUser{
		ID:        b,
		AccountID: accountID,
		Name:      "bot-" + suffix(b),
		Active:    true,
		Roles:     []string{"bot", "deployer"},
		CreatedAt: e.now(),
	}
}

func credPrefix(k store.CredentialKind) id.Prefix {
	switch k {
	case store.APIKey:
		return id.APIKey
	case store.AccessToken:
		return id.AccessToken
	case store.SSHCredential:
		return id.SSHCredential
	}
	return id.Authtoken
}

func (e *env) newCred(accountID, ownerID string, kind store.CredentialKind) store.Credential {
	e.t.Helper()
	c := e.newIDIn(credPrefix(kind), accountID)
	cr := store.Credential{
		ID:          c,
		AccountID:   accountID,
		Kind:        kind,
		OwnerID:     ownerID,
		Description: "credential " + suffix(c),
		Metadata:    `{"env":"test"}`,
		ACL:         []string{"bind:*.example.com", "bind:api.example.com"},
		AllowedIPs:  []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"},
		ExpiresAt:   e.now().Add(90 * 24 * time.Hour),
		CreatedAt:   e.now(),
	}
	if kind == store.AccessToken {
		cr.Scopes = []string{"credentials:read", "tunnel:start"}
	}
	if kind == store.SSHCredential {
		cr.PublicKey = "ssh-ed25519 " + base64.StdEncoding.EncodeToString([]byte(c)) + " test@example"
		cr.Fingerprint = fingerprintOf(c)
	} else {
		cr.SecretHash = hashOf(c)
	}
	return cr
}

func (e *env) newRole(accountID string) store.Role {
	e.t.Helper()
	r := e.newIDIn(id.Role, accountID)
	return store.Role{
		ID:          r,
		AccountID:   accountID,
		Name:        "role-" + suffix(r),
		Description: "a custom role",
		Permissions: []string{"bot_users:read", "credentials:write"},
		CreatedAt:   e.now(),
	}
}

func (e *env) newIdP(accountID string) store.IdentityProvider {
	e.t.Helper()
	p := e.newIDIn(id.IdentityProvider, accountID)
	return store.IdentityProvider{
		ID:                p,
		AccountID:         accountID,
		Description:       "Okta",
		EntityID:          "https://idp.example.com/" + suffix(p),
		MetadataXML:       `<EntityDescriptor entityID="https://idp.example.com/"/>`,
		AllowIDPInitiated: true,
		DefaultRoles:      []string{"developer"},
		EmailAttribute:    "email",
		NameAttribute:     "name",
		GroupsAttribute:   "groups",
		RoleRules: []store.RoleRule{
			{Group: "Engineering", Roles: []string{"developer"}},
			{Group: "IT Admins", Roles: []string{"admin", "team_manager"}},
		},
		RoleRulesBy: "usr_author",
		CreatedAt:   e.now(),
	}
}

func (e *env) newGroup(accountID string) store.Group {
	e.t.Helper()
	g := e.newIDIn(id.Group, accountID)
	return store.Group{
		ID:          g,
		AccountID:   accountID,
		DisplayName: "group-" + suffix(g),
		ExternalID:  "00g1emaKYZTWRYYRRTSK",
		Members:     []string{"usr_one", "usr_two"},
		CreatedAt:   e.now(),
		UpdatedAt:   e.now(),
	}
}

func (e *env) newEvent(accountID string) store.Event {
	e.t.Helper()
	ev := e.newIDIn(id.Event, accountID)
	obj, err := json.Marshal(map[string]string{"id": ev, "name": "deploy"})
	if err != nil {
		e.t.Fatal(err)
	}
	return store.Event{
		ID:        ev,
		AccountID: accountID,
		Type:      "bot_user_created.v0",
		Principal: store.Principal{ID: "usr_actor", Subject: "actor@example.com", Source: "api", CredentialID: "ak_used"},
		Object:    obj,
		CreatedAt: e.now(),
	}
}

// Stored-record helpers: each writes one record in its own Update.

func (e *env) putAccount() string {
	e.t.Helper()
	a := e.newAccount()
	e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
	return a.ID
}

func (e *env) putUser() store.User {
	e.t.Helper()
	u := e.newUser()
	e.update(func(tx store.Tx) error { return tx.PutUser(e.ctx, u) })
	return u
}

func (e *env) putMember(accountID, userID, status string) store.Membership {
	e.t.Helper()
	m := e.newMembership(accountID, userID, status)
	e.update(func(tx store.Tx) error { return tx.PutMembership(e.ctx, m) })
	return m
}

// putMemberUser creates a user and makes it a member of accountID.
func (e *env) putMemberUser(accountID, status string) store.User {
	e.t.Helper()
	u := e.putUser()
	e.putMember(accountID, u.ID, status)
	return u
}

func (e *env) putBot(accountID string, active bool) store.BotUser {
	e.t.Helper()
	b := e.newBot(accountID)
	b.Active = active
	e.update(func(tx store.Tx) error { return tx.PutBotUser(e.ctx, b) })
	return b
}

func (e *env) putCred(accountID, ownerID string, kind store.CredentialKind) store.Credential {
	e.t.Helper()
	c := e.newCred(accountID, ownerID, kind)
	e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
	return c
}

// owner returns a bot user of accountID that credentials can name as owner, creating it the
// first time.
func (e *env) owner(accountID string) string {
	e.t.Helper()
	if o, ok := e.owners[accountID]; ok {
		return o
	}
	o := e.putBot(accountID, true).ID
	e.owners[accountID] = o
	return o
}

// Change-feed helpers.

func (e *env) head() store.Cursor {
	e.t.Helper()
	c, err := e.s.Head(e.ctx)
	if err != nil {
		e.t.Fatalf("Head: %v", err)
	}
	return c
}

// commits waits for exactly n commits after cursor and returns them with the cursor after
// the last. It fails on a gap, on a timeout, and when more than n commits arrive.
func (e *env) commits(after store.Cursor, n int) ([]store.Commit, store.Cursor) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
	defer cancel()
	var got []store.Commit
	for len(got) < n {
		b, err := e.s.Changes(ctx, after)
		if err != nil {
			e.t.Fatalf("Changes after %d of %d expected commits: %v", len(got), n, err)
		}
		if b.Gap {
			e.t.Fatalf("Changes reported a gap after %d of %d expected commits", len(got), n)
		}
		got = append(got, b.Commits...)
		after = b.Next
	}
	if len(got) > n {
		e.t.Fatalf("Changes returned %d commits, want %d:\n%s", len(got), n, formatCommits(got))
	}
	return got, after
}

// expectNoCommitSince checks that nothing was committed in accountID's shard after cursor:
// it writes a marker record in accountID and checks that the first commit after cursor is
// the marker's.
func (e *env) expectNoCommitSince(after store.Cursor, accountID, what string) {
	e.t.Helper()
	marker := e.newRole(accountID)
	marker.Name = "marker-" + suffix(marker.ID)
	e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, marker) })
	got, _ := e.commits(after, 1)
	want := []store.Change{{Kind: store.KindRole, Op: store.OpPut, AccountID: accountID, ID: marker.ID}}
	if d := cmp.Diff(want, sortedChanges(got[0].Changes)); d != "" {
		e.t.Errorf("%s produced a commit: the first commit after it is not the marker written next (-want +got):\n%s", what, d)
	}
}

func sortedChanges(cs []store.Change) []store.Change {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b store.Change) int {
		return strings.Compare(string(a.Kind)+" "+string(a.Op)+" "+a.ID, string(b.Kind)+" "+string(b.Op)+" "+b.ID)
	})
	return cs
}

func formatCommits(cs []store.Commit) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("  shard=" + c.Shard + " changes=")
		for i, ch := range c.Changes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(string(ch.Op) + " " + string(ch.Kind) + " " + ch.ID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Assertions.

// cmpOpts treat nil and empty slices alike: whether an adapter keeps the difference (a JSON
// round trip does not always) is not part of the contract. Addresses compare with ==.
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want one matching %v", what, err, target)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	wantIs(t, what, err, store.ErrNotFound)
}

func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("%s: got error %v, want one matching store.ErrInvalid", what, err)
		return
	}
	if field == "" {
		return
	}
	var ie *store.Error
	if !errors.As(err, &ie) {
		t.Errorf("%s: error %v is not a *store.Error", what, err)
		return
	}
	if ie.Field != field {
		t.Errorf("%s: Error.Field = %q, want %q (error: %v)", what, ie.Field, field, err)
	}
}

func wantConflict(t *testing.T, what string, err error, kind store.Kind, index string) {
	t.Helper()
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("%s: got error %v, want one matching store.ErrConflict", what, err)
		return
	}
	var ce *store.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: error %v is not a *store.Error", what, err)
		return
	}
	if ce.Code != store.CodeAlreadyExists || ce.Field != index {
		t.Errorf("%s: Error{Code: %q, Field: %q}, want {%q, %q} (a %s)", what, ce.Code, ce.Field, store.CodeAlreadyExists, index, kind)
	}
}

func wantImmutable(t *testing.T, what string, err error, kind store.Kind, field string) {
	t.Helper()
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("%s: got error %v, want one matching store.ErrInvalid", what, err)
		return
	}
	var ie *store.Error
	if !errors.As(err, &ie) {
		t.Errorf("%s: error %v is not a *store.Error", what, err)
		return
	}
	if ie.Code != store.CodeImmutable || ie.Field != field {
		t.Errorf("%s: Error{Code: %q, Field: %q}, want {%q, %q} (a %s)", what, ie.Code, ie.Field, store.CodeImmutable, field, kind)
	}
}

func wantNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// reversed returns a reversed copy of s.
func reversed[T any](s []T) []T {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}
