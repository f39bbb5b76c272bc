package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

// txn is both the Reader of View (rw false: plain reads through the client) and the Tx of
// Update (rw true: reads WATCH their keys on a pinned connection and see the buffered
// writes). It is used by one goroutine at a time, as the store contract requires.
type txn struct {
	s  *Store
	rw bool

	// Update state.
	hint    int         // Cluster: the bucket to pin to, learnt from a previous attempt; -1 if none
	conn    *redis.Conn // the pinned connection reads WATCH on and EXEC runs on
	home    int         // Cluster: the bucket conn was pinned for; -1 before pinning
	watched map[string]struct{}
	cache   map[string]val // values read, by key
	writes  map[string]wop // buffered string writes, by key
	order   []string       // keys of writes, in first-write order
	zsets   map[string]*delta
	sets    map[string]*delta
	hdels   []key // last-used entries to delete: key of the hash, field in hdelIDs
	hdelIDs []string
	claims  map[string]*claim              // global pointers this transaction takes, by pointer key
	drops   []drop                         // global pointers to release after the commit
	umAdd   map[string]map[string]struct{} // user ID -> accounts joined (per-user index)
	umDel   map[string]map[string]struct{} // user ID -> accounts left
	changes []change
	seen    map[store.Change]int
	nonce   string
}

type val struct {
	s  string
	ok bool
}

type wop struct {
	k   key
	v   string
	del bool
}

// delta is the buffered change to a set or sorted set. add holds members known absent from
// Redis, rem members known present there; adding a removed member cancels the removal and
// the reverse, so len(add)-len(rem) is the change in cardinality.
type delta struct {
	k   key
	add map[string]struct{}
	rem map[string]struct{}
}

type change struct {
	c store.Change
	b int
}

// claim is a global pointer (email, secret hash, fingerprint) this transaction points at id.
type claim struct {
	k     key
	id    string
	kind  store.Kind
	index string
	// holds reports whether the record with the given ID holds the pointer's value.
	holds func(ctx context.Context, t *txn, id string) (bool, error)

	value    string // what commit wrote
	previous string // what it replaced by compare-and-set, to restore on failure
	taken    bool
}

// drop is a global pointer to delete after the commit if it still names id.
type drop struct {
	k  key
	id string
}

func newTxn(s *Store, hint int) *txn {
	return &txn{
		s: s, rw: true, hint: hint, home: -1,
		watched: map[string]struct{}{},
		cache:   map[string]val{},
		writes:  map[string]wop{},
		zsets:   map[string]*delta{},
		sets:    map[string]*delta{},
		claims:  map[string]*claim{},
		umAdd:   map[string]map[string]struct{}{},
		umDel:   map[string]map[string]struct{}{},
		seen:    map[store.Change]int{},
	}
}

// --- routing ---

// pin gets the connection for bucket b (any bucket on a standalone server).
func (t *txn) pin(ctx context.Context, b int) error {
	if t.conn != nil {
		return nil
	}
	if t.s.single != nil {
		t.conn = t.s.single.Conn()
		return nil
	}
	if t.hint >= 0 {
		b = t.hint
	}
	node, err := t.s.cluster.MasterForKey(ctx, t.s.ks.feed(b).k)
	if err != nil {
		return wrap(err)
	}
	t.conn = node.Conn()
	t.home = b
	return nil
}

// watchable reports whether reads of k are WATCHed on the pinned connection (pinning it if
// needed). Global keys never are; on Cluster only keys of the pinned bucket are.
func (t *txn) watchable(ctx context.Context, k key) (bool, error) {
	if !t.rw || k.b < 0 {
		return false, nil
	}
	if t.conn == nil {
		if err := t.pin(ctx, k.b); err != nil {
			return false, err
		}
	}
	return t.s.single != nil || k.b == t.home, nil
}

// finish releases the pinned connection, clearing any WATCH left on it.
func (t *txn) finish(ctx context.Context) {
	if t.conn == nil {
		return
	}
	if len(t.watched) > 0 {
		_ = t.conn.Do(ctx, "unwatch").Err()
	}
	_ = t.conn.Close()
	t.conn = nil
}

// --- reads ---

// getAll reads string keys, and for every ID in luIDs the credential's last-used time, in
// at most one round trip per connection involved.
func (t *txn) getAll(ctx context.Context, keys []key, luIDs []string) ([]val, []string, error) {
	out := make([]val, len(keys))
	lu := make([]string, len(luIDs))
	var onConn, onClient, globals []int
	var toWatch []string
	for i, k := range keys {
		if t.rw {
			if w, ok := t.writes[k.k]; ok {
				out[i] = val{s: w.v, ok: !w.del}
				continue
			}
			if v, ok := t.cache[k.k]; ok {
				out[i] = v
				continue
			}
		}
		if k.b < 0 {
			globals = append(globals, i)
			continue
		}
		w, err := t.watchable(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		if w {
			onConn = append(onConn, i)
			if _, ok := t.watched[k.k]; !ok && !slices.Contains(toWatch, k.k) {
				toWatch = append(toWatch, k.k)
			}
		} else {
			onClient = append(onClient, i)
		}
	}
	// Global keys are never watched. On a standalone server they ride along with the
	// pinned connection's reads, saving a round trip; on Cluster they may be anywhere.
	if t.rw && t.conn != nil && t.s.single != nil {
		onConn = append(onConn, globals...)
	} else {
		onClient = append(onClient, globals...)
	}
	run := func(c redis.Cmdable, idx []int, watch []string, luOn bool) error {
		if len(idx) == 0 && !(luOn && len(luIDs) > 0) {
			return nil
		}
		var gets []*redis.StringCmd
		var hgets []*redis.StringCmd
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			if len(watch) > 0 {
				p.Do(ctx, append([]any{"watch"}, toAny(watch)...)...)
			}
			for _, i := range idx {
				gets = append(gets, p.Get(ctx, keys[i].k))
			}
			if luOn {
				for _, id := range luIDs {
					hgets = append(hgets, p.HGet(ctx, t.s.ks.lastUsed(t.s.ks.bucket(id)).k, id))
				}
			}
			return nil
		})
		for j, g := range gets {
			v, err := g.Result()
			switch {
			case errors.Is(err, redis.Nil):
				out[idx[j]] = val{}
			case err != nil:
				return wrap(err)
			default:
				out[idx[j]] = val{s: v, ok: true}
			}
			if t.rw {
				t.cache[keys[idx[j]].k] = out[idx[j]]
			}
		}
		for j, h := range hgets {
			v, err := h.Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return wrap(err)
			}
			lu[j] = v
		}
		for _, k := range watch {
			t.watched[k] = struct{}{}
		}
		return nil
	}
	// Last-used times go with the pinned connection on a standalone server (one round
	// trip), with the client otherwise (they may live in any bucket).
	luOnConn := t.rw && t.s.single != nil && t.conn != nil
	if t.rw && t.conn != nil {
		if err := run(t.conn, onConn, toWatch, luOnConn); err != nil {
			return nil, nil, err
		}
	}
	if err := run(t.s.client, onClient, nil, !luOnConn); err != nil {
		return nil, nil, err
	}
	return out, lu, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// get reads one record and decodes it into v; it returns store.ErrNotFound when absent.
func get[T any](ctx context.Context, t *txn, k key) (T, error) {
	var v T
	vals, _, err := t.getAll(ctx, []key{k}, nil)
	if err != nil {
		return v, err
	}
	if !vals[0].ok {
		return v, store.ErrNotFound
	}
	return v, decode(vals[0].s, &v)
}

func decode(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("redisstore: decoding a stored record: %w", err)
	}
	return nil
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("redisstore: encoding a record: %w", err)
	}
	return string(b), nil
}

// zrange returns up to limit members of a sorted-set index below before ("" for no bound),
// in descending order, with the buffered changes applied.
func (t *txn) zrange(ctx context.Context, k key, before string, limit int) ([]string, error) {
	d := t.zsets[k.k]
	extra := 0
	if d != nil {
		extra = len(d.rem)
	}
	max := "+"
	if before != "" {
		max = "(" + before
	}
	w, err := t.watchable(ctx, k)
	if err != nil {
		return nil, err
	}
	var c redis.Cmdable = t.s.client
	if w {
		c = t.conn
	}
	var rng *redis.StringSliceCmd
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if _, ok := t.watched[k.k]; w && !ok {
			p.Do(ctx, "watch", k.k)
		}
		rng = p.ZRevRangeByLex(ctx, k.k, &redis.ZRangeBy{Max: max, Min: "-", Count: int64(limit + extra)})
		return nil
	})
	ids, err := rng.Result()
	if err != nil {
		return nil, wrap(err)
	}
	if w {
		t.watched[k.k] = struct{}{}
	}
	if d == nil {
		return ids, nil
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { _, ok := d.rem[id]; return ok })
	for id := range d.add {
		if before == "" || id < before {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(b, a) })
	ids = slices.Compact(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, nil
}

// scard counts a set, with the buffered changes applied.
func (t *txn) scard(ctx context.Context, k key) (int, error) {
	w, err := t.watchable(ctx, k)
	if err != nil {
		return 0, err
	}
	var c redis.Cmdable = t.s.client
	if w {
		c = t.conn
	}
	var n *redis.IntCmd
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if _, ok := t.watched[k.k]; w && !ok {
			p.Do(ctx, "watch", k.k)
		}
		n = p.SCard(ctx, k.k)
		return nil
	})
	cnt, err := n.Result()
	if err != nil {
		return 0, wrap(err)
	}
	if w {
		t.watched[k.k] = struct{}{}
	}
	if d := t.sets[k.k]; d != nil {
		cnt += int64(len(d.add) - len(d.rem))
	}
	return int(cnt), nil
}

// pointer reads a global pointer: the ID it names, or "" when absent. A pointer this
// transaction claimed reads as claimed.
func (t *txn) pointer(ctx context.Context, k key) (string, error) {
	if c, ok := t.claims[k.k]; ok {
		return c.id, nil
	}
	vals, _, err := t.getAll(ctx, []key{k}, nil)
	if err != nil || !vals[0].ok {
		return "", err
	}
	id, _, _ := parsePointer(vals[0].s)
	return id, nil
}

// A pointer's value is "<id>|<lease deadline, Unix ms>|<nonce>". Until the deadline a
// pointer whose record does not (yet) hold its value may belong to a commit in flight.
func parsePointer(v string) (id string, lease int64, ok bool) {
	parts := strings.SplitN(v, "|", 3)
	if len(parts) < 2 {
		return v, 0, false
	}
	lease, _ = strconv.ParseInt(parts[1], 10, 64)
	return parts[0], lease, true
}

// pointerLease is how long a claimed pointer is protected while its commit is in flight.
const pointerLease = 30 * time.Second

// --- writes ---

func (t *txn) set(k key, v string) {
	if _, ok := t.writes[k.k]; !ok {
		t.order = append(t.order, k.k)
	}
	t.writes[k.k] = wop{k: k, v: v}
}

func (t *txn) del(k key) {
	if _, ok := t.writes[k.k]; !ok {
		t.order = append(t.order, k.k)
	}
	t.writes[k.k] = wop{k: k, del: true}
}

func deltaFor(m map[string]*delta, k key) *delta {
	d := m[k.k]
	if d == nil {
		d = &delta{k: k, add: map[string]struct{}{}, rem: map[string]struct{}{}}
		m[k.k] = d
	}
	return d
}

// add records that member joins the set k; the caller knows it was absent.
func (d *delta) addMember(m string) {
	if _, ok := d.rem[m]; ok {
		delete(d.rem, m)
		return
	}
	d.add[m] = struct{}{}
}

// remove records that member leaves the set k; the caller knows it was present.
func (d *delta) removeMember(m string) {
	if _, ok := d.add[m]; ok {
		delete(d.add, m)
		return
	}
	d.rem[m] = struct{}{}
}

func (t *txn) zadd(k key, m string) { deltaFor(t.zsets, k).addMember(m) }
func (t *txn) zrem(k key, m string) { deltaFor(t.zsets, k).removeMember(m) }
func (t *txn) sadd(k key, m string) { deltaFor(t.sets, k).addMember(m) }
func (t *txn) srem(k key, m string) { deltaFor(t.sets, k).removeMember(m) }

// record notes a change in bucket b, collapsing repeated writes of one record into its
// last op.
func (t *txn) record(b int, kind store.Kind, op store.Op, accountID, id string) {
	k := store.Change{Kind: kind, AccountID: accountID, ID: id}
	if i, ok := t.seen[k]; ok {
		t.changes[i].c.Op = op
		return
	}
	t.seen[k] = len(t.changes)
	k.Op = op
	t.changes = append(t.changes, change{c: k, b: b})
}

// claimPointer makes the global pointer k name id at commit, after checking that no other
// record holds it now. holds tells whether a record holds the pointer's value.
func (t *txn) claimPointer(ctx context.Context, k key, id string, kind store.Kind, index string,
	holds func(ctx context.Context, t *txn, id string) (bool, error)) error {
	cur, err := t.pointer(ctx, k)
	if err != nil {
		return err
	}
	if cur != "" && cur != id {
		held, err := holds(ctx, t, cur)
		if err != nil {
			return err
		}
		if held {
			return &store.ConflictError{Kind: kind, Index: index}
		}
	}
	t.claims[k.k] = &claim{k: k, id: id, kind: kind, index: index, holds: holds}
	return nil
}

// dropPointer releases the global pointer k after the commit if it still names id.
func (t *txn) dropPointer(k key, id string) {
	if c, ok := t.claims[k.k]; ok && c.id == id {
		delete(t.claims, k.k)
	}
	t.drops = append(t.drops, drop{k: k, id: id})
}

// --- commit ---

func (t *txn) wrote() bool {
	return len(t.order) > 0 || len(t.changes) > 0
}

// commit writes the buffered writes and their feed entries in one MULTI/EXEC on the pinned
// connection, after claiming the global pointers they need.
func (t *txn) commit(ctx context.Context) error {
	if !t.wrote() {
		return nil
	}
	buckets := map[int]struct{}{}
	note := func(k key) {
		if k.b >= 0 {
			buckets[k.b] = struct{}{}
		}
	}
	for _, w := range t.writes {
		note(w.k)
	}
	for _, d := range t.zsets {
		note(d.k)
	}
	for _, d := range t.sets {
		note(d.k)
	}
	for _, c := range t.changes {
		buckets[c.b] = struct{}{}
	}
	if t.s.cluster != nil {
		if len(buckets) > 1 {
			return &store.InvalidError{Field: "transaction", Reason: fmt.Sprintf(
				"it writes records of %d shard buckets (several accounts, or a user and an account); "+
					"Redis Cluster commits one bucket atomically, so write them in separate Updates", len(buckets))}
		}
		var b int
		for b = range buckets {
		}
		if t.conn != nil && t.home != b {
			return &rerouteError{bucket: b}
		}
		if err := t.pin(ctx, b); err != nil {
			return err
		}
		if t.home != b {
			return &rerouteError{bucket: b}
		}
	} else if err := t.pin(ctx, 0); err != nil {
		return err
	}

	if err := t.takeClaims(ctx); err != nil {
		t.releaseClaims(ctx)
		return err
	}
	// The per-user membership index lives outside the account's slot: add to it before the
	// commit (a dangling entry is ignored by MembershipsByUser, which confirms each one).
	if len(t.umAdd) > 0 {
		_, err := t.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for u, accts := range t.umAdd {
				for a := range accts {
					p.SAdd(ctx, t.s.ks.userMemberships(u).k, a)
				}
			}
			return nil
		})
		if err != nil {
			t.releaseClaims(ctx)
			return wrap(err)
		}
	}

	feeds, err := t.feedEntries()
	if err != nil {
		t.releaseClaims(ctx)
		return err
	}
	cmds, err := t.conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range t.order {
			w := t.writes[k]
			if w.del {
				p.Del(ctx, k)
			} else {
				p.Set(ctx, k, w.v, 0)
			}
		}
		for _, d := range sortedDeltas(t.zsets) {
			if len(d.add) > 0 {
				zs := make([]redis.Z, 0, len(d.add))
				for m := range d.add {
					zs = append(zs, redis.Z{Member: m})
				}
				p.ZAdd(ctx, d.k.k, zs...)
			}
			if len(d.rem) > 0 {
				p.ZRem(ctx, d.k.k, setMembers(d.rem)...)
			}
		}
		for _, d := range sortedDeltas(t.sets) {
			if len(d.add) > 0 {
				p.SAdd(ctx, d.k.k, setMembers(d.add)...)
			}
			if len(d.rem) > 0 {
				p.SRem(ctx, d.k.k, setMembers(d.rem)...)
			}
		}
		for i, h := range t.hdels {
			p.HDel(ctx, h.k, t.hdelIDs[i])
		}
		for _, f := range feeds {
			p.XAdd(ctx, f)
		}
		if t.s.cluster != nil {
			p.Publish(ctx, t.s.ks.doorbell(), "1")
		}
		return nil
	})
	t.watched = map[string]struct{}{} // EXEC, run or not, clears them
	switch {
	case errors.Is(err, redis.TxFailedErr):
		t.releaseClaims(ctx)
		return errRetry
	case err != nil && redis.HasErrorPrefix(err, "EXECABORT"):
		t.releaseClaims(ctx)
		// Queuing failed: report why (a MOVED, on Cluster, makes Update retry).
		for _, c := range cmds {
			if cerr := c.Err(); cerr != nil && !redis.HasErrorPrefix(cerr, "EXECABORT") && slotMoved(cerr) {
				return wrap(cerr)
			}
		}
		return wrap(err)
	case err != nil:
		// The outcome is unknown (the connection may have dropped after EXEC was sent):
		// keep the claims, which are harmless if the commit did not happen.
		return wrap(err)
	}
	t.afterCommit(ctx)
	return nil
}

// afterCommit releases the pointers and per-user index entries the commit made stale. It
// is best effort: what it leaves behind is ignored by readers, which confirm every pointer.
func (t *txn) afterCommit(ctx context.Context) {
	if len(t.drops) > 0 {
		keys := make([][]string, len(t.drops))
		args := make([][]any, len(t.drops))
		for i, d := range t.drops {
			keys[i] = []string{d.k.k}
			args[i] = []any{d.id, ""}
		}
		_ = t.s.runScripts(ctx, t.s.client, scriptReleasePtr, keys, args)
	}
	if len(t.umDel) > 0 {
		_, _ = t.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for u, accts := range t.umDel {
				for a := range accts {
					p.SRem(ctx, t.s.ks.userMemberships(u).k, a)
				}
			}
			return nil
		})
	}
}

// takeClaims points every claimed pointer at its record: SET NX for all of them in one
// round trip, then, for those already set, a check that the holder's record no longer
// holds the value and a compare-and-set.
func (t *txn) takeClaims(ctx context.Context) error {
	if len(t.claims) == 0 {
		return nil
	}
	if t.nonce == "" {
		t.nonce = strconv.FormatUint(rand.Uint64(), 36)
	}
	lease := strconv.FormatInt(time.Now().Add(pointerLease).UnixMilli(), 10)
	cs := make([]*claim, 0, len(t.claims))
	for _, c := range t.claims {
		c.value = c.id + "|" + lease + "|" + t.nonce
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *claim) int { return strings.Compare(a.k.k, b.k.k) })
	var sets []*redis.BoolCmd
	_, _ = t.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range cs {
			sets = append(sets, p.SetNX(ctx, c.k.k, c.value, 0))
		}
		return nil
	})
	for i, c := range cs {
		ok, err := sets[i].Result()
		if err != nil {
			return wrap(err)
		}
		if ok {
			c.taken = true
			continue
		}
		cur, err := t.s.client.Get(ctx, c.k.k).Result()
		if errors.Is(err, redis.Nil) {
			return errRetry // released meanwhile: try again
		}
		if err != nil {
			return wrap(err)
		}
		holder, deadline, _ := parsePointer(cur)
		if holder != c.id {
			held, err := c.holds(ctx, t, holder)
			if err != nil {
				return err
			}
			if held {
				return &store.ConflictError{Kind: c.kind, Index: c.index}
			}
			// The holder's record does not hold the value. Unless this transaction
			// rewrites that record, its commit may be in flight until the lease ends.
			_, rewriting := t.writes[t.holderKey(c, holder).k]
			if !rewriting && time.Now().UnixMilli() < deadline {
				return &store.ConflictError{Kind: c.kind, Index: c.index}
			}
		}
		r, err := t.s.runScript(ctx, scriptCAS, []string{c.k.k}, cur, c.value)
		if err != nil {
			return err
		}
		if n, _ := r.(int64); n != 1 {
			return errRetry
		}
		c.taken, c.previous = true, cur
	}
	return nil
}

// holderKey is the record key of the holder of a claim's pointer.
func (t *txn) holderKey(c *claim, holder string) key {
	if c.kind == store.KindUser {
		return t.s.ks.rec(kUser, holder)
	}
	return t.s.ks.rec(kCred, holder)
}

// releaseClaims undoes the claims taken by a commit that did not happen.
func (t *txn) releaseClaims(ctx context.Context) {
	for _, c := range t.claims {
		if !c.taken {
			continue
		}
		if c.previous != "" {
			_, _ = t.s.runScript(ctx, scriptCAS, []string{c.k.k}, c.value, c.previous)
		} else {
			_, _ = t.s.runScript(ctx, scriptReleasePtr, []string{c.k.k}, c.id, c.value)
		}
		c.taken = false
	}
}

// feedEntries groups the changes by bucket into one XADD each.
func (t *txn) feedEntries() ([]*redis.XAddArgs, error) {
	byBucket := map[int][]store.Change{}
	var order []int
	for _, c := range t.changes {
		if _, ok := byBucket[c.b]; !ok {
			order = append(order, c.b)
		}
		byBucket[c.b] = append(byBucket[c.b], c.c)
	}
	out := make([]*redis.XAddArgs, 0, len(order))
	for _, b := range order {
		payload, err := json.Marshal(byBucket[b])
		if err != nil {
			return nil, fmt.Errorf("redisstore: encoding changes: %w", err)
		}
		a := &redis.XAddArgs{
			Stream: t.s.ks.feed(b).k,
			Values: []any{"c", string(payload)},
		}
		// Small retentions are trimmed exactly (one more than asked, so that a subscriber
		// at the oldest commit it saw still finds it); larger ones approximately, which
		// Redis does cheaply by whole macro-nodes.
		if t.s.opt.retention >= 1000 {
			a.MaxLen, a.Approx = t.s.opt.retention, true
		} else {
			a.MaxLen = t.s.opt.retention + 1
		}
		out = append(out, a)
	}
	return out, nil
}

func sortedDeltas(m map[string]*delta) []*delta {
	out := make([]*delta, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *delta) int { return strings.Compare(a.k.k, b.k.k) })
	return out
}

func setMembers(m map[string]struct{}) []any {
	out := make([]any, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	return out
}
