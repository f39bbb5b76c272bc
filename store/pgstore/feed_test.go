package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// waitTimeout bounds every wait on the feed, so that a broken feed fails a test instead of
// hanging the run.
const waitTimeout = 30 * time.Second

// follow reads the feed of st from cursor until it has n commits (failing on a gap or an
// error) and returns them with the cursor after the last.
func follow(t *testing.T, st store.Store, from store.Cursor, n int) ([]store.Commit, store.Cursor) {
	t.Helper()
	got, next, err := collect(t.Context(), st, from, n, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return got, next
}

// collect reads the feed of st from cursor until it has n commits, within timeout; a gap is
// an error.
func collect(ctx context.Context, st store.Store, from store.Cursor, n int, timeout time.Duration) ([]store.Commit, store.Cursor, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got []store.Commit
	for len(got) < n {
		b, err := st.Changes(ctx, from)
		if err != nil {
			return got, from, fmt.Errorf("Changes after %d of %d commits: %w", len(got), n, err)
		}
		if b.Gap {
			return got, from, fmt.Errorf("Changes reported a gap after %d of %d commits", len(got), n)
		}
		got = append(got, b.Commits...)
		from = b.Next
	}
	return got, from, nil
}

// retryAborted runs an Update again while it fails with code CodeAborted, as a caller would,
// up to 1000 times.
func retryAborted(ctx context.Context, st store.Store, fn func(store.Tx) error) error {
	for range 1000 {
		err := st.Update(ctx, fn)
		if store.CodeOf(err) != store.CodeAborted {
			return err
		}
	}
	return errors.New("Update aborted 1000 times in a row")
}

// TestFeedEveryCommitOnceInAccountOrder has writers commit concurrently on many accounts,
// several accounts to a shard, while two followers read the feed, one of them through
// another pool and Store, as another process would. Each commit increments its account's
// counter and creates a bot user named after the new value, so the commits of an account
// have a known order. Every follower must see every commit exactly once, each account's in
// its order, whatever order the concurrent transactions began and finished in.
func TestFeedEveryCommitOnceInAccountOrder(t *testing.T) {
	url := shared(t).Database(t)
	_, writer := open(t, url, WithShards(4))
	_, other := open(t, url)
	g := ids()
	ctx := t.Context()

	const accounts, writers, perWriter = 12, 8, 25
	accts := make([]string, accounts)
	counters := map[string]string{} // account -> its counter role
	for i := range accts {
		accts[i] = putAccount(t, writer, g)
		r := store.Role{ID: mustID(t, g, id.Role, accts[i]), AccountID: accts[i], Name: "counter", Description: "0"}
		if err := writer.Update(ctx, func(tx store.Tx) error { return tx.PutRole(ctx, r) }); err != nil {
			t.Fatal(err)
		}
		counters[accts[i]] = r.ID
	}
	from, err := writer.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	const total = writers * perWriter
	var followers sync.WaitGroup
	seen := make([][]store.Commit, 2)
	followErrs := make([]error, 2)
	for i, st := range []store.Store{writer, other} {
		followers.Go(func() { seen[i], _, followErrs[i] = collect(ctx, st, from, total, 2*time.Minute) })
	}

	var seq sync.Map // bot ID -> the value of its account's counter it was created with
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for range perWriter {
				acct := accts[rand.IntN(accounts)]
				botID, err := g.NewIn(id.BotUser, acct)
				if err != nil {
					errs[w] = err
					return
				}
				bot := store.BotUser{ID: botID, AccountID: acct, Active: true}
				var n int
				err = retryAborted(ctx, writer, func(tx store.Tx) error {
					r, err := tx.Role(ctx, counters[acct])
					if err != nil {
						return err
					}
					if n, err = strconv.Atoi(r.Description); err != nil {
						return err
					}
					n++
					r.Description = strconv.Itoa(n)
					if err := tx.PutRole(ctx, r); err != nil {
						return err
					}
					b := bot
					b.Name = "seq-" + r.Description
					return tx.PutBotUser(ctx, b)
				})
				if err != nil {
					errs[w] = err
					return
				}
				seq.Store(bot.ID, n)
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	followers.Wait()
	for i, err := range followErrs {
		if err != nil {
			t.Fatalf("follower %d: %v", i, err)
		}
	}

	for i, commits := range seen {
		if len(commits) != total {
			t.Fatalf("follower %d got %d commits, want %d", i, len(commits), total)
		}
		next := map[string]int{} // account -> the counter value its next commit must carry
		for _, c := range commits {
			var bot store.Change
			for _, ch := range c.Changes {
				if ch.Kind == store.KindBotUser {
					bot = ch
				}
			}
			v, ok := seq.Load(bot.ID)
			if len(c.Changes) != 2 || !ok {
				t.Fatalf("follower %d: a commit that no writer acknowledged: %+v", i, c)
			}
			if want := next[bot.AccountID] + 1; v.(int) != want {
				t.Fatalf("follower %d: account %s: commit #%d arrived where #%d was due (a commit lost, repeated or reordered)",
					i, bot.AccountID, v.(int), want)
			}
			next[bot.AccountID]++
		}
		checkContiguous(t, from, commits)
	}
}

// checkContiguous checks that each shard's revisions follow the cursor's one by one.
func checkContiguous(t *testing.T, from store.Cursor, commits []store.Commit) {
	t.Helper()
	c, err := parseCursor(string(from))
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range commits {
		shard, _ := strconv.Atoi(cm.Shard)
		if cm.Revision != c.revs[shard]+1 {
			t.Fatalf("shard %s: revision %d follows %d", cm.Shard, cm.Revision, c.revs[shard])
		}
		c.revs[shard] = cm.Revision
	}
}

// TestFeedCommitThatBeganFirstEndsLast pins the case that loses commits in a feed whose
// positions are taken before commit: a transaction begins and writes, another begins after
// it and commits, a follower reads that commit, and only then does the first commit. The
// follower must still get the first one, once, whether the two share a shard or not.
func TestFeedCommitThatBeganFirstEndsLast(t *testing.T) {
	srv := shared(t)
	for _, c := range []struct {
		name      string
		sameShard bool
	}{{"same_shard", true}, {"other_shards", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, st := open(t, srv.Database(t), WithShards(4))
			g := ids()
			ctx := t.Context()
			slowAcct := putAccount(t, st, g)
			var fastAcct string
			for fastAcct == "" || (b.shardOf(fastAcct) == b.shardOf(slowAcct)) != c.sameShard {
				fastAcct = putAccount(t, st, g)
			}
			from, err := st.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			slow, fast := newBot(t, g, slowAcct, "slow"), newBot(t, g, fastAcct, "fast")

			began, released := make(chan struct{}), make(chan struct{})
			release := sync.OnceFunc(func() { close(released) })
			t.Cleanup(release) // before the pool closes: it waits for the transaction's connection
			done := make(chan error, 1)
			go func() {
				attempt := 0
				done <- st.Update(ctx, func(tx store.Tx) error {
					attempt++
					if err := tx.PutBotUser(ctx, slow); err != nil {
						return err
					}
					if attempt == 1 {
						close(began)
						<-released
					}
					return nil
				})
			}()
			<-began
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutBotUser(ctx, fast) }); err != nil {
				t.Fatal(err)
			}
			first, next := follow(t, st, from, 1)
			wantBot(t, "the commit that finished first", first[0], fast.ID)
			release()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			second, _ := follow(t, st, next, 1)
			wantBot(t, "the commit that began first", second[0], slow.ID)
			all, _ := follow(t, st, from, 2)
			wantBot(t, "reread: first", all[0], fast.ID)
			wantBot(t, "reread: second", all[1], slow.ID)
			wantNoMore(t, st, all, from)
		})
	}
}

func wantBot(t *testing.T, what string, c store.Commit, botID string) {
	t.Helper()
	if len(c.Changes) != 1 || c.Changes[0].Kind != store.KindBotUser || c.Changes[0].ID != botID {
		t.Fatalf("%s: %+v, want the put of bot user %s", what, c, botID)
	}
}

// wantNoMore checks that nothing follows the commits read from from: a marker written now is
// the next commit.
func wantNoMore(t *testing.T, st store.Store, read []store.Commit, from store.Cursor) {
	t.Helper()
	g := ids()
	acct := putAccount(t, st, g)
	got, _ := follow(t, st, from, len(read)+1)
	if last := got[len(got)-1]; len(last.Changes) != 1 || last.Changes[0].ID != acct {
		t.Fatalf("after %d commits came %+v, want the marker (account %s)", len(read), last, acct)
	}
}

// TestFeedGaps covers the cursors that cannot be followed: trimmed ahead of them, ahead of the
// heads (the database was restored or reset), of another database, and malformed ones.
func TestFeedGaps(t *testing.T) {
	srv := shared(t)
	commit := func(t *testing.T, st store.Store, acct string) {
		t.Helper()
		bot := newBot(t, ids(), acct, "")
		if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.PutBotUser(t.Context(), bot) }); err != nil {
			t.Fatal(err)
		}
	}
	head := func(t *testing.T, st store.Store) store.Cursor {
		t.Helper()
		c, err := st.Head(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// wantGap writes a marker, reads from cursor and wants a gap; then, from the gap's Next,
	// the commits still held up to the marker, and no other gap.
	wantGap := func(t *testing.T, st store.Store, acct string, cursor store.Cursor) {
		t.Helper()
		marker := newBot(t, ids(), acct, "marker")
		if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.PutBotUser(t.Context(), marker) }); err != nil {
			t.Fatal(err)
		}
		b, err := st.Changes(t.Context(), cursor)
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		if !b.Gap || len(b.Commits) != 0 {
			t.Fatalf("Changes = gap %v with %d commits, want a gap and none", b.Gap, len(b.Commits))
		}
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		for next := b.Next; ; {
			b, err := st.Changes(ctx, next)
			if err != nil || b.Gap {
				t.Fatalf("Changes from the gap's Next: gap %v, %v", b.Gap, err)
			}
			for _, c := range b.Commits {
				if c.Changes[0].ID == marker.ID {
					return
				}
			}
			next = b.Next
		}
	}
	exec := func(t *testing.T, b *Store, sql string) {
		t.Helper()
		if _, err := b.pool.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("trimmed", func(t *testing.T) {
		t.Parallel()
		_, st := open(t, srv.Database(t), WithFeedRetention(2), WithShards(1))
		acct := putAccount(t, st, ids())
		old := head(t, st)
		for range 5 {
			commit(t, st, acct)
		}
		wantGap(t, st, acct, old)
	})
	t.Run("emptied", func(t *testing.T) { // an operator deleted the feed's rows
		t.Parallel()
		b, st := open(t, srv.Database(t))
		acct := putAccount(t, st, ids())
		old := head(t, st)
		commit(t, st, acct)
		exec(t, b, "DELETE FROM iamkit.feed")
		wantGap(t, st, acct, old)
	})
	t.Run("ahead_of_heads", func(t *testing.T) { // restored from an older backup
		t.Parallel()
		b, st := open(t, srv.Database(t))
		acct := putAccount(t, st, ids())
		commit(t, st, acct)
		ahead := head(t, st)
		exec(t, b, "UPDATE iamkit.feed_heads SET rev = 0; DELETE FROM iamkit.feed")
		wantGap(t, st, acct, ahead)
	})
	t.Run("other_database", func(t *testing.T) {
		t.Parallel()
		_, st := open(t, srv.Database(t))
		_, elsewhere := open(t, srv.Database(t))
		acct := putAccount(t, st, ids())
		putAccount(t, elsewhere, ids())
		wantGap(t, st, acct, head(t, elsewhere))
	})
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		b, st := open(t, srv.Database(t), WithShards(2))
		for _, c := range []string{"1", "x:0,0", b.epoch + ":0", b.epoch + ":0,0,0", b.epoch + ":00,0", b.epoch + ":-1,0"} {
			_, err := st.Changes(t.Context(), store.Cursor(c))
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Changes(%q) = %v, want ErrInvalid", c, err)
			}
		}
	})
}

// TestFeedWithoutNotification checks the fallbacks of a follower whose notification never
// comes: the poll before its deadline, and listening again after the listening connection
// was killed. The poll interval is an hour, so only those fallbacks can deliver.
func TestFeedWithoutNotification(t *testing.T) {
	srv := shared(t)
	t.Run("read_before_deadline", func(t *testing.T) {
		t.Parallel()
		b, st := open(t, srv.Database(t), WithPollInterval(time.Hour), WithShards(1))
		acct := putAccount(t, st, ids())
		from, err := st.Head(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		ch := changesAsync(ctx, st, from)
		// A commit that notifies nobody, as if its notification were lost.
		if _, err := b.pool.Exec(t.Context(), `WITH head AS (UPDATE iamkit.feed_heads SET rev = rev + 1 WHERE shard = 0 RETURNING rev)
			INSERT INTO iamkit.feed SELECT 0, rev, now(), $1 FROM head`,
			[]store.Change{{Kind: store.KindAccount, Op: store.OpPut, AccountID: acct, ID: acct}}); err != nil {
			t.Fatal(err)
		}
		r := <-ch
		if r.err != nil || len(r.b.Commits) != 1 {
			t.Fatalf("Changes with a deadline = %d commits, %v; want the unnotified commit before the deadline", len(r.b.Commits), r.err)
		}
	})
	t.Run("listening_again", func(t *testing.T) {
		t.Parallel()
		b, st := open(t, srv.Database(t), WithPollInterval(time.Hour))
		g := ids()
		acct := putAccount(t, st, g)
		from, err := st.Head(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ch := changesAsync(t.Context(), st, from)
		pid := listenerPID(t, b, 0)
		if _, err := b.pool.Exec(t.Context(), "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		listenerPID(t, b, pid) // wait for the listener to listen again
		bot := newBot(t, g, acct, "")
		if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.PutBotUser(t.Context(), bot) }); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-ch:
			if r.err != nil || len(r.b.Commits) != 1 {
				t.Fatalf("Changes = %d commits, %v; want the commit made after the listener was killed", len(r.b.Commits), r.err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Changes did not return within %v of a commit", waitTimeout)
		}
	})
}

type changesResult struct {
	b   store.Batch
	err error
}

func changesAsync(ctx context.Context, st store.Store, from store.Cursor) <-chan changesResult {
	ch := make(chan changesResult, 1)
	go func() {
		b, err := st.Changes(ctx, from)
		ch <- changesResult{b, err}
	}()
	return ch
}

// listenerPID waits until a backend other than not LISTENs on the store's database, and
// returns its process ID.
func listenerPID(t *testing.T, b *Store, not int) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var pid int
		err := b.pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN `+feedChannel+`' AND pid <> $1`, not).Scan(&pid)
		if err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no backend listens on the feed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
