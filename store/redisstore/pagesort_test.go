package redisstore_test

import (
	"context"
	"crypto/rand"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// commandNames is a go-redis hook that records the names of the commands sent.
type commandNames struct {
	mu    sync.Mutex
	names []string
}

func (c *commandNames) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// take returns the names recorded since the last call, but for a connection's handshake
// (ping, hello) and the store's own checks.
func (c *commandNames) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := slices.DeleteFunc(c.names, func(s string) bool { return s == "ping" || s == "hello" })
	c.names = nil
	return n
}

// TestPageFirstBySort: a first page of a listing index is read with SORT_RO (records in C,
// not through Lua: its records alone, then its keys too when one is missing) and later pages
// with the page script; both skip an index entry whose record is gone, and give the
// newest-first order. A server that refuses SORT_RO (here an
// ACL user without it) gets the same page from the script, and is not asked again.
func TestPageFirstBySort(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPrivate()) // its ACL users are the test's
	ctx := t.Context()
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	open := func(configure ...func(*redis.Options)) (store.Store, *commandNames, *redis.Client) {
		c := newClient(t, srv, configure...)
		names := &commandNames{}
		c.AddHook(names)
		st, err := redisstore.New(ctx, c, redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, names, c
	}
	st, names, c := open()
	acct, all := putBots(t, st, 30)
	// The third newest loses its record behind the store's back: the index still names it.
	gone := all[2]
	keys, _, err := c.Scan(ctx, 0, "*:r:bot_user:"+gone, 1000).Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("the record key of %s: %v, %v", gone, keys, err)
	}
	if err := c.Del(ctx, keys[0]).Err(); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == gone })

	pages := func(st store.Store) [][]string {
		t.Helper()
		var out [][]string
		p := store.Page{Limit: 10}
		for {
			var bs []store.BotUser
			if err := st.View(ctx, func(r store.Reader) (err error) {
				bs, err = r.BotUsers(ctx, acct, p)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			page := make([]string, len(bs))
			for i, b := range bs {
				page[i] = b.ID
			}
			if len(bs) == 0 || len(out) > 5 {
				return out
			}
			out = append(out, page)
			p.BeforeID = bs[len(bs)-1].ID
		}
	}
	check := func(what string, got [][]string) {
		t.Helper()
		if flat := slices.Concat(got...); !slices.Equal(flat, want) || len(got[0]) != 9 {
			t.Errorf("%s: pages %v, want %v (a first page of 9: one record is gone)", what, got, want)
		}
	}
	names.take()
	check("SORT_RO", pages(st))
	// The first page: its records, then, one being missing, its keys and records again.
	if got := names.take(); len(got) < 3 || got[0] != "sort_ro" || got[1] != "sort_ro" || slices.Contains(got[2:], "sort_ro") || !slices.Contains(got, "evalsha") {
		t.Errorf("commands %v, want sort_ro twice for the first page (a record is missing), evalsha for the others", got)
	}

	if err := c.Do(ctx, "ACL", "SETUSER", "nosort", "on", ">pw", "~*", "&*", "+@all", "-sort_ro").Err(); err != nil {
		t.Fatal(err)
	}
	refused, refusedNames, _ := open(func(o *redis.Options) { o.Username, o.Password = "nosort", "pw" })
	check("refused SORT_RO", pages(refused))
	if got := refusedNames.take(); len(got) == 0 || got[0] != "sort_ro" || slices.Contains(got[1:], "sort_ro") {
		t.Errorf("commands %v, want one sort_ro refused, then the script", got)
	}
	check("refused SORT_RO, again", pages(refused))
	if got := refusedNames.take(); slices.Contains(got, "sort_ro") {
		t.Errorf("commands %v: SORT_RO asked again after the server refused it", got)
	}
}

// TestPageFirstBySortOnCluster: on Redis Cluster the first page is read with SORT_RO too
// (its GET pattern carries the index's hash tag, so it stays in the index's slot), or, if the
// cluster refuses it, with the script; the pages are the same either way.
func TestPageFirstBySortOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master cluster")
	}
	cl := sharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaintNotificationsConfig: noMaintNotifications(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	names := &commandNames{}
	c.OnNewNode(func(n *redis.Client) { n.AddHook(names) })
	ctx := t.Context()
	st, err := redisstore.New(ctx, c, redisstore.WithPrefix(redistest.UniquePrefix()), redisstore.WithShards(64))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acct, want := putBots(t, st, 25)
	names.take()
	var got []string
	p := store.Page{Limit: 10}
	for range 5 {
		var bs []store.BotUser
		if err := st.View(ctx, func(r store.Reader) (err error) {
			bs, err = r.BotUsers(ctx, acct, p)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(bs) == 0 {
			break
		}
		for _, b := range bs {
			got = append(got, b.ID)
		}
		p.BeforeID = bs[len(bs)-1].ID
	}
	sent := names.take()
	t.Logf("commands on the cluster: %v", sent)
	if !slices.Equal(got, want) {
		t.Errorf("pages %v, want %v", got, want)
	}
	if len(sent) < 2 || sent[0] != "sort_ro" || slices.Contains(sent[1:], "sort_ro") {
		t.Errorf("commands %v, want the first page by one sort_ro (no record is missing)", sent)
	}
}

// putBots stores n bot users in a new account and returns the account and their IDs, newest
// first.
func putBots(t *testing.T, st store.Store, n int) (string, []string) {
	t.Helper()
	ctx := t.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	acct, err := ids.New(id.Account)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	if err := st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			bid, err := ids.NewIn(id.BotUser, acct)
			if err != nil {
				return err
			}
			all = append(all, bid)
			if err := tx.PutBotUser(ctx, store.BotUser{ID: bid, AccountID: acct, Name: "bot-" + strconv.Itoa(i), Active: true, CreatedAt: time.Now().UTC()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	slices.Reverse(all)
	return acct, all
}
