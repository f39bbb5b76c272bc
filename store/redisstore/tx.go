package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

// txn is both the Ops of View (rw false: plain reads through the client) and the WriteOps of
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
	cache   map[string]val    // values read, by key
	writes  map[string]wop    // buffered string writes, by key
	order   []string          // keys of writes, in first-write order
	zsets   map[string]*delta // listing indexes in a bucket: changed in the EXEC
	gsets   map[string]*delta // Global listing indexes: added to before the EXEC, removed from after
	hdels   []key             // last-used entries to delete: the hash, with the field in hdelIDs
	hdelIDs []string
	claims  map[string]*claim // Global unique index entries this transaction takes, by key
	drops   []drop            // Global unique index entries to release after the commit
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

// delta is the buffered change to a sorted set. add holds members known absent from
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

// claim is a Global unique index entry (a pointer) this transaction points at the record
// with primary key pk.
type claim struct {
	k      key
	pk     string
	table  *store.Table
	ix     store.Index
	values []string

	value    string // what commit wrote
	previous string // what it replaced by compare-and-set, to restore on failure
	taken    bool
}

// drop is a Global unique index entry to delete after the commit if it still names pk.
type drop struct {
	k  key
	pk string
}

func newTxn(s *Store, hint int) *txn {
	return &txn{
		s: s, rw: true, hint: hint, home: -1,
		watched: map[string]struct{}{},
		cache:   map[string]val{},
		writes:  map[string]wop{},
		zsets:   map[string]*delta{},
		gsets:   map[string]*delta{},
		claims:  map[string]*claim{},
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
	if !t.rw || k.global() {
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

// getAll reads string keys in at most one round trip per connection involved, seeing the
// transaction's buffered writes.
func (t *txn) getAll(ctx context.Context, keys []key) ([]val, error) {
	out := make([]val, len(keys))
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
		if k.global() {
			globals = append(globals, i)
			continue
		}
		w, err := t.watchable(ctx, k)
		if err != nil {
			return nil, err
		}
		if !w {
			onClient = append(onClient, i)
			continue
		}
		onConn = append(onConn, i)
		if _, ok := t.watched[k.k]; !ok && !slices.Contains(toWatch, k.k) {
			toWatch = append(toWatch, k.k)
		}
	}
	// Global keys are never watched. On a standalone server they ride along with the
	// pinned connection's reads, saving a round trip; on Cluster they may be anywhere.
	if t.rw && t.conn != nil && t.s.single != nil {
		onConn = append(onConn, globals...)
	} else {
		onClient = append(onClient, globals...)
	}
	run := func(c redis.Cmdable, idx []int, watch []string) error {
		if len(idx) == 0 {
			return nil
		}
		gets := make([]*redis.StringCmd, len(idx))
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			if len(watch) > 0 {
				p.Do(ctx, append([]any{"watch"}, toAny(watch)...)...)
			}
			for j, i := range idx {
				gets[j] = p.Get(ctx, keys[i].k)
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
		for _, k := range watch {
			t.watched[k] = struct{}{}
		}
		return nil
	}
	if t.rw && t.conn != nil {
		if err := run(t.conn, onConn, toWatch); err != nil {
			return nil, err
		}
	}
	if err := run(t.s.client, onClient, nil); err != nil {
		return nil, err
	}
	return out, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// readSet runs one read of the sorted set k (WATCHing it when it is watchable) and returns
// the command queued by add.
func readSet[C redis.Cmder](ctx context.Context, t *txn, k key, add func(p redis.Pipeliner) C) (C, error) {
	var cmd C
	w, err := t.watchable(ctx, k)
	if err != nil {
		return cmd, err
	}
	var c redis.Cmdable = t.s.client
	if w {
		c = t.conn
	}
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if _, ok := t.watched[k.k]; w && !ok {
			p.Do(ctx, "watch", k.k)
		}
		cmd = add(p)
		return nil
	})
	if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		return cmd, wrap(err)
	}
	if w {
		t.watched[k.k] = struct{}{}
	}
	return cmd, nil
}

// deltaOf returns the buffered change to the sorted set k, or nil.
func (t *txn) deltaOf(k key) *delta {
	if k.global() {
		return t.gsets[k.k]
	}
	return t.zsets[k.k]
}

// zrange returns up to limit members of a listing index below before ("" for no bound), in
// descending order, with the buffered changes applied.
func (t *txn) zrange(ctx context.Context, k key, before string, limit int) ([]string, error) {
	return t.zrangeDir(ctx, k, before, limit, false)
}

// zrangeDir is zrange in either direction: with asc, the members above from, ascending.
func (t *txn) zrangeDir(ctx context.Context, k key, from string, limit int, asc bool) ([]string, error) {
	d := t.deltaOf(k)
	extra := 0
	if d != nil {
		extra = len(d.rem)
	}
	cmd, err := readSet(ctx, t, k, func(p redis.Pipeliner) *redis.StringSliceCmd {
		if asc {
			bottom := "-"
			if from != "" {
				bottom = "(" + from
			}
			return p.ZRangeByLex(ctx, k.k, &redis.ZRangeBy{Min: bottom, Max: "+", Count: int64(limit + extra)})
		}
		top := "+"
		if from != "" {
			top = "(" + from
		}
		return p.ZRevRangeByLex(ctx, k.k, &redis.ZRangeBy{Max: top, Min: "-", Count: int64(limit + extra)})
	})
	if err != nil {
		return nil, err
	}
	members := cmd.Val()
	if d == nil {
		return members, nil
	}
	members = slices.DeleteFunc(members, func(m string) bool { _, ok := d.rem[m]; return ok })
	for m := range d.add {
		if from == "" || (asc && m > from) || (!asc && m < from) {
			members = append(members, m)
		}
	}
	if asc {
		slices.Sort(members)
	} else {
		slices.SortFunc(members, func(a, b string) int { return strings.Compare(b, a) })
	}
	members = slices.Compact(members)
	if len(members) > limit {
		members = members[:limit]
	}
	return members, nil
}

// zcard counts a listing index, with the buffered changes applied.
func (t *txn) zcard(ctx context.Context, k key) (int, error) {
	cmd, err := readSet(ctx, t, k, func(p redis.Pipeliner) *redis.IntCmd { return p.ZCard(ctx, k.k) })
	if err != nil {
		return 0, err
	}
	n := int(cmd.Val())
	if d := t.deltaOf(k); d != nil {
		n += len(d.add) - len(d.rem)
	}
	return n, nil
}

// pointer reads a Global unique index entry: the primary key it names, or "" when absent.
// An entry this transaction claimed reads as claimed.
func (t *txn) pointer(ctx context.Context, k key) (string, error) {
	if c, ok := t.claims[k.k]; ok {
		return c.pk, nil
	}
	vals, err := t.getAll(ctx, []key{k})
	if err != nil || !vals[0].ok {
		return "", err
	}
	pk, _, _ := parsePointer(vals[0].s)
	return pk, nil
}

// A pointer's value is "<primary key>|<lease deadline, Unix ms>|<nonce>". Until the deadline
// a pointer whose record does not (yet) hold its value may belong to a commit in flight.
// parsePointer reads it from the right, so that the key may hold any character; a value
// without the two fields is a bare primary key with no lease.
func parsePointer(v string) (pk string, lease int64, ok bool) {
	i := strings.LastIndexByte(v, '|')
	if i < 0 {
		return v, 0, false
	}
	j := strings.LastIndexByte(v[:i], '|')
	if j < 0 {
		return v, 0, false
	}
	lease, err := strconv.ParseInt(v[j+1:i], 10, 64)
	if err != nil {
		return v, 0, false
	}
	return v[:j], lease, true
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

// sortedSet returns the buffered change to the listing index k, making it on first use.
func (t *txn) sortedSet(k key) *delta {
	m := t.zsets
	if k.global() {
		m = t.gsets
	}
	d := m[k.k]
	if d == nil {
		d = &delta{k: k, add: map[string]struct{}{}, rem: map[string]struct{}{}}
		m[k.k] = d
	}
	return d
}

// addMember records that m joins the set; the caller knows it was absent.
func (d *delta) addMember(m string) {
	if _, ok := d.rem[m]; ok {
		delete(d.rem, m)
		return
	}
	d.add[m] = struct{}{}
}

// removeMember records that m leaves the set; the caller knows it was present.
func (d *delta) removeMember(m string) {
	if _, ok := d.add[m]; ok {
		delete(d.add, m)
		return
	}
	d.rem[m] = struct{}{}
}

// record notes a change in bucket b, collapsing repeated writes of one record into its
// last op.
func (t *txn) record(b int, c store.Change) {
	k := c
	k.Op = ""
	if i, ok := t.seen[k]; ok {
		t.changes[i].c.Op = c.Op
		return
	}
	t.seen[k] = len(t.changes)
	t.changes = append(t.changes, change{c: c, b: b})
}

// claimPointer makes the Global unique index entry k name pk at commit. The caller checked
// (checkPointer) that no other record holds it.
func (t *txn) claimPointer(k key, pk string, table *store.Table, ix store.Index, values []string) {
	t.claims[k.k] = &claim{k: k, pk: pk, table: table, ix: ix, values: values}
	// A release of the same entry by the same record (its value changed and came back)
	// would undo the claim after the commit.
	t.drops = slices.DeleteFunc(t.drops, func(d drop) bool { return d.k.k == k.k && d.pk == pk })
}

// dropPointer releases the Global unique index entry k after the commit if it still names pk.
func (t *txn) dropPointer(k key, pk string) {
	if c, ok := t.claims[k.k]; ok && c.pk == pk {
		delete(t.claims, k.k)
	}
	t.drops = append(t.drops, drop{k: k, pk: pk})
}

// --- commit ---

func (t *txn) wrote() bool {
	return len(t.order) > 0 || len(t.changes) > 0
}

// buckets returns the shard buckets the buffered writes touch.
func (t *txn) buckets() map[int]struct{} {
	out := map[int]struct{}{}
	note := func(k key) {
		if !k.global() {
			out[k.b] = struct{}{}
		}
	}
	for _, w := range t.writes {
		note(w.k)
	}
	for _, d := range t.zsets {
		note(d.k)
	}
	for _, h := range t.hdels {
		note(h)
	}
	for _, c := range t.changes {
		out[c.b] = struct{}{}
	}
	return out
}

// pinForCommit pins the connection the commit runs on: on Cluster, that of the one bucket
// the writes touch.
func (t *txn) pinForCommit(ctx context.Context) error {
	if t.s.cluster == nil {
		return t.pin(ctx, 0)
	}
	buckets := t.buckets()
	if len(buckets) > 1 {
		return store.Invalid("transaction", CodeCrossShard, 0,
			"it writes records of %d shard buckets (several accounts, or a user and an account); "+
				"Redis Cluster commits one bucket atomically, so write them in separate Updates", len(buckets))
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
	return nil
}

// commit writes the buffered writes and their feed entries in one MULTI/EXEC on the pinned
// connection, after claiming the Global unique index entries they need and adding to the
// Global listing indexes.
func (t *txn) commit(ctx context.Context) error {
	if !t.wrote() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.pinForCommit(ctx); err != nil {
		return err
	}
	if err := t.takeClaims(ctx); err != nil {
		t.releaseClaims(ctx)
		return err
	}
	// Global listing indexes live outside the bucket's slot: add to them before the commit
	// (a dangling entry is ignored by readers, which confirm each one).
	if err := t.applyGlobalSets(ctx, func(p redis.Pipeliner, d *delta) {
		if len(d.add) > 0 {
			p.ZAdd(ctx, d.k.k, zMembers(d.add)...)
		}
	}); err != nil {
		t.releaseClaims(ctx)
		return err
	}
	feeds, err := t.feedEntries()
	if err != nil {
		t.releaseClaims(ctx)
		return err
	}
	cmds, err := t.conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		t.queueWrites(ctx, p)
		for _, f := range feeds {
			p.XAdd(ctx, f.args)
			p.Set(ctx, t.s.ks.feedTag(f.bucket).k, f.tag, 0)
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
				return cerr
			}
		}
		return wrap(err)
	case err != nil && slotMoved(err):
		return err
	case err != nil:
		// The outcome is unknown (the connection may have dropped after EXEC was sent):
		// keep the claims, which are harmless if the commit did not happen.
		return store.Wrap(store.ErrUnavailable, unavailable(), err,
			"redisstore: the commit's outcome is unknown (it was applied whole or not at all)")
	}
	t.afterCommit(ctx)
	return nil
}

// keysPerCommand bounds the keys (or members, or fields) of one MSET, DEL, HDEL, ZADD or ZREM
// a commit queues: a large commit (a purge batch) is a few commands of many keys each rather
// than a command per key, which costs Redis a dispatch each inside the EXEC.
const keysPerCommand = 256

// queueWrites queues the buffered writes of the bucket in the MULTI/EXEC: the records and
// unique index entries set (MSET) and deleted (DEL), the listing indexes' changes, and the
// last-used times deleted (HDEL), each as few commands as keysPerCommand allows.
func (t *txn) queueWrites(ctx context.Context, p redis.Pipeliner) {
	var sets, dels []any
	for _, k := range t.order {
		if w := t.writes[k]; w.del {
			dels = append(dels, k)
		} else {
			sets = append(sets, k, w.v)
		}
	}
	for part := range slices.Chunk(sets, 2*keysPerCommand) {
		p.MSet(ctx, part...)
	}
	for part := range slices.Chunk(dels, keysPerCommand) {
		p.Del(ctx, toStrings(part)...)
	}
	for _, d := range sortedDeltas(t.zsets) {
		for part := range slices.Chunk(zMembers(d.add), keysPerCommand) {
			p.ZAdd(ctx, d.k.k, part...)
		}
		for part := range slices.Chunk(setMembers(d.rem), keysPerCommand) {
			p.ZRem(ctx, d.k.k, part...)
		}
	}
	fields := map[string][]string{}
	var hashes []string
	for i, h := range t.hdels {
		if _, ok := fields[h.k]; !ok {
			hashes = append(hashes, h.k)
		}
		fields[h.k] = append(fields[h.k], t.hdelIDs[i])
	}
	for _, h := range hashes {
		for part := range slices.Chunk(fields[h], keysPerCommand) {
			p.HDel(ctx, h, part...)
		}
	}
}

func toStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.(string)
	}
	return out
}

// applyGlobalSets queues, for every buffered change to a Global listing index, what f
// queues, and runs it in one pipeline through the client.
func (t *txn) applyGlobalSets(ctx context.Context, f func(p redis.Pipeliner, d *delta)) error {
	if len(t.gsets) == 0 {
		return nil
	}
	_, err := t.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, d := range sortedDeltas(t.gsets) {
			f(p, d)
		}
		return nil
	})
	return wrap(err)
}

// afterCommit releases the pointers and Global listing entries the commit made stale. It is
// best effort: what it leaves behind is ignored by readers, which confirm every entry.
func (t *txn) afterCommit(ctx context.Context) {
	if len(t.drops) > 0 {
		keys := make([][]string, len(t.drops))
		args := make([][]any, len(t.drops))
		for i, d := range t.drops {
			keys[i] = []string{d.k.k}
			args[i] = []any{d.pk, ""}
		}
		_ = t.s.runScripts(ctx, t.s.client, scriptReleasePtr, keys, args)
	}
	_ = t.applyGlobalSets(ctx, func(p redis.Pipeliner, d *delta) {
		if len(d.rem) > 0 {
			p.ZRem(ctx, d.k.k, setMembers(d.rem)...)
		}
	})
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
		c.value = c.pk + "|" + lease + "|" + t.nonce
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *claim) int { return strings.Compare(a.k.k, b.k.k) })
	sets := make([]*redis.BoolCmd, len(cs))
	_, _ = t.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cs {
			sets[i] = p.SetNX(ctx, c.k.k, c.value, 0)
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
		if err := t.takeOver(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// takeOver takes a claimed pointer that is already set: it must name this record already,
// or a record that no longer holds the value and whose lease has passed.
func (t *txn) takeOver(ctx context.Context, c *claim) error {
	cur, err := t.s.client.Get(ctx, c.k.k).Result()
	if errors.Is(err, redis.Nil) {
		return errRetry // released meanwhile: try again
	}
	if err != nil {
		return wrap(err)
	}
	holder, deadline, _ := parsePointer(cur)
	if holder != c.pk {
		held, err := t.holds(ctx, c.table, c.ix, c.values, holder)
		if err != nil {
			return err
		}
		if held {
			return store.Conflict(c.table, &c.ix)
		}
		// The holder's record does not hold the value. Unless this transaction rewrites
		// that record, its commit may be in flight until the lease ends.
		_, rewriting := t.writes[t.s.ks.record(c.table.Kind, holder).k]
		if !rewriting && time.Now().UnixMilli() < deadline {
			return store.Conflict(c.table, &c.ix)
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
	return nil
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
			_, _ = t.s.runScript(ctx, scriptReleasePtr, []string{c.k.k}, c.pk, c.value)
		}
		c.taken = false
	}
}

// feedAppend is one commit's entry in one bucket's stream, and the tag it carries.
type feedAppend struct {
	bucket int
	args   *redis.XAddArgs
	tag    string
}

// feedEntries groups the changes by bucket into one XADD each.
func (t *txn) feedEntries() ([]feedAppend, error) {
	byBucket := map[int][]store.Change{}
	var order []int
	for _, c := range t.changes {
		if _, ok := byBucket[c.b]; !ok {
			order = append(order, c.b)
		}
		byBucket[c.b] = append(byBucket[c.b], c.c)
	}
	out := make([]feedAppend, 0, len(order))
	tag := newTag()
	for _, b := range order {
		payload, err := json.Marshal(byBucket[b])
		if err != nil {
			return nil, store.Wrap(store.ErrInvalid, store.CodeInternal, err, "redisstore: encoding changes")
		}
		a := &redis.XAddArgs{
			Stream: t.s.ks.feed(b).k,
			Values: []any{"c", string(payload), "t", tag},
		}
		// Small retentions are trimmed exactly (one more than asked, so that a subscriber
		// at the oldest commit it saw still finds it); larger ones approximately, which
		// Redis does cheaply by whole macro-nodes.
		if t.s.opt.retention >= 1000 {
			a.MaxLen, a.Approx = t.s.opt.retention, true
		} else {
			a.MaxLen = t.s.opt.retention + 1
		}
		out = append(out, feedAppend{bucket: b, args: a, tag: tag})
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

// zMembers returns the members of a listing index, all with score 0.
func zMembers(m map[string]struct{}) []redis.Z {
	out := make([]redis.Z, 0, len(m))
	for s := range m {
		out = append(out, redis.Z{Member: s})
	}
	return out
}
