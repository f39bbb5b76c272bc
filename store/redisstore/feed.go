package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

// streamID is a Redis stream entry ID, ms-seq.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, error) {
	if s == "" {
		return streamID{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("bad stream position %q", s)
	}
	return streamID{ms, seq}, nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) zero() bool { return id == streamID{} }

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// pred is the largest ID below id.
func (id streamID) pred() streamID {
	switch {
	case id.seq > 0:
		return streamID{id.ms, id.seq - 1}
	case id.ms > 0:
		return streamID{id.ms - 1, math.MaxUint64}
	}
	return streamID{}
}

// revision packs an entry ID into the commit's revision: the millisecond time shifted left
// by 20 bits plus the sequence number, which grows strictly along a stream (a stream would
// need a million commits in one millisecond to overflow the sequence part).
func (id streamID) revision() uint64 { return id.ms<<20 | id.seq&(1<<20-1) }

// position is where a cursor stands in one stream: after the entry id, which was the
// added-th entry the stream ever took (XINFO STREAM's entries-added once it was added). The
// count is what lets Changes tell a stream trimmed or emptied past the cursor from one that
// merely holds nothing new: entries-added minus length is how many entries were trimmed, the
// oldest first. tag is the random tag of the commit that wrote the entry, when the position
// is at an entry (empty for a position just before the oldest one held): a stream restored
// from an older copy can give another entry the same ID, never the same tag. The zero
// position stands before a stream's first entry.
type position struct {
	id    streamID
	added uint64
	tag   string
}

func (p position) zero() bool { return p == position{} }

// The cursor is "r3.<shards>.<pos 0>.<pos 1>...", one position per shard bucket, each
// "<ms>-<seq>:<added>:<tag>" or empty for the zero position. (Older cursors are refused: "r1"
// cannot tell an emptied stream from a new one, "r2" a rewound stream from the original.)
const cursorVersion = "r3"

func (s *Store) decodeCursor(c store.Cursor) ([]position, error) {
	pos := make([]position, s.ks.n)
	if c == "" {
		return pos, nil
	}
	parts := strings.Split(string(c), ".")
	if len(parts) != s.ks.n+2 || parts[0] != cursorVersion || parts[1] != strconv.Itoa(s.ks.n) {
		return nil, store.Invalid("cursor", store.CodeInvalidValue, 0, "not a cursor of this store (another adapter, prefix, shard count or cursor version)")
	}
	for i, p := range parts[2:] {
		if p == "" {
			continue
		}
		f := strings.Split(p, ":")
		if len(f) != 3 || !validTag(f[2]) {
			return nil, store.Invalid("cursor", store.CodeInvalidValue, 0, "stream position %d is malformed", i)
		}
		id, err := parseStreamID(f[0])
		n, nerr := strconv.ParseUint(f[1], 10, 64)
		if err != nil || nerr != nil {
			return nil, store.Invalid("cursor", store.CodeInvalidValue, 0, "stream position %d is malformed", i)
		}
		pos[i] = position{id, n, f[2]}
	}
	return pos, nil
}

func (s *Store) encodeCursor(pos []position) store.Cursor {
	var b strings.Builder
	b.WriteString(cursorVersion + "." + strconv.Itoa(len(pos)))
	for _, p := range pos {
		b.WriteByte('.')
		if !p.zero() {
			b.WriteString(p.id.String())
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(p.added, 10))
			b.WriteByte(':')
			b.WriteString(p.tag)
		}
	}
	return store.Cursor(b.String())
}

// Head returns the cursor at the end of every feed stream (its last-generated ID and
// entries-added, so that an emptied stream keeps its place), in one round trip: one script
// call over all the streams, or on Cluster one per stream, pipelined.
func (s *Store) Head(ctx context.Context) (store.Cursor, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	states, err := s.readStreams(ctx, nil, 0)
	if err != nil {
		return "", s.stopErr(ctx, err)
	}
	pos := make([]position, s.ks.n)
	for b, st := range states {
		pos[b] = st.end()
	}
	return s.encodeCursor(pos), nil
}

// pollCount bounds the entries read from one stream per Changes call.
const pollCount = 1000

// pollBytes bounds the bytes of changes one feed script call reads, once it has read one
// entry (an entry larger than that is read alone): what keeps the call short, in Redis and on
// the wire, when a subscriber is far behind on streams of large commits (purge batches). At
// 256 KB, Verifiers catching up on a purge of 50,000 credentials ran feed scripts of 5.6-8.1 ms
// on two loaded cores (SLOWLOG); a quarter of that copies a quarter of the bytes.
const pollBytes = 64 << 10

// minStep is the shortest wait worth another read of the feed: once less than that would
// be left for a step, Changes stops reading and waits for its caller's deadline.
const minStep = 5 * time.Millisecond

// Changes implements store.Store. Each step reads every stream's state and the entries after
// the cursor, atomically per stream (one script call; on Cluster one per stream, pipelined),
// and returns if it finds commits or a gap. The first step returns at once (on a standalone
// server within a millisecond); the others wait, each for at most the block wait and three
// quarters of the time left before ctx's deadline, so that what a step finds still reaches
// the caller. On a standalone server a step is an XREAD BLOCK over all the streams followed,
// in the same pipeline, by the read above, which runs as soon as a commit wakes the XREAD or
// its block ends. On Redis Cluster, where one XREAD cannot span slots, the first step reads
// without waiting and the others wait for a commit's announcement on a Pub/Sub channel (or
// the step's end), then read.
func (s *Store) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	if err := s.check(ctx); err != nil {
		return store.Batch{}, err
	}
	pos, err := s.decodeCursor(after)
	if err != nil {
		return store.Batch{}, err
	}
	if s.cluster == nil {
		return s.changesStandalone(ctx, pos)
	}
	for {
		// Take the doorbell's current channel before polling, so that a commit landing
		// between the poll and the wait still wakes this call.
		bell := s.bell.current(ctx, s)
		b, ok, err := s.poll(ctx, pos, 0)
		if err != nil {
			return store.Batch{}, s.stopErr(ctx, err)
		}
		if ok {
			return b, nil
		}
		wait, more := stepWait(ctx, s.opt.blockWait)
		if !more {
			return store.Batch{}, s.idle(ctx)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return store.Batch{}, ctx.Err()
		case <-s.closed:
			timer.Stop()
			return store.Batch{}, store.ErrClosed
		case <-bell:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// stepWait returns how long the next step of a Changes call may wait: at most limit, and at
// most three quarters of the time left before ctx's deadline, leaving the last quarter for
// the step's answer to reach the caller. more is false when that is under minStep.
func stepWait(ctx context.Context, limit time.Duration) (wait time.Duration, more bool) {
	wait = limit
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(deadline)*3/4)
	}
	return wait, wait >= minStep
}

// idle waits out a Changes call that has no time left for another step.
func (s *Store) idle(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return store.ErrClosed
	}
}

type pollResult struct {
	b   store.Batch
	ok  bool
	err error
}

// firstStep is the block of a standalone Changes call's first poll: short enough that what
// is already there, commits or a gap, comes back at once, and a blocking read all the same,
// so that a commit landing while the call starts wakes it without another round trip.
const firstStep = time.Millisecond

// changesStandalone polls with a block of firstStep, then loops over polls blocking for a
// step each until one returns something. Each poll runs on its own goroutine so that a done
// context or Close ends Changes at once; the poll itself ends within its step.
func (s *Store) changesStandalone(ctx context.Context, pos []position) (store.Batch, error) {
	limit := s.opt.blockWait
	if rt := s.single.Options().ReadTimeout; rt > 0 && limit > rt/2 {
		limit = rt / 2 // a pipeline's replies must arrive within the client's read timeout
	}
	block := firstStep
	for {
		res := make(chan pollResult, 1)
		go func(block time.Duration) {
			b, ok, err := s.poll(ctx, pos, block)
			res <- pollResult{b, ok, err}
		}(block)
		select {
		case <-ctx.Done():
			return store.Batch{}, ctx.Err()
		case <-s.closed:
			return store.Batch{}, store.ErrClosed
		case r := <-res:
			if r.err != nil {
				return store.Batch{}, s.stopErr(ctx, r.err)
			}
			if r.ok {
				return r.b, nil
			}
		}
		var more bool
		if block, more = stepWait(ctx, limit); !more {
			return store.Batch{}, s.idle(ctx)
		}
	}
}

// doorbell is the store's subscription to the Cluster commit announcements, shared by every
// Changes call. A ring closes the current channel and replaces it.
//
// It subscribes on every master, not through one node: a PUBLISH reaches the subscribers
// of the node that runs it at once, but those of other nodes over the cluster bus, which
// was measured to add up to about 40 ms now and then. Masters added later still ring,
// over the bus.
type doorbell struct {
	mu   sync.Mutex
	subs []*redis.PubSub
	ch   chan struct{}
	on   bool
}

// current returns the channel the next ring closes, subscribing on first use.
func (d *doorbell) current(ctx context.Context, s *Store) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	if !d.on && !s.isClosed() {
		// go-redis keeps each subscription alive and re-subscribes after reconnecting;
		// ctx only bounds the SUBSCRIBE itself. A ring missed meanwhile costs at most one
		// block wait. If listing the masters fails, the next call tries again.
		var mu sync.Mutex
		var subs []*redis.PubSub
		err := s.cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			ps := node.Subscribe(ctx, s.ks.doorbell())
			mu.Lock()
			subs = append(subs, ps)
			mu.Unlock()
			return nil
		})
		for _, ps := range subs {
			msgs := ps.Channel(redis.WithChannelSize(16))
			go func() {
				for range msgs {
					d.ring()
				}
			}()
		}
		d.subs = append(d.subs, subs...)
		d.on = err == nil
	}
	return d.ch
}

func (d *doorbell) ring() {
	d.mu.Lock()
	close(d.ch)
	d.ch = make(chan struct{})
	d.mu.Unlock()
}

func (d *doorbell) close() {
	d.mu.Lock()
	subs := d.subs
	d.subs, d.on = nil, true // never subscribe again
	d.mu.Unlock()
	for _, ps := range subs {
		_ = ps.Close()
	}
}

// stopErr prefers the reasons to stop (closed store, done context) over the Redis error
// they may have caused.
func (s *Store) stopErr(ctx context.Context, err error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return wrap(err)
}

// poll reads every stream's state and the entries after pos, and makes a Batch of them: a
// gap if any stream lost entries the cursor had not read, else the commits read. With block
// > 0 (standalone only) an XREAD BLOCK over every stream goes first in the same pipeline,
// so that the read runs as soon as a commit arrives or the block ends. ok is false when
// there is nothing: no commit and no gap.
func (s *Store) poll(ctx context.Context, pos []position, block time.Duration) (store.Batch, bool, error) {
	states, err := s.readStreams(ctx, pos, block)
	if err != nil {
		return store.Batch{}, false, err
	}
	next := slices.Clone(pos)
	gap := false
	for b, st := range states {
		if st.lost(pos[b]) {
			gap, next[b] = true, st.oldest()
		}
	}
	if gap {
		return store.Batch{Gap: true, Next: s.encodeCursor(next)}, true, nil
	}
	var commits []store.Commit
	atHead := true // each stream read after the call began, atomically: at its head if full
	for b, st := range states {
		atHead = atHead && st.full
		for _, e := range st.entries {
			c := store.Commit{Shard: strconv.Itoa(b), Revision: e.id.revision(), Committed: time.UnixMilli(int64(e.id.ms)).UTC()}
			if err := json.Unmarshal([]byte(e.payload), &c.Changes); err != nil {
				return store.Batch{}, false, fmt.Errorf("decoding a feed entry: %w", err)
			}
			commits = append(commits, c)
		}
		if n := len(st.entries); n > 0 {
			last := st.entries[n-1]
			next[b] = position{last.id, pos[b].added + uint64(n), last.tag}
		}
	}
	if len(commits) == 0 {
		return store.Batch{}, false, nil
	}
	slices.SortStableFunc(commits, func(a, b store.Commit) int {
		if a.Revision != b.Revision {
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Shard, b.Shard)
	})
	return store.Batch{Commits: commits, Next: s.encodeCursor(next), AtHead: atHead}, true, nil
}

// feedEntry is one stream entry: its ID, its changes as JSON, and its commit's tag.
type feedEntry struct {
	id      streamID
	payload string
	tag     string
}

// tagLen is the length of a commit's tag: 64 random bits in base 36, zero-padded.
const tagLen = 13

// newTag returns a random tag for a commit's feed entries.
func newTag() string {
	t := strconv.FormatUint(rand.Uint64(), 36)
	return strings.Repeat("0", tagLen-len(t)) + t
}

// validTag reports whether s is a tag or empty (a position at no entry).
func validTag(s string) bool {
	if s == "" {
		return true
	}
	if len(s) != tagLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// streamState is one feed stream as one script call saw it, with the entries it read after a
// position, atomically. A missing stream reads as one never written to.
type streamState struct {
	// intact is true when the stream still held the position's own entry: nothing after
	// it was trimmed, and the script did not read the fields below but entries.
	intact bool
	// replaced is true when the stream holds an entry at the position's ID written by
	// another commit than the position's: the stream was recreated or rewound since.
	replaced bool
	length   uint64   // entries held
	added    uint64   // entries ever added (entries-added)
	last     streamID // last-generated-id: the ID of the added-th entry
	lastTag  string   // the tag of the last entry (of the last commit, when the stream is empty)
	first    streamID // the oldest entry held, when length > 0
	entries  []feedEntry
	// full is true when entries holds every entry after the position (fewer than the
	// count asked for were returned).
	full bool
}

// end is the position after the stream's last entry: where Head puts a cursor.
func (st streamState) end() position { return position{st.last, st.added, st.lastTag} }

// oldest is the position just before the oldest entry held: where a gap resumes.
func (st streamState) oldest() position {
	if st.length == 0 {
		return st.end()
	}
	return position{st.first.pred(), st.added - st.length, ""}
}

// lost reports whether the stream no longer holds everything that followed p, or is not the
// stream p was taken on at all. Streams only grow at the end and are trimmed from the start
// (the store never XDELs), so the entries trimmed so far are exactly the first
// added-length, and a position's entry is the p.added-th.
func (st streamState) lost(p position) bool {
	if st.intact {
		return false
	}
	if st.replaced {
		return true
	}
	trimmed := st.added - st.length
	switch {
	case st.added < p.added || st.last.less(p.id):
		// Fewer entries were ever added than the cursor counted, or the stream ends
		// before the cursor's entry: it was deleted, flushed or restored from an older
		// copy since.
		return true
	case trimmed > p.added:
		// Entries after the cursor's were trimmed (the stream may be empty now).
		return true
	case trimmed < p.added && p.id.less(st.first):
		// The cursor's entry should still be held, yet the oldest entry held is after
		// it: the stream was recreated.
		return true
	case st.added == p.added && st.last != p.id:
		// Nothing was added since the cursor's entry, yet the stream ends elsewhere.
		return true
	case st.full && uint64(len(st.entries)) != st.added-p.added:
		// The entries after the cursor's are not the ones added after it.
		return true
	}
	return false
}

// readStreams returns the state of every stream and, when pos is not nil, up to count
// entries after pos in each, atomically per stream: one script call over all the streams on
// a standalone server, one per stream on Cluster (pipelined: a round trip per node). With
// block > 0 (standalone only) an XREAD BLOCK over every stream, a wake-up whose reply is
// not used, goes first in the pipeline.
func (s *Store) readStreams(ctx context.Context, pos []position, block time.Duration) ([]streamState, error) {
	n := s.ks.n
	count := 0
	starts := make([]any, n)
	tags := make([]any, n)
	for b := range n {
		starts[b], tags[b] = "0-0", ""
		if pos != nil {
			starts[b], tags[b] = pos[b].id.String(), pos[b].tag
		}
	}
	if pos != nil {
		count = pollCount
	}
	var calls []*redis.Cmd // standalone: one; Cluster: one per stream
	var keys [][]string
	var args [][]any
	if s.cluster == nil {
		all := make([]string, 2*n)
		for b := range n {
			all[b], all[n+b] = s.ks.feed(b).k, s.ks.feedTag(b).k
		}
		keys = [][]string{all}
		a := []any{count, pollBytes}
		for b := range n {
			a = append(a, starts[b], tags[b])
		}
		args = [][]any{a}
	} else {
		for b := range n {
			keys = append(keys, []string{s.ks.feed(b).k, s.ks.feedTag(b).k})
			args = append(args, []any{count, pollBytes, starts[b], tags[b]})
		}
	}
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if block > 0 {
			streams := make([]string, 0, 2*n)
			for b := range n {
				streams = append(streams, s.ks.feed(b).k)
			}
			for b := range n {
				streams = append(streams, starts[b].(string))
			}
			p.XRead(ctx, &redis.XReadArgs{Streams: streams, Count: 1, Block: block})
		}
		for i := range keys {
			calls = append(calls, scriptFeed.EvalSha(ctx, p, keys[i], args[i]...))
		}
		return nil
	})
	states := make([]streamState, 0, n)
	for i, c := range calls {
		v, err := c.Slice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			v, err = scriptFeed.Eval(ctx, s.client, keys[i], args[i]...).Slice()
		}
		if err != nil {
			return nil, err
		}
		for _, raw := range v {
			st, err := parseStreamState(raw, count)
			if err != nil {
				return nil, err
			}
			states = append(states, st)
		}
	}
	if len(states) != n {
		return nil, fmt.Errorf("feed script returned %d streams for %d", len(states), n)
	}
	return states, nil
}

// parseStreamState decodes one stream's part of scriptFeed's reply: length, entries-added,
// last-generated-id, first entry's ID, last entry's tag, the replaced flag, whether the byte
// bound stopped the read, then ID, payload and tag triples.
func parseStreamState(raw any, count int) (streamState, error) {
	var st streamState
	bad := func(what string) (streamState, error) {
		return streamState{}, fmt.Errorf("feed script reply: bad %s", what)
	}
	v, ok := raw.([]any)
	if !ok || len(v) < 7 || (len(v)-7)%3 != 0 {
		return bad("shape")
	}
	length, ok1 := v[0].(int64)
	added, ok2 := v[1].(int64)
	last, ok3 := v[2].(string)
	first, ok4 := v[3].(string)
	lastTag, ok5 := v[4].(string)
	st.intact = length == -1
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !validTag(lastTag) || (length < 0 || added < length) && !st.intact {
		return bad("stream state")
	}
	st.lastTag = lastTag
	replaced, ok6 := v[5].(int64)
	if !ok6 || replaced < 0 || replaced > 1 {
		return bad("replaced flag")
	}
	st.replaced = replaced == 1
	cut, ok7 := v[6].(int64)
	if !ok7 || cut < 0 || cut > 1 {
		return bad("byte-bound flag")
	}
	if !st.intact {
		st.length, st.added = uint64(length), uint64(added)
	}
	var err error
	if st.last, err = parseStreamID(last); err != nil {
		return bad("last-generated-id")
	}
	if st.first, err = parseStreamID(first); err != nil {
		return bad("first entry ID")
	}
	for i := 7; i < len(v); i += 3 {
		at, ok1 := v[i].(string)
		payload, ok2 := v[i+1].(string)
		tag, ok3 := v[i+2].(string)
		id, err := parseStreamID(at)
		if !ok1 || !ok2 || !ok3 || err != nil || !validTag(tag) {
			return bad("entry")
		}
		st.entries = append(st.entries, feedEntry{id, payload, tag})
	}
	st.full = cut == 0 && len(st.entries) < count
	return st, nil
}
