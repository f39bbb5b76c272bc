package storetest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// changesResult is what a Changes call running in a goroutine reports.
type changesResult struct {
	b   store.Batch
	err error
}

// changesAsync calls Changes in a goroutine.
func (e *env) changesAsync(ctx context.Context, after store.Cursor) <-chan changesResult {
	ch := make(chan changesResult, 1)
	go func() {
		b, err := e.s.Changes(ctx, after)
		ch <- changesResult{b, err}
	}()
	return ch
}

// wantBlocked checks that a Changes call has not returned yet.
func (e *env) wantBlocked(ch <-chan changesResult, what string) {
	e.t.Helper()
	select {
	case r := <-ch:
		e.t.Fatalf("%s: Changes returned before anything happened: %+v, %v", what, r.b, r.err)
	case <-time.After(blockWait):
	}
}

// await waits for a Changes call started by changesAsync.
func (e *env) await(ch <-chan changesResult, what string) changesResult {
	e.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitTimeout):
		e.t.Fatalf("%s: Changes did not return within %v", what, waitTimeout)
		return changesResult{}
	}
}

// checkRevisions checks that revisions increase strictly within each shard.
func checkRevisions(t *testing.T, commits []store.Commit) {
	t.Helper()
	last := map[string]uint64{}
	for i, c := range commits {
		if prev, ok := last[c.Shard]; ok && c.Revision <= prev {
			t.Errorf("commit %d of shard %q has revision %d after %d: revisions must increase strictly", i, c.Shard, c.Revision, prev)
		}
		last[c.Shard] = c.Revision
	}
}

func testChangeFeed(t *testing.T, ns NewStore) {
	leaf(t, "head_of_empty_store", ns, func(e *env) {
		head := e.head()
		a := e.newAccount()
		e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
		got, _ := e.commits(head, 1)
		if len(got[0].Changes) != 1 || got[0].Changes[0].Kind != store.KindAccount ||
			got[0].Changes[0].Op != store.OpPut || got[0].Changes[0].ID != a.ID {
			e.t.Errorf("first commit of a new store: %+v, want one put of account %s", got[0], a.ID)
		}
	})

	leaf(t, "a_batch_that_ends_at_the_head_says_so", ns, func(e *env) {
		// Nothing else writes to this store: the batch that brings the last of these
		// commits holds every commit made before the call and must say so (Batch.AtHead),
		// and no batch before it may (some commit was still to come).
		head := e.head()
		a := e.putAccount()
		for range 3 {
			e.putBot(a, true)
		}
		ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
		defer cancel()
		var got []store.Commit
		for after := head; len(got) < 4; {
			b, err := e.s.Changes(ctx, after)
			if err != nil || b.Gap {
				e.t.Fatalf("Changes after %d of 4 commits: gap %v, %v", len(got), b.Gap, err)
			}
			got, after = append(got, b.Commits...), b.Next
			if done := len(got) >= 4; b.AtHead != done {
				e.t.Fatalf("a batch bringing %d of 4 commits has AtHead %v, want %v", len(got), b.AtHead, done)
			}
		}
	})

	leaf(t, "commits_carry_their_time", ns, func(e *env) {
		// Each commit says when it was committed, by the store's clock (the suite's fake clock
		// or the server's), and a shard's times never go back.
		head := e.head()
		a := e.putAccount()
		for range 3 {
			e.putBot(a, true)
		}
		got, _ := e.commits(head, 4)
		last := map[string]time.Time{}
		for i, c := range got {
			if c.Committed.IsZero() {
				e.t.Fatalf("commit %d has no time: %+v", i, c)
			}
			if c.Committed.Before(last[c.Shard]) {
				e.t.Errorf("commit %d of shard %q committed at %v, before the previous one's %v", i, c.Shard, c.Committed, last[c.Shard])
			}
			last[c.Shard] = c.Committed
		}
	})

	leaf(t, "zero_cursor_reads_from_start", ns, func(e *env) {
		a := e.putAccount()
		bot := e.putBot(a, true)
		got, _ := e.commits("", 2)
		last := got[1].Changes
		want := []store.Change{{Kind: store.KindBotUser, Op: store.OpPut, AccountID: a, ID: bot.ID}}
		diff(e.t, "second commit read from the zero cursor", want, last)
	})

	leaf(t, "commits_in_order", ns, func(e *env) {
		a := e.putAccount()
		u := e.putUser()
		head := e.head()
		b1, b2 := e.newBot(a), e.newBot(a)
		r1, r2 := e.newRole(a), e.newRole(a)
		c1 := e.newCred(a, b1.ID, store.APIKey)
		inv := e.newInvitation(a)
		idp := e.newIdP(a)
		m := e.newMembership(a, u.ID, store.MemberActive)
		put := func(k store.Kind, id string) store.Change {
			return store.Change{Kind: k, Op: store.OpPut, AccountID: a, ID: id}
		}
		del := func(k store.Kind, id string) store.Change {
			return store.Change{Kind: k, Op: store.OpDelete, AccountID: a, ID: id}
		}
		steps := []struct {
			fn   func(tx store.Tx) error
			want []store.Change
		}{
			{func(tx store.Tx) error { return tx.PutBotUser(e.ctx, b1) }, []store.Change{put(store.KindBotUser, b1.ID)}},
			{func(tx store.Tx) error { return tx.PutRole(e.ctx, r1) }, []store.Change{put(store.KindRole, r1.ID)}},
			{func(tx store.Tx) error { return tx.PutCredential(e.ctx, c1) }, []store.Change{put(store.KindCredential, c1.ID)}},
			{func(tx store.Tx) error { return tx.PutInvitation(e.ctx, inv) }, []store.Change{put(store.KindInvitation, inv.ID)}},
			{func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, idp) }, []store.Change{put(store.KindIdentityProvider, idp.ID)}},
			{func(tx store.Tx) error { return tx.PutMembership(e.ctx, m) }, []store.Change{put(store.KindMembership, u.ID)}},
			{func(tx store.Tx) error {
				b := b1.Clone()
				b.Name += "-renamed"
				return tx.PutBotUser(e.ctx, b)
			}, []store.Change{put(store.KindBotUser, b1.ID)}},
			{func(tx store.Tx) error { return tx.DeleteRole(e.ctx, r1.ID) }, []store.Change{del(store.KindRole, r1.ID)}},
			{func(tx store.Tx) error { return tx.DeleteCredential(e.ctx, c1.ID) }, []store.Change{del(store.KindCredential, c1.ID)}},
			{func(tx store.Tx) error { return tx.DeleteInvitation(e.ctx, inv.ID) }, []store.Change{del(store.KindInvitation, inv.ID)}},
			{func(tx store.Tx) error {
				if err := tx.PutRole(e.ctx, r2); err != nil {
					return err
				}
				return tx.PutBotUser(e.ctx, b2)
			}, []store.Change{put(store.KindBotUser, b2.ID), put(store.KindRole, r2.ID)}},
		}
		for _, s := range steps {
			e.update(s.fn)
		}
		got, next := e.commits(head, len(steps))
		checkRevisions(e.t, got)
		for i, s := range steps {
			diff(e.t, "changes of commit "+strconv.Itoa(i), sortedChanges(s.want), sortedChanges(got[i].Changes))
			if got[i].Shard != got[0].Shard {
				e.t.Errorf("commit %d is in shard %q, commit 0 in %q: one account's commits must share a shard", i, got[i].Shard, got[0].Shard)
			}
		}

		// Resuming from Next returns only what came after.
		b3 := e.newBot(a)
		e.update(func(tx store.Tx) error { return tx.PutBotUser(e.ctx, b3) })
		more, _ := e.commits(next, 1)
		diff(e.t, "commit after resuming from Next", []store.Change{put(store.KindBotUser, b3.ID)}, more[0].Changes)
		checkRevisions(e.t, append(got, more...))
	})

	leaf(t, "user_change_has_no_account", ns, func(e *env) {
		head := e.head()
		u := e.putUser()
		got, _ := e.commits(head, 1)
		diff(e.t, "changes of a PutUser commit", []store.Change{{Kind: store.KindUser, Op: store.OpPut, ID: u.ID}}, got[0].Changes)
	})

	leaf(t, "read_only_update_no_commit", ns, func(e *env) {
		a := e.putAccount()
		bot := e.putBot(a, true)
		head := e.head()
		e.update(func(tx store.Tx) error {
			_, err := tx.BotUser(e.ctx, bot.ID)
			return err
		})
		e.update(func(tx store.Tx) error { return nil })
		e.expectNoCommitSince(head, a, "a read-only Update")
	})

	leaf(t, "record_use_no_commit", ns, func(e *env) {
		a := e.putAccount()
		c := e.putCred(a, e.owner(a), store.Authtoken)
		head := e.head()
		if err := e.s.RecordUse(e.ctx, []store.Use{{CredentialID: c.ID, At: e.now()}}); err != nil {
			e.t.Fatalf("RecordUse: %v", err)
		}
		e.expectNoCommitSince(head, a, "RecordUse")
	})

	leaf(t, "changes_blocks_until_commit", ns, func(e *env) {
		a := e.putAccount()
		head := e.head()
		ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
		defer cancel()
		ch := e.changesAsync(ctx, head)
		e.wantBlocked(ch, "Changes at the head")
		bot := e.putBot(a, true)
		r := e.await(ch, "Changes at the head")
		if r.err != nil {
			e.t.Fatalf("Changes: %v", r.err)
		}
		if r.b.Gap || len(r.b.Commits) != 1 {
			e.t.Fatalf("Changes returned gap=%v and %d commits, want the one commit:\n%s", r.b.Gap, len(r.b.Commits), formatCommits(r.b.Commits))
		}
		want := []store.Change{{Kind: store.KindBotUser, Op: store.OpPut, AccountID: a, ID: bot.ID}}
		diff(e.t, "the awaited commit", want, r.b.Commits[0].Changes)
	})

	leaf(t, "changes_returns_on_cancel", ns, func(e *env) {
		e.putAccount()
		head := e.head()
		ctx, cancel := context.WithCancel(e.ctx)
		ch := e.changesAsync(ctx, head)
		e.wantBlocked(ch, "Changes at the head")
		cancel()
		r := e.await(ch, "Changes after cancel")
		wantIs(e.t, "Changes after its context was cancelled", r.err, context.Canceled)
	})

	const retention = 8
	leafWith(t, "gap_after_retention", ns, retention, func(e *env) {
		a := e.putAccount()
		role := e.newRole(a)
		e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, role) })
		old := e.head()
		for i := range 20 * retention {
			r := role
			r.Description = strconv.Itoa(i)
			e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, r) })
		}
		marker := e.putBot(a, true)

		ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
		defer cancel()
		b, err := e.s.Changes(ctx, old)
		if err != nil {
			e.t.Fatalf("Changes from a trimmed cursor: %v", err)
		}
		if !b.Gap {
			e.t.Fatalf("Changes from a cursor %d commits behind (retention %d) did not report a gap; it returned %d commits",
				20*retention+1, retention, len(b.Commits))
		}
		if len(b.Commits) != 0 {
			e.t.Errorf("a gap Batch carries %d commits, want none", len(b.Commits))
		}

		// Resuming from Next reads what the store still holds, without another gap, up to
		// the marker.
		var got []store.Commit
		next := b.Next
		for done := false; !done; {
			b, err := e.s.Changes(ctx, next)
			if err != nil {
				e.t.Fatalf("Changes after the gap: %v", err)
			}
			if b.Gap {
				e.t.Fatalf("Changes resumed from a gap's Next reported another gap after %d commits", len(got))
			}
			got = append(got, b.Commits...)
			next = b.Next
			for _, c := range b.Commits {
				for _, ch := range c.Changes {
					done = done || ch.ID == marker.ID
				}
			}
		}
		checkRevisions(e.t, got)
		if len(got) < retention {
			e.t.Errorf("after the gap the store returned %d commits, want at least the retention (%d)", len(got), retention)
		}
		if last := got[len(got)-1]; len(last.Changes) != 1 || last.Changes[0].ID != marker.ID {
			e.t.Errorf("the last commit is not the marker's:\n%s", formatCommits([]store.Commit{last}))
		}

		// And the feed goes on from there.
		role.Description = "after"
		e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, role) })
		more, _ := e.commits(next, 1)
		want := []store.Change{{Kind: store.KindRole, Op: store.OpPut, AccountID: a, ID: role.ID}}
		diff(e.t, "commit after catching up", want, more[0].Changes)
	})

	// A cursor taken where the feed (or the part of it a new account's commits go to) held
	// nothing yet still remembers where it stood: once every commit it missed is trimmed, so
	// that all the store retains comes after commits the subscriber never saw, Changes
	// reports a gap instead of handing over the retained tail as if it followed the cursor.
	gapCases := []struct {
		name string
		// setup returns the subscriber's cursor and the account whose commits then pass it.
		setup func(e *env) (store.Cursor, string)
	}{
		{"gap_all_missed_from_empty_head", func(e *env) (store.Cursor, string) {
			head := e.head()
			return head, e.putAccount()
		}},
		{"gap_all_missed_from_head_before_account", func(e *env) (store.Cursor, string) {
			e.putBot(e.putAccount(), true)
			head := e.head()
			return head, e.putAccount()
		}},
	}
	for _, tc := range gapCases {
		leafWith(t, tc.name, ns, retention, func(e *env) {
			old, a := tc.setup(e)
			role := e.newRole(a)
			for i := range 20 * retention {
				r := role
				r.Description = strconv.Itoa(i)
				e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, r) })
			}
			ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
			defer cancel()
			b, err := e.s.Changes(ctx, old)
			if err != nil {
				e.t.Fatalf("Changes from a cursor every later commit of which was trimmed: %v", err)
			}
			if !b.Gap {
				e.t.Fatalf("Changes from a cursor %d commits behind (retention %d) returned %d commits and no gap",
					20*retention+1, retention, len(b.Commits))
			}
			if len(b.Commits) != 0 {
				e.t.Errorf("a gap Batch carries %d commits, want none", len(b.Commits))
			}
		})
	}
}

func testSingleUse(t *testing.T, ns NewStore) {
	const key = "saml-request:id-4f1c"
	take := func(e *env, key string) ([]byte, error) { return e.s.TakeSingleUse(e.ctx, key) }

	leaf(t, "put_take", ns, func(e *env) {
		v := []byte("relay-state")
		if err := e.s.PutSingleUse(e.ctx, key, v, e.now().Add(time.Minute)); err != nil {
			e.t.Fatalf("PutSingleUse: %v", err)
		}
		v[0] = 'X' // the caller's slice, changed after Put
		got, err := take(e, key)
		wantNoErr(e.t, "TakeSingleUse", err)
		diff(e.t, "value taken", []byte("relay-state"), got)
	})

	leaf(t, "take_twice", ns, func(e *env) {
		if err := e.s.PutSingleUse(e.ctx, key, []byte("v"), e.now().Add(time.Minute)); err != nil {
			e.t.Fatalf("PutSingleUse: %v", err)
		}
		_, err := take(e, key)
		wantNoErr(e.t, "first TakeSingleUse", err)
		_, err = take(e, key)
		wantNotFound(e.t, "second TakeSingleUse", err)
	})

	leaf(t, "take_missing", ns, func(e *env) {
		_, err := take(e, "never-put")
		wantNotFound(e.t, "TakeSingleUse of a key never put", err)
	})

	leaf(t, "put_live_key_conflicts", ns, func(e *env) {
		exp := e.now().Add(time.Minute)
		if err := e.s.PutSingleUse(e.ctx, key, []byte("first"), exp); err != nil {
			e.t.Fatalf("PutSingleUse: %v", err)
		}
		e.clock.Advance(30 * time.Second)
		err := e.s.PutSingleUse(e.ctx, key, []byte("second"), exp.Add(time.Minute))
		wantIs(e.t, "PutSingleUse of a live key", err, store.ErrConflict)
		got, err := take(e, key)
		wantNoErr(e.t, "TakeSingleUse", err)
		diff(e.t, "value after a refused second Put", []byte("first"), got)
		// Once taken, the key can be put again.
		wantNoErr(e.t, "PutSingleUse after the key was taken",
			e.s.PutSingleUse(e.ctx, key, []byte("third"), e.now().Add(time.Minute)))
	})

	leaf(t, "expiry", ns, func(e *env) {
		if err := e.s.PutSingleUse(e.ctx, key, []byte("old"), e.now().Add(time.Minute)); err != nil {
			e.t.Fatalf("PutSingleUse: %v", err)
		}
		if err := e.s.PutSingleUse(e.ctx, key+"-2", []byte("old"), e.now().Add(time.Minute)); err != nil {
			e.t.Fatalf("PutSingleUse: %v", err)
		}
		e.clock.Advance(time.Minute + time.Second)
		_, err := take(e, key)
		wantNotFound(e.t, "TakeSingleUse after expiry", err)
		// An expired key can be put again, even if nobody took it.
		wantNoErr(e.t, "PutSingleUse over an expired key", e.s.PutSingleUse(e.ctx, key+"-2", []byte("new"), e.now().Add(time.Minute)))
		got, err := take(e, key+"-2")
		wantNoErr(e.t, "TakeSingleUse of the new value", err)
		diff(e.t, "value put over an expired key", []byte("new"), got)
	})

	leaf(t, "concurrent_take", ns, func(e *env) {
		if err := e.s.PutSingleUse(e.ctx, key, []byte("once"), e.now().Add(time.Minute)); err != nil {
			e.t.Fatalf("PutSingleUse: %v", err)
		}
		const n = 20
		errs := make([]error, n)
		vals := make([][]byte, n)
		start := make(chan struct{})
		done := make(chan int, n)
		for i := range n {
			go func() {
				<-start
				vals[i], errs[i] = e.s.TakeSingleUse(e.ctx, key)
				done <- i
			}()
		}
		close(start)
		for range n {
			<-done
		}
		won := 0
		for i := range n {
			switch {
			case errs[i] == nil:
				won++
				diff(e.t, "value taken", []byte("once"), vals[i])
			case !errors.Is(errs[i], store.ErrNotFound):
				e.t.Errorf("a losing TakeSingleUse: %v, want ErrNotFound", errs[i])
			}
		}
		if won != 1 {
			e.t.Errorf("%d of %d concurrent TakeSingleUse calls got the value, want exactly 1", won, n)
		}
	})
}

func testRecordUse(t *testing.T, ns NewStore) {
	lastUsed := func(e *env, credID string) time.Time {
		e.t.Helper()
		return mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, credID) }).LastUsedAt
	}
	wantLastUsed := func(e *env, what, credID string, want time.Time) {
		e.t.Helper()
		if got := lastUsed(e, credID); !got.Equal(want) {
			e.t.Errorf("%s: LastUsedAt = %v, want %v", what, got, want)
		}
	}
	recordUse := func(e *env, uses ...store.Use) {
		e.t.Helper()
		if err := e.s.RecordUse(e.ctx, uses); err != nil {
			e.t.Fatalf("RecordUse: %v", err)
		}
	}

	leaf(t, "visible_on_credential", ns, func(e *env) {
		a := e.putAccount()
		c := e.putCred(a, e.owner(a), store.Authtoken)
		wantLastUsed(e, "before any use", c.ID, time.Time{})
		at := e.now().Add(time.Minute)
		recordUse(e, store.Use{CredentialID: c.ID, At: at})
		wantLastUsed(e, "after RecordUse", c.ID, at)
	})

	leaf(t, "keeps_latest", ns, func(e *env) {
		a := e.putAccount()
		c1 := e.putCred(a, e.owner(a), store.Authtoken)
		c2 := e.putCred(a, e.owner(a), store.SSHCredential)
		t0 := e.now()
		t1, t2, t3 := t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second)
		recordUse(e, store.Use{CredentialID: c1.ID, At: t2})
		recordUse(e, store.Use{CredentialID: c1.ID, At: t1})
		wantLastUsed(e, "after an older use", c1.ID, t2)
		recordUse(e,
			store.Use{CredentialID: c1.ID, At: t3},
			store.Use{CredentialID: c2.ID, At: t1},
			store.Use{CredentialID: c1.ID, At: t0},
		)
		wantLastUsed(e, "after a batch with a newer and an older use", c1.ID, t3)
		wantLastUsed(e, "another credential in the same batch", c2.ID, t1)
	})

	leaf(t, "ignores_deleted", ns, func(e *env) {
		a := e.putAccount()
		gone := e.putCred(a, e.owner(a), store.APIKey)
		live := e.putCred(a, e.owner(a), store.APIKey)
		e.update(func(tx store.Tx) error { return tx.DeleteCredential(e.ctx, gone.ID) })
		at := e.now().Add(time.Minute)
		recordUse(e, store.Use{CredentialID: gone.ID, At: at}, store.Use{CredentialID: live.ID, At: at})
		_, err := read(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, gone.ID) })
		wantNotFound(e.t, "deleted credential after RecordUse", err)
		wantLastUsed(e, "live credential in the same batch", live.ID, at)
	})

	leaf(t, "keeps_the_address_of_the_latest_use", ns, func(e *env) {
		a := e.putAccount()
		c := e.putCred(a, e.owner(a), store.AccessToken)
		v4, v6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::1")
		t0 := e.now()
		t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
		wantUse := func(what string, at time.Time, ip netip.Addr) {
			e.t.Helper()
			got := mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, c.ID) })
			if !got.LastUsedAt.Equal(at) || got.LastUsedIP != ip {
				e.t.Errorf("%s: last use %v from %v, want %v from %v", what, got.LastUsedAt, got.LastUsedIP, at, ip)
			}
		}
		recordUse(e, store.Use{CredentialID: c.ID, At: t1, IP: v4})
		wantUse("after a use from an IPv4 address", t1, v4)
		recordUse(e, store.Use{CredentialID: c.ID, At: t0, IP: v6})
		wantUse("after an older use from another address", t1, v4)
		recordUse(e, store.Use{CredentialID: c.ID, At: t2, IP: v6}, store.Use{CredentialID: c.ID, At: t1, IP: v4})
		wantUse("after a batch whose latest use is from an IPv6 address", t2, v6)
		recordUse(e, store.Use{CredentialID: c.ID, At: t2.Add(time.Second)})
		wantUse("after a use from an unknown address", t2.Add(time.Second), netip.Addr{})
		listed := mustRead(e, func(r store.Reader) ([]store.Credential, error) {
			return r.Credentials(e.ctx, a, store.AccessToken, store.Page{Limit: 10})
		})
		if len(listed) != 1 || !listed[0].LastUsedAt.Equal(t2.Add(time.Second)) || listed[0].LastUsedIP.IsValid() {
			e.t.Errorf("Credentials lists %+v, want the credential with its last use", listed)
		}
	})

	leaf(t, "unused_since", ns, func(e *env) {
		a := e.putAccount()
		owner := e.owner(a)
		since := e.now().Add(time.Hour)
		// Newest first: every other credential was used since, the rest before it or never.
		var unused []string
		for i := range 9 {
			c := e.putCred(a, owner, store.APIKey)
			switch i % 3 {
			case 0:
				recordUse(e, store.Use{CredentialID: c.ID, At: since.Add(time.Duration(i) * time.Second)})
			case 1:
				recordUse(e, store.Use{CredentialID: c.ID, At: since.Add(-time.Nanosecond * 1000)})
				unused = append(unused, c.ID)
			default:
				unused = append(unused, c.ID)
			}
		}
		e.putCred(a, owner, store.Authtoken) // another kind, never used
		gone := e.putBot(a, true).ID         // a removed owner's unused key is gone
		e.putCred(a, gone, store.APIKey)
		e.update(func(tx store.Tx) error { return tx.DeleteBotUser(e.ctx, gone, suite()) })
		slices.Reverse(unused)
		var walked []string
		before := ""
		for range 10 {
			page := mustRead(e, func(r store.Reader) ([]store.Credential, error) {
				return r.CredentialsUnusedSince(e.ctx, a, store.APIKey, since, store.Page{BeforeID: before, Limit: 2})
			})
			for _, c := range page {
				walked = append(walked, c.ID)
				if !c.LastUsedAt.Before(since) {
					e.t.Errorf("%s was used at %v, after %v", c.ID, c.LastUsedAt, since)
				}
			}
			if len(page) < 2 {
				break
			}
			before = page[len(page)-1].ID
		}
		diff(e.t, "credentials unused since", unused, walked)
		_, err := read(e, func(r store.Reader) ([]store.Credential, error) {
			return r.CredentialsUnusedSince(e.ctx, a, store.APIKey, since, store.Page{Limit: 0})
		})
		wantInvalid(e.t, "a page of limit 0", err, "limit")
	})

	leaf(t, "tx_writes_ignore_it", ns, func(e *env) {
		a := e.putAccount()
		c := e.newCred(a, e.owner(a), store.Authtoken)
		c.LastUsedAt = e.now().Add(time.Hour)
		e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
		wantLastUsed(e, "new credential written with LastUsedAt set", c.ID, time.Time{})

		at := e.now().Add(time.Minute)
		recordUse(e, store.Use{CredentialID: c.ID, At: at})
		for _, lu := range []time.Time{{}, e.now().Add(2 * time.Hour)} {
			upd := c.Clone()
			upd.Description = "updated"
			upd.LastUsedAt, upd.LastUsedIP = lu, netip.MustParseAddr("198.51.100.1")
			e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, upd) })
			wantLastUsed(e, "after a PutCredential with LastUsedAt "+lu.String(), c.ID, at)
		}
	})
}

func testClose(t *testing.T, ns NewStore) {
	leaf(t, "blocked_changes_returns_err_closed", ns, func(e *env) {
		e.putAccount()
		head := e.head()
		ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
		defer cancel()
		ch := e.changesAsync(ctx, head)
		e.wantBlocked(ch, "Changes at the head")
		if err := e.s.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
		r := e.await(ch, "Changes after Close")
		wantIs(e.t, "Changes blocked when the store was closed", r.err, store.ErrClosed)
	})
}
