package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// The cursor is "r1.<shards>.<pos 0>.<pos 1>...", one stream position per shard bucket,
// an empty position standing for 0-0 (before everything).
const cursorVersion = "r1"

func (s *Store) decodeCursor(c store.Cursor) ([]streamID, error) {
	pos := make([]streamID, s.ks.n)
	if c == "" {
		return pos, nil
	}
	parts := strings.Split(string(c), ".")
	if len(parts) != s.ks.n+2 || parts[0] != cursorVersion || parts[1] != strconv.Itoa(s.ks.n) {
		return nil, store.Invalid("cursor", store.CodeInvalidValue, 0, "not a cursor of this store (another adapter, prefix or shard count)")
	}
	for i, p := range parts[2:] {
		id, err := parseStreamID(p)
		if err != nil {
			return nil, store.Invalid("cursor", store.CodeInvalidValue, 0, "stream position %d is malformed", i)
		}
		pos[i] = id
	}
	return pos, nil
}

func (s *Store) encodeCursor(pos []streamID) store.Cursor {
	var b strings.Builder
	b.WriteString(cursorVersion + "." + strconv.Itoa(len(pos)))
	for _, p := range pos {
		b.WriteByte('.')
		if !p.zero() {
			b.WriteString(p.String())
		}
	}
	return store.Cursor(b.String())
}

// Head returns the cursor at the newest entry of every feed stream, in one pipelined round
// trip.
func (s *Store) Head(ctx context.Context) (store.Cursor, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	cmds := make([]*redis.XMessageSliceCmd, s.ks.n)
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for b := range s.ks.n {
			cmds[b] = p.XRevRangeN(ctx, s.ks.feed(b).k, "+", "-", 1)
		}
		return nil
	})
	pos := make([]streamID, s.ks.n)
	for b, c := range cmds {
		msgs, err := c.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return "", wrap(err)
		}
		if len(msgs) > 0 {
			if pos[b], err = parseStreamID(msgs[0].ID); err != nil {
				return "", wrap(err)
			}
		}
	}
	return s.encodeCursor(pos), nil
}

// pollCount bounds the entries read from one stream per Changes call.
const pollCount = 1000

// Changes implements store.Store. Each step reads every stream after the cursor and the
// first entry retained by each stream the cursor has a position in (to detect trimming), in
// one pipelined round trip. On a standalone server the read is one XREAD BLOCK over all the
// streams, bounded by the block wait, and Changes loops over such steps. On Redis Cluster,
// where one XREAD cannot span slots, the read is one non-blocking XREAD per stream (one
// round trip per node, in parallel); between steps Changes waits for a commit's
// announcement on a Pub/Sub channel, or the block wait, whichever comes first.
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
		timer := time.NewTimer(s.opt.blockWait)
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

type pollResult struct {
	b   store.Batch
	ok  bool
	err error
}

// changesStandalone loops over blocking polls (XREAD BLOCK over every stream, then the
// trimming check, in one pipeline) until one returns something. Each poll runs on its own
// goroutine so that a done context or Close ends Changes at once; the poll itself ends
// within the block wait.
func (s *Store) changesStandalone(ctx context.Context, pos []streamID) (store.Batch, error) {
	block := s.opt.blockWait
	if rt := s.single.Options().ReadTimeout; rt > 0 && block > rt/2 {
		block = rt / 2 // a pipeline's replies must arrive within the client's read timeout
	}
	for {
		res := make(chan pollResult, 1)
		go func() {
			b, ok, err := s.poll(ctx, pos, block)
			res <- pollResult{b, ok, err}
		}()
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

// poll reads what follows pos in every stream, then, for each stream the cursor has a
// position in, the first entry retained, to detect trimming. On a standalone server with
// block > 0 the read is an XREAD BLOCK over every stream; the trimming check, queued behind
// it on the connection, runs as soon as it returns. ok is false when there is nothing: no
// commit and no gap.
func (s *Store) poll(ctx context.Context, pos []streamID, block time.Duration) (store.Batch, bool, error) {
	n := s.ks.n
	firsts := make([]*redis.XMessageSliceCmd, n)
	var reads []*redis.XStreamSliceCmd
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if s.cluster == nil {
			streams := make([]string, 0, 2*n)
			for b := range n {
				streams = append(streams, s.ks.feed(b).k)
			}
			for _, q := range pos {
				streams = append(streams, q.String())
			}
			a := &redis.XReadArgs{Streams: streams, Count: pollCount, Block: -1}
			if block > 0 {
				a.Block = block
			}
			reads = append(reads, p.XRead(ctx, a))
		} else {
			for b := range n {
				reads = append(reads, p.XRead(ctx, &redis.XReadArgs{
					Streams: []string{s.ks.feed(b).k, pos[b].String()}, Count: pollCount, Block: -1}))
			}
		}
		for b := range n {
			if !pos[b].zero() {
				firsts[b] = p.XRangeN(ctx, s.ks.feed(b).k, "-", "+", 1)
			}
		}
		return nil
	})
	next := slices.Clone(pos)
	gap := false
	for b, c := range firsts {
		if c == nil {
			continue
		}
		msgs, err := c.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return store.Batch{}, false, err
		}
		if len(msgs) == 0 {
			// The stream is gone (data lost, or flushed): everything after pos is.
			gap, next[b] = true, streamID{}
			continue
		}
		first, err := parseStreamID(msgs[0].ID)
		if err != nil {
			return store.Batch{}, false, err
		}
		// pos is below the first entry's predecessor: pos's own entry was trimmed, and the
		// entries after it may have been too. (Exact trimming keeps one entry more than
		// the retention, so this does not fire while the retention's worth of commits
		// after pos is all still there; a cursor a gap returned sits at the predecessor.)
		if pos[b].less(first.pred()) {
			gap, next[b] = true, first.pred()
		}
	}
	if gap {
		return store.Batch{Gap: true, Next: s.encodeCursor(next)}, true, nil
	}
	var commits []store.Commit
	for _, r := range reads {
		streams, err := r.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return store.Batch{}, false, err
		}
		for _, st := range streams {
			b := s.bucketOfFeed(st.Stream)
			if b < 0 {
				continue
			}
			for _, m := range st.Messages {
				id, err := parseStreamID(m.ID)
				if err != nil {
					return store.Batch{}, false, err
				}
				c := store.Commit{Shard: strconv.Itoa(b), Revision: id.revision()}
				if raw, ok := m.Values["c"].(string); ok {
					if err := json.Unmarshal([]byte(raw), &c.Changes); err != nil {
						return store.Batch{}, false, fmt.Errorf("decoding a feed entry: %w", err)
					}
				}
				commits = append(commits, c)
				next[b] = id
			}
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
	return store.Batch{Commits: commits, Next: s.encodeCursor(next)}, true, nil
}

func (s *Store) bucketOfFeed(stream string) int {
	if b, ok := s.ks.feeds[stream]; ok {
		return b
	}
	return -1
}
