package redisstore_test

import (
	"crypto/rand"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestDanglingPointers checks the reservation semantics of global unique keys against
// pointers left behind by commits that never happened (a crash between the SET NX claim
// and the EXEC): lookups ignore them, a claim whose lease has passed is taken over, and one
// still within its lease (a commit possibly in flight) is respected.
func TestDanglingPointers(t *testing.T) {
	srv := sharedServer(t)
	client := newClient(t, srv)
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	s, err := redisstore.New(t.Context(), client, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	ghost, _ := ids.New(id.User)
	lease := func(d time.Duration) string {
		return ghost + "|" + strconv.FormatInt(time.Now().Add(d).UnixMilli(), 10) + "|crashed"
	}
	putUser := func(email string) error {
		u, _ := ids.New(id.User)
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.PutUser(ctx, store.User{ID: u, Email: email})
		})
	}

	// A stale claim: ignored by lookups, taken over by a new user.
	client.Set(ctx, prefix+":u:user:email:old@example.com", lease(-time.Minute), 0)
	err = s.View(ctx, func(r store.Reader) error { _, err := r.UserByEmail(ctx, "old@example.com"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail through a dangling pointer: %v, want ErrNotFound", err)
	}
	if err := putUser("old@example.com"); err != nil {
		t.Errorf("claiming an email whose stale pointer names no user: %v", err)
	}
	err = s.View(ctx, func(r store.Reader) error { _, err := r.UserByEmail(ctx, "old@example.com"); return err })
	if err != nil {
		t.Errorf("UserByEmail after the take-over: %v", err)
	}

	// A claim within its lease may be a commit in flight: it is a conflict until it ends.
	client.Set(ctx, prefix+":u:user:email:new@example.com", lease(time.Minute), 0)
	if err := putUser("new@example.com"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("claiming an email under a live lease: %v, want ErrConflict", err)
	}

	// A committed user's email is a conflict: its pointer names a record that holds it.
	if err := putUser("old@example.com"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second user with a taken email: %v, want ErrConflict", err)
	}
}

// TestAccountKey covers the Global unique index of accounts by the embedder's key, which the
// conformance suite does not exercise: lookups, a second holder refused, a changed or
// removed key freed.
func TestAccountKey(t *testing.T) {
	srv := sharedServer(t)
	ctx := t.Context()
	s, err := redisstore.New(ctx, newClient(t, srv), redisstore.WithPrefix(srv.Prefix+":"+redistest.UniquePrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	a1, _ := ids.New(id.Account)
	a2, _ := ids.New(id.Account)
	put := func(acct, key string) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Account{ID: acct, Name: "n", Key: key}) })
	}
	byKey := func(key string) (string, error) {
		var got string
		err := s.View(ctx, func(r store.Reader) error {
			a, err := r.AccountByKey(ctx, key)
			got = a.ID
			return err
		})
		return got, err
	}
	steps := []struct {
		name     string
		acct     string
		key      string
		wantPut  error // a sentinel, or nil
		lookups  map[string]string
		notFound []string
	}{
		{name: "first", acct: a1, key: "tenant-1", lookups: map[string]string{"tenant-1": a1}},
		{name: "taken", acct: a2, key: "tenant-1", wantPut: store.ErrConflict, lookups: map[string]string{"tenant-1": a1}},
		{name: "rekeyed", acct: a1, key: "tenant-9", lookups: map[string]string{"tenant-9": a1}, notFound: []string{"tenant-1"}},
		{name: "old_key_free", acct: a2, key: "tenant-1", lookups: map[string]string{"tenant-1": a2, "tenant-9": a1}},
		{name: "key_removed", acct: a1, key: "", notFound: []string{"tenant-9"}},
		{name: "removed_key_free", acct: a2, key: "tenant-9", lookups: map[string]string{"tenant-9": a2}, notFound: []string{"tenant-1"}},
	}
	for _, st := range steps {
		err := put(st.acct, st.key)
		if st.wantPut == nil && err != nil || st.wantPut != nil && !errors.Is(err, st.wantPut) {
			t.Fatalf("%s: PutAccount(key %q) = %v, want %v", st.name, st.key, err, st.wantPut)
		}
		for key, want := range st.lookups {
			if got, err := byKey(key); err != nil || got != want {
				t.Errorf("%s: AccountByKey(%q) = %q, %v; want %q", st.name, key, got, err, want)
			}
		}
		for _, key := range st.notFound {
			if _, err := byKey(key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: AccountByKey(%q) = %v, want ErrNotFound", st.name, key, err)
			}
		}
	}
}

// TestDanglingListEntries fills a user's Global membership index with entries that no
// record confirms (left by commits that never happened, or not yet removed): listings skip
// them and still fill their pages, and Count ignores them.
func TestDanglingListEntries(t *testing.T) {
	srv := sharedServer(t)
	client := newClient(t, srv)
	ctx := t.Context()
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	b, err := redisstore.NewBackend(ctx, client, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := store.New(b)
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	user, _ := ids.New(id.User)
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutUser(ctx, store.User{ID: user, Email: "u@example.com"}) }); err != nil {
		t.Fatal(err)
	}
	var want []string // primary keys of the real memberships, descending
	var ghosts []redis.Z
	for i := range 5 {
		acct, _ := ids.New(id.Account)
		ghost, _ := ids.New(id.Account)
		ghosts = append(ghosts, redis.Z{Member: store.JoinKey(ghost, user)})
		if i%2 == 0 { // a ghost membership of an existing account, with another status
			ghosts = append(ghosts, redis.Z{Member: store.JoinKey(acct, user+"x")})
		}
		if err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutAccount(ctx, store.Account{ID: acct, Name: "a"}); err != nil {
				return err
			}
			return tx.PutMembership(ctx, store.Membership{AccountID: acct, UserID: user, Status: store.MemberActive})
		}); err != nil {
			t.Fatal(err)
		}
		want = append([]string{store.JoinKey(acct, user)}, want...)
	}
	if err := client.ZAdd(ctx, prefix+":l:membership:user:"+user, ghosts...).Err(); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 2, 3, 100} {
		var got []string
		p := store.Page{Limit: limit}
		for range 20 {
			var page []any
			err := b.View(ctx, func(ops store.Ops) error {
				var err error
				page, err = ops.List(ctx, store.KindMembership, store.IndexUser, []string{user}, p)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range page {
				m := rec.(store.Membership)
				got = append(got, store.JoinKey(m.AccountID, m.UserID))
			}
			if len(page) < limit {
				break
			}
			p.BeforeID = got[len(got)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("walking pages of %d: %v, want %v", limit, got, want)
		}
	}
	var n int
	if err := b.View(ctx, func(ops store.Ops) error {
		var err error
		n, err = ops.Count(ctx, store.KindMembership, store.IndexUser, []string{user})
		return err
	}); err != nil || n != len(want) {
		t.Errorf("Count of the user's memberships = %d, %v; want %d", n, err, len(want))
	}
}

// TestFailedPutLeavesNothing checks that a Put refused for a unique index buffers nothing:
// a transaction that goes on and commits after the refusal lists no trace of it.
func TestFailedPutLeavesNothing(t *testing.T) {
	srv := sharedServer(t)
	ctx := t.Context()
	s, err := redisstore.New(ctx, newClient(t, srv), redisstore.WithPrefix(srv.Prefix+":"+redistest.UniquePrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	acct, _ := ids.New(id.Account)
	holder, _ := ids.NewIn(id.BotUser, acct)
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: acct, Name: "a"}); err != nil {
			return err
		}
		return tx.PutBotUser(ctx, store.BotUser{ID: holder, AccountID: acct, Name: "taken", Active: true})
	}); err != nil {
		t.Fatal(err)
	}
	tok, _ := ids.NewIn(id.Authtoken, acct)
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutCredential(ctx, store.Credential{ID: tok, AccountID: acct, Kind: store.Authtoken, OwnerID: holder, SecretHash: "h1"})
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		put  func(tx store.Tx) error
		// listed counts the records of the refused kind the account lists afterwards.
		listed func(r store.Reader) (int, error)
		want   int
	}{
		{
			name: "bot_user_name",
			put: func(tx store.Tx) error {
				b, _ := ids.NewIn(id.BotUser, acct)
				return tx.PutBotUser(ctx, store.BotUser{ID: b, AccountID: acct, Name: "taken"})
			},
			listed: func(r store.Reader) (int, error) {
				bs, err := r.BotUsers(ctx, acct, store.Page{Limit: 10})
				return len(bs), err
			},
			want: 1,
		},
		{
			name: "credential_secret_hash",
			put: func(tx store.Tx) error {
				c, _ := ids.NewIn(id.APIKey, acct)
				return tx.PutCredential(ctx, store.Credential{ID: c, AccountID: acct, Kind: store.APIKey, OwnerID: holder, SecretHash: "h1"})
			},
			listed: func(r store.Reader) (int, error) {
				cs, err := r.CredentialsByOwner(ctx, acct, holder, store.Page{Limit: 10})
				if err != nil {
					return 0, err
				}
				keys, err := r.Credentials(ctx, acct, store.APIKey, store.Page{Limit: 10})
				return len(cs) + len(keys), err
			},
			want: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var putErr error
			if err := s.Update(ctx, func(tx store.Tx) error {
				putErr = c.put(tx)
				// Go on as if nothing happened, with a write that commits.
				return tx.PutAccount(ctx, store.Account{ID: acct, Name: c.name})
			}); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(putErr, store.ErrConflict) {
				t.Fatalf("the refused Put: %v, want ErrConflict", putErr)
			}
			var n int
			if err := s.View(ctx, func(r store.Reader) error { var err error; n, err = c.listed(r); return err }); err != nil {
				t.Fatal(err)
			}
			if n != c.want {
				t.Errorf("listings hold %d records after the refused Put, want %d", n, c.want)
			}
		})
	}
}
