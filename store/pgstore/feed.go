package pgstore

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iamkit/iamkit/store"
)

// cursor is a position in the feed: the feed's epoch and, for each shard, the revision of
// the last commit read. Its text form, the store.Cursor, is "<epoch>:<rev0>,<rev1>,...".
type cursor struct {
	epoch string
	revs  []uint64
}

// maxEpochLen bounds the epoch a cursor may carry.
const maxEpochLen = 64

// String returns the cursor's text form.
func (c cursor) String() string {
	var b strings.Builder
	b.WriteString(c.epoch)
	b.WriteByte(':')
	for i, r := range c.revs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(r, 10))
	}
	return b.String()
}

// parseCursor parses a cursor's text form. It accepts only what String returns (lower-case
// hex epoch, decimal revisions without leading zeros), so a cursor has one spelling.
func parseCursor(s string) (cursor, error) {
	epoch, list, ok := strings.Cut(s, ":")
	if !ok || !validEpoch(epoch) {
		return cursor{}, errBadCursor()
	}
	parts := strings.Split(list, ",")
	if len(parts) > maxShards {
		return cursor{}, errBadCursor()
	}
	c := cursor{epoch: epoch, revs: make([]uint64, len(parts))}
	for i, p := range parts {
		r, err := strconv.ParseUint(p, 10, 64)
		if err != nil || strconv.FormatUint(r, 10) != p {
			return cursor{}, errBadCursor()
		}
		c.revs[i] = r
	}
	return c, nil
}

func validEpoch(e string) bool {
	if e == "" || len(e) > maxEpochLen {
		return false
	}
	for _, r := range e {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func errBadCursor() error {
	return store.Invalid("cursor", store.CodeInvalidValue, 0, "not a cursor of a PostgreSQL store")
}

// shardOf returns the feed shard of the records whose IDs carry id's shard tag.
func (s *Store) shardOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(store.ShardTag(id)))
	return int(h.Sum32() % uint32(s.shards))
}

// shardName is Commit.Shard: the shard's number, or "" when the feed has one shard.
func (s *Store) shardName(shard int) string {
	if s.shards == 1 {
		return ""
	}
	return strconv.Itoa(shard)
}

// appendSQL appends a commit to its shard's feed. Taking the next revision (the UPDATE of
// the shard's head) is the transaction's last statement: the head's row lock, held until
// COMMIT, makes the commits of a shard take their revisions one after the other in commit
// order, so a reader that sees revision r+1 also sees r. It trims what the retention no
// longer keeps, and notifies the listeners (delivered at COMMIT).
const appendSQL = `
WITH head AS (
	UPDATE iamkit.feed_heads SET rev = rev + 1 WHERE shard = $1 RETURNING rev
), entry AS (
	INSERT INTO iamkit.feed (shard, rev, committed_at, changes)
	SELECT $1, rev, clock_timestamp(), $2 FROM head RETURNING rev
), trimmed AS (
	DELETE FROM iamkit.feed WHERE shard = $1 AND rev <= (SELECT rev FROM head) - $3
)
SELECT rev, pg_notify('iamkit_feed', $1::text) FROM entry`

// appendCommit appends the transaction's changes to the feed.
func (s *Store) appendCommit(ctx context.Context, tx pgx.Tx, o *ops) error {
	_, err := tx.Exec(ctx, appendSQL, s.shardOf(o.shardKey()), o.changes, s.retention)
	return err
}

// Head implements store.Backend.
func (s *Store) Head(ctx context.Context) (store.Cursor, error) {
	if err := s.usable(ctx); err != nil {
		return "", err
	}
	rows, err := s.pool.Query(ctx, `SELECT rev FROM iamkit.feed_heads ORDER BY shard`)
	if err != nil {
		return "", s.fail(ctx, err, "head")
	}
	revs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return "", s.fail(ctx, err, "head")
	}
	c := cursor{epoch: s.epoch, revs: make([]uint64, len(revs))}
	for i, r := range revs {
		c.revs[i] = uint64(r)
	}
	return store.Cursor(c.String()), nil
}

// maxBatch bounds the commits one Changes call returns.
const maxBatch = 1024

// fastPoll is how often a blocked Changes call reads the feed while no LISTEN is in effect
// (the listening connection is being set up, or was lost).
const fastPoll = 100 * time.Millisecond

// Changes implements store.Backend. It reads the commits after the cursor; when there are
// none it waits for a notification, and reads again at least every poll interval and once
// shortly before ctx's deadline, so that a lost notification delays a commit but never loses
// it.
func (s *Store) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	if err := s.usable(ctx); err != nil {
		return store.Batch{}, err
	}
	from, err := s.start(after)
	if err != nil {
		return store.Batch{}, err
	}
	for {
		wake, live := s.listener.wait() // before reading: a commit after the read wakes us
		b, err := s.read(ctx, from)
		if err != nil || b.Gap || len(b.Commits) > 0 {
			return b, err
		}
		if err := s.await(ctx, wake, live); err != nil {
			return store.Batch{}, err
		}
	}
}

// start returns the positions to read after: those of the cursor, all zero for the zero
// cursor, or nil for a cursor of another epoch (another database, or one set up anew), which
// read reports as a gap.
func (s *Store) start(after store.Cursor) ([]uint64, error) {
	if after == "" {
		return make([]uint64, s.shards), nil
	}
	c, err := parseCursor(string(after))
	if err != nil {
		return nil, err
	}
	if c.epoch != s.epoch {
		return nil, nil
	}
	if len(c.revs) != s.shards {
		return nil, store.Invalid("cursor", store.CodeInvalidValue, s.shards, "the cursor has %d shards, the feed %d", len(c.revs), s.shards)
	}
	return c.revs, nil
}

// await waits for a notification, the next poll, ctx or Close.
func (s *Store) await(ctx context.Context, wake <-chan struct{}, live bool) error {
	d := s.poll
	if !live {
		d = min(d, fastPoll)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left <= d {
			d = left / 2 // read once more before the deadline: it must not swallow an answer
		}
	}
	var poll <-chan time.Time
	if d >= time.Millisecond {
		t := time.NewTimer(d)
		defer t.Stop()
		poll = t.C
	}
	select {
	case <-wake:
	case <-poll:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return store.ErrClosed
	}
	return nil
}

// readSQL reads, in one statement and so one snapshot, each shard's head, its oldest
// retained revision, and its commits after the cursor's position ($1, indexed by shard + 1).
const readSQL = `
SELECT h.shard, h.rev, (SELECT min(f.rev) FROM iamkit.feed f WHERE f.shard = h.shard),
	e.rev, e.committed_at, e.changes
FROM iamkit.feed_heads h
LEFT JOIN LATERAL (
	SELECT f.rev, f.committed_at, f.changes FROM iamkit.feed f
	WHERE f.shard = h.shard AND f.rev > ($1::bigint[])[h.shard + 1]
	ORDER BY f.rev LIMIT $2
) e ON true
ORDER BY h.shard, e.rev`

// shardRead is what read finds of one shard.
type shardRead struct {
	head, oldest uint64 // oldest is 0 when the shard retains no commit
	commits      []store.Commit
	times        []time.Time
}

// read returns the commits after positions from (nil: of another epoch), or a gap.
func (s *Store) read(ctx context.Context, from []uint64) (store.Batch, error) {
	positions := make([]int64, s.shards)
	for i := range positions {
		if from != nil {
			positions[i] = int64(min(from[i], 1<<63-1))
		}
	}
	rows, err := s.pool.Query(ctx, readSQL, positions, maxBatch)
	if err != nil {
		return store.Batch{}, s.fail(ctx, err, "read the feed")
	}
	shards := make([]shardRead, s.shards)
	var shard int
	var head int64
	var oldest, rev *int64
	var at *time.Time
	var changes []store.Change
	_, err = pgx.ForEachRow(rows, []any{&shard, &head, &oldest, &rev, &at, &changes}, func() error {
		if shard < 0 || shard >= s.shards {
			return store.Invalid("feed_heads", store.CodeOutOfRange, s.shards, "shard %d outside the feed's %d", shard, s.shards)
		}
		sr := &shards[shard]
		sr.head = uint64(head)
		if oldest != nil {
			sr.oldest = uint64(*oldest)
		}
		if rev != nil {
			sr.commits = append(sr.commits, store.Commit{Shard: s.shardName(shard), Revision: uint64(*rev), Committed: utc(at), Changes: changes})
			sr.times = append(sr.times, utc(at))
		}
		changes = nil
		return nil
	})
	if err != nil {
		return store.Batch{}, s.fail(ctx, err, "read the feed")
	}
	return s.batch(from, shards), nil
}

// batch makes the Batch of what read found: a gap if any shard's position is no longer
// followed by its next commit, the commits of every shard otherwise.
func (s *Store) batch(from []uint64, shards []shardRead) store.Batch {
	next := cursor{epoch: s.epoch, revs: make([]uint64, s.shards)}
	gap := false
	for i, sr := range shards {
		if from == nil {
			next.revs[i], gap = sr.resume(), true
			continue
		}
		next.revs[i] = from[i]
		if sr.gapAfter(from[i]) {
			next.revs[i], gap = sr.resume(), true
		}
	}
	if gap {
		return store.Batch{Gap: true, Next: store.Cursor(next.String())}
	}
	commits := merge(shards, maxBatch)
	for _, c := range commits {
		n, _ := strconv.Atoi(c.Shard) // "" (one shard) is shard 0
		next.revs[n] = c.Revision
	}
	atHead := true // the statement's snapshot holds every commit made before it began
	for i, sr := range shards {
		atHead = atHead && next.revs[i] == sr.head
	}
	return store.Batch{Commits: commits, Next: store.Cursor(next.String()), AtHead: atHead}
}

// gapAfter reports whether the shard cannot say what followed position pos: pos is ahead of
// its head (the database was restored or reset), or the commits after pos are trimmed, or
// the commits it returned skip a revision.
func (sr shardRead) gapAfter(pos uint64) bool {
	switch {
	case pos > sr.head:
		return true
	case pos == sr.head:
		return false
	case len(sr.commits) == 0:
		return true // everything after pos was deleted
	}
	want := pos + 1
	for _, c := range sr.commits {
		if c.Revision != want {
			return true
		}
		want++
	}
	return false
}

// resume is the position a gap's Next gives the shard: just before its oldest retained
// commit, or its head when it retains none.
func (sr shardRead) resume() uint64 {
	if sr.oldest == 0 {
		return sr.head
	}
	return sr.oldest - 1
}

// merge returns at most n commits of the shards, in the order they were committed as far as
// the commit times tell, never reordering the commits of one shard.
func merge(shards []shardRead, n int) []store.Commit {
	var out []store.Commit
	idx := make([]int, len(shards))
	for len(out) < n {
		best := -1
		for i, sr := range shards {
			if idx[i] >= len(sr.commits) {
				continue
			}
			if best < 0 || sr.times[idx[i]].Before(shards[best].times[idx[best]]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, shards[best].commits[idx[best]])
		idx[best]++
	}
	return out
}
