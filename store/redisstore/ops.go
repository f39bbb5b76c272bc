package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

// The Backend's operations, the same for every table of store.Schema(): records are JSON
// under keys made from their table and primary key, and each index of a table is kept by
// keys made from its name and values (see keyspace.index).

var _ store.WriteOps = (*txn)(nil)

// table returns the schema's table of kind.
func (t *txn) table(kind store.Kind) (*store.Table, error) {
	tb, ok := t.s.tables[kind]
	if !ok {
		return nil, store.Invalid("kind", store.CodeInvalidValue, 0, "no table for %q", kind)
	}
	return tb, nil
}

// index returns the table of kind and its index called name, checking that values can
// address it: a per-account index needs at least its first value, the account's ID (a Global
// listing index may have none: it lists a whole table).
func (t *txn) index(kind store.Kind, name string, values []string) (*store.Table, store.Index, error) {
	tb, err := t.table(kind)
	if err != nil {
		return nil, store.Index{}, err
	}
	ix, ok := tb.Index(name)
	if !ok {
		return nil, ix, store.Invalid("index", store.CodeInvalidValue, 0, "table %s has no index %q", kind, name)
	}
	if len(values) == 0 && !ix.Global {
		return nil, ix, store.Invalid("values", store.CodeRequired, 0, "index %s.%s needs its values", kind, name)
	}
	return tb, ix, nil
}

// decode turns a stored value into a record of tb; found is false when there is none.
func decode(tb *store.Table, v val) (rec any, found bool, err error) {
	if !v.ok {
		return nil, false, nil
	}
	rec, err = tb.DecodeJSONString(v.s)
	if err != nil {
		return nil, false, store.Wrap(store.ErrUnavailable, store.CodeInternal, err, "redisstore: a stored %s cannot be decoded", tb.Kind)
	}
	return rec, true, nil
}

// read reads the record of tb with primary key pk.
func (t *txn) read(ctx context.Context, tb *store.Table, pk string) (any, bool, error) {
	vals, err := t.getAll(ctx, []key{t.s.ks.record(tb.Kind, pk)})
	if err != nil {
		return nil, false, err
	}
	return decode(tb, vals[0])
}

// inIndex reports whether rec is in ix under exactly values.
func inIndex(ix store.Index, rec any, values []string) bool {
	got, ok := ix.Values(rec)
	return ok && slices.Equal(got, values)
}

// holds reports whether the record of tb with primary key pk is in ix under values: whether
// an index entry naming it is true.
func (t *txn) holds(ctx context.Context, tb *store.Table, ix store.Index, values []string, pk string) (bool, error) {
	rec, found, err := t.read(ctx, tb, pk)
	return found && inIndex(ix, rec, values), err
}

// Get implements store.Ops.
func (t *txn) Get(ctx context.Context, kind store.Kind, pk string) (any, error) {
	tb, err := t.table(kind)
	if err != nil {
		return nil, err
	}
	rec, found, err := t.read(ctx, tb, pk)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return rec, nil
}

// GetMany implements store.Ops in one pipeline (one per node on Cluster; inside Update, one
// on the pinned connection for the keys it watches).
func (t *txn) GetMany(ctx context.Context, refs []store.Ref) ([]any, error) {
	tables := make([]*store.Table, len(refs))
	keys := make([]key, len(refs))
	for i, r := range refs {
		tb, err := t.table(r.Kind)
		if err != nil {
			return nil, err
		}
		tables[i], keys[i] = tb, t.s.ks.record(r.Kind, r.Key)
	}
	vals, err := t.getAll(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(refs))
	for i, v := range vals {
		if out[i], _, err = decode(tables[i], v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Find implements store.Ops: it reads the index entry, then the record it names, and
// confirms that the record holds the values (an entry of a Global index may be stale).
func (t *txn) Find(ctx context.Context, kind store.Kind, index string, values ...string) (any, error) {
	tb, ix, err := t.index(kind, index, values)
	if err != nil {
		return nil, err
	}
	if !ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not unique", kind, index)
	}
	pk, err := t.holder(ctx, t.s.ks.index(kind, ix, values), ix)
	if err != nil || pk == "" {
		return nil, errOr(err, store.ErrNotFound)
	}
	rec, found, err := t.read(ctx, tb, pk)
	if err != nil {
		return nil, err
	}
	if !found || !inIndex(ix, rec, values) {
		return nil, store.ErrNotFound
	}
	return rec, nil
}

// holder returns the primary key a unique index entry names, or "" when there is none.
func (t *txn) holder(ctx context.Context, k key, ix store.Index) (string, error) {
	if ix.Global {
		return t.pointer(ctx, k)
	}
	vals, err := t.getAll(ctx, []key{k})
	if err != nil || !vals[0].ok {
		return "", err
	}
	return vals[0].s, nil
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// List implements store.Ops. Outside Update, a per-account listing is one script call (plus
// one read of the records that live in another bucket than the index); inside, one read of
// the index and one of its records, both watched. A Global listing reads the index and the
// records in turn until the page is full, dropping the entries their records do not confirm.
func (t *txn) List(ctx context.Context, kind store.Kind, index string, values []string, p store.Page) ([]any, error) {
	tb, ix, err := t.index(kind, index, values)
	if err != nil {
		return nil, err
	}
	if ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	k := t.s.ks.index(kind, ix, values)
	if ix.Global {
		return t.listConfirmed(ctx, tb, ix, values, k, p)
	}
	if t.rw {
		pks, err := t.zrange(ctx, k, p.BeforeID, p.Limit)
		if err != nil {
			return nil, err
		}
		vals, err := t.getAll(ctx, t.recordKeys(tb, pks))
		if err != nil {
			return nil, err
		}
		return confirmed(tb, ix, values, vals)
	}
	vals, foreign, err := t.pageScript(ctx, tb, k, p)
	if err != nil {
		return nil, err
	}
	return decodePage(tb, ix, values, vals, foreign)
}

// decodePage decodes the records of a page the page script read. Those it read itself came
// with the index, atomically, so they are in it; only those read afterwards, from another
// bucket (foreign, in ascending order), are confirmed, as confirmed does.
func decodePage(tb *store.Table, ix store.Index, values []string, vals []val, foreign []int) ([]any, error) {
	out := make([]any, 0, len(vals))
	for i, v := range vals {
		rec, found, err := decode(tb, v)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		if len(foreign) > 0 && foreign[0] == i {
			foreign = foreign[1:]
			if !inIndex(ix, rec, values) {
				continue
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// ListAscending implements store.Ops: one read of the index, then one of its records (both
// watched inside Update). A Global listing reads on until its page is full of confirmed
// records, as List does.
func (t *txn) ListAscending(ctx context.Context, kind store.Kind, index string, values []string, after string, limit int) ([]any, error) {
	tb, ix, err := t.index(kind, index, values)
	if err != nil {
		return nil, err
	}
	if ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	if err := (store.Page{Limit: limit}).Validate(); err != nil {
		return nil, err
	}
	k := t.s.ks.index(kind, ix, values)
	if ix.Global {
		return t.listConfirmedDir(ctx, tb, ix, values, k, after, limit, true)
	}
	pks, err := t.zrangeDir(ctx, k, after, limit, true)
	if err != nil {
		return nil, err
	}
	vals, err := t.getAll(ctx, t.recordKeys(tb, pks))
	if err != nil {
		return nil, err
	}
	return confirmed(tb, ix, values, vals)
}

// recordKeys returns the record keys of primary keys of tb.
func (t *txn) recordKeys(tb *store.Table, pks []string) []key {
	keys := make([]key, len(pks))
	for i, pk := range pks {
		keys[i] = t.s.ks.record(tb.Kind, pk)
	}
	return keys
}

// confirmed decodes the records of a listing, leaving out those that are gone or no longer
// in the index under values (changed between two reads).
func confirmed(tb *store.Table, ix store.Index, values []string, vals []val) ([]any, error) {
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		rec, found, err := decode(tb, v)
		if err != nil {
			return nil, err
		}
		if found && inIndex(ix, rec, values) {
			out = append(out, rec)
		}
	}
	return out, nil
}

// listConfirmed reads a page of a Global listing index, whose entries may be stale (added
// before a commit that did not happen, or not yet removed after one): it reads entries and
// their records until it has p.Limit confirmed records or the index is exhausted.
func (t *txn) listConfirmed(ctx context.Context, tb *store.Table, ix store.Index, values []string, k key, p store.Page) ([]any, error) {
	return t.listConfirmedDir(ctx, tb, ix, values, k, p.BeforeID, p.Limit, false)
}

// listConfirmedDir is listConfirmed in either direction: with asc, above from, ascending.
func (t *txn) listConfirmedDir(ctx context.Context, tb *store.Table, ix store.Index, values []string, k key, from string, limit int, asc bool) ([]any, error) {
	out := []any{}
	before := from
	for len(out) < limit {
		want := limit - len(out)
		pks, err := t.zrangeDir(ctx, k, before, want, asc)
		if err != nil || len(pks) == 0 {
			return out, err
		}
		vals, err := t.getAll(ctx, t.recordKeys(tb, pks))
		if err != nil {
			return nil, err
		}
		recs, err := confirmed(tb, ix, values, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if len(pks) < want {
			break
		}
		before = pks[len(pks)-1]
	}
	return out, nil
}

// pageScript reads a page of a listing index and its records with one call, a first page
// with pageSort while the server accepts it, any other with scriptPage, and reads, in a
// second round trip, the records that live in another bucket than the index (keys whose
// first ID does not carry the index's tag); it returns the records and the positions of
// those, ascending.
func (t *txn) pageScript(ctx context.Context, tb *store.Table, k key, p store.Page) ([]val, []int, error) {
	head := t.s.ks.heads[k.b] + recordTail(tb.Kind)
	var (
		pks, recs []string
		vals      []val
		foreign   []int
		sorted    bool
		err       error
	)
	if p.BeforeID == "" && !t.s.noSort.Load() && sortablePattern(head) {
		// The records alone; their keys too only when one is missing (a record of another
		// bucket, or one deleted since its index entry was read): a second round trip then.
		pks, vals, sorted, err = t.pageSort(ctx, k, head, p.Limit, false)
		if err == nil && sorted && slices.ContainsFunc(vals, func(v val) bool { return !v.ok }) {
			pks, vals, sorted, err = t.pageSort(ctx, k, head, p.Limit, true)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if !sorted {
		top := "+"
		if p.BeforeID != "" {
			top = "(" + p.BeforeID
		}
		r, err := scriptPage.Run(ctx, t.s.client, []string{k.k},
			top, p.Limit, head, t.s.ks.n, k.b).StringSlice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, nil, wrap(err)
		}
		if pks, recs, err = splitPage(r); err != nil {
			return nil, nil, err
		}
		vals = make([]val, len(pks))
	}
	for i, pk := range pks {
		if t.s.ks.bucket(pk) != k.b {
			foreign = append(foreign, i)
			continue
		}
		if sorted {
			continue // pageSort filled vals[i]
		}
		if len(recs) == 0 {
			return nil, nil, errPageReply()
		}
		if recs[0] != "" {
			vals[i] = val{s: recs[0], ok: true}
		}
		recs = recs[1:]
	}
	if len(foreign) == 0 {
		return vals, nil, nil
	}
	keys := make([]key, len(foreign))
	for j, i := range foreign {
		keys[j] = t.s.ks.record(tb.Kind, pks[i])
	}
	fv, err := t.getAll(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	for j, i := range foreign {
		vals[i] = fv[j]
	}
	return vals, foreign, nil
}

// pageSort reads the records of the first limit primary keys of the listing index k, newest
// first, in one SORT_RO that Redis runs in C: BY nosort keeps the sorted set's order (all
// scores are 0: reverse lexical order, as ZREVRANGEBYLEX), and GET head* reads each record
// under the bucket's head, in the same slot as the index. A key of another bucket has no
// record there (nil); the caller reads it. With withKeys it returns the primary keys too
// (GET #), which the caller needs only to place a record that is missing. It reads what
// scriptPage reads, atomically as well, for a fifth of Redis's time (the script moves every
// record through Lua: examples/apiserver/BENCHMARKS.md). ok is false, with no error, when
// the server refuses the command: s.noSort is set and the caller uses scriptPage.
func (t *txn) pageSort(ctx context.Context, k key, head string, limit int, withKeys bool) (pks []string, vals []val, ok bool, err error) {
	args := []any{"SORT_RO", k.k, "BY", "nosort", "LIMIT", 0, limit, "DESC", "GET", head + "*"}
	if withKeys {
		args = append(args[:8], "GET", "#", "GET", head+"*")
	}
	r, err := t.s.client.Do(ctx, args...).Slice()
	var rerr redis.Error
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil, true, nil
	case errors.As(err, &rerr) && !slotMoved(err):
		t.s.noSort.Store(true) // an unknown command, or a pattern the server does not allow
		return nil, nil, false, nil
	case err != nil:
		return nil, nil, false, wrap(err)
	case withKeys && len(r)%2 != 0:
		return nil, nil, false, errPageReply()
	}
	if !withKeys {
		vals = make([]val, len(r))
		for i, rec := range r {
			switch rec := rec.(type) {
			case string:
				vals[i] = val{s: rec, ok: true}
			case nil:
			default:
				return nil, nil, false, errPageReply()
			}
		}
		return nil, vals, true, nil
	}
	pks, vals = make([]string, len(r)/2), make([]val, len(r)/2)
	for i := range pks {
		pk, isStr := r[2*i].(string)
		if !isStr {
			return nil, nil, false, errPageReply()
		}
		pks[i] = pk
		switch rec := r[2*i+1].(type) {
		case string:
			vals[i] = val{s: rec, ok: true}
		case nil: // no record: gone, or of another bucket
		default:
			return nil, nil, false, errPageReply()
		}
	}
	return pks, vals, true, nil
}

// sortablePattern reports whether head+"*" is a SORT GET pattern that reads exactly the keys
// head+member: its only '*' the one at the end, and no "->" (a hash field).
func sortablePattern(head string) bool {
	return !strings.Contains(head, "*") && !strings.Contains(head, "->")
}

// errPageReply is the error of a page script reply that is not what scriptPage returns.
func errPageReply() error {
	return store.Wrap(store.ErrUnavailable, store.CodeInternal, errors.New("malformed reply"), "redisstore: the page script's reply cannot be read")
}

// splitPage splits scriptPage's reply into the page's primary keys and the records that
// follow them.
func splitPage(r []string) (pks, recs []string, err error) {
	if len(r) == 0 {
		return nil, nil, nil // redis.Nil: no reply
	}
	n, err := strconv.Atoi(r[0])
	if err != nil || n < 0 || n > len(r)-1 {
		return nil, nil, errPageReply()
	}
	return r[1 : 1+n], r[1+n:], nil
}

// Count implements store.Ops: the cardinality of the listing index's sorted set (watched
// inside Update) with the transaction's buffered changes applied. A Global index counts
// the entries its records confirm.
func (t *txn) Count(ctx context.Context, kind store.Kind, index string, values []string) (int, error) {
	tb, ix, err := t.index(kind, index, values)
	if err != nil {
		return 0, err
	}
	if ix.Unique {
		return 0, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	k := t.s.ks.index(kind, ix, values)
	if !ix.Global {
		return t.zcard(ctx, k)
	}
	n := 0
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		recs, err := t.listConfirmed(ctx, tb, ix, values, k, p)
		if err != nil {
			return 0, err
		}
		n += len(recs)
		if len(recs) < p.Limit {
			return n, nil
		}
		p.BeforeID = tb.Key(recs[len(recs)-1])
	}
}

func (t *txn) writable() error {
	if !t.rw {
		return store.Invalid("transaction", store.CodeInvalidValue, 0, "View is read-only")
	}
	return nil
}

// entry is one index's part in a Put: the values the stored record has in it (old) and
// those the new one has (new).
type entry struct {
	ix           store.Index
	old, new     []string
	inOld, inNew bool
}

// Put implements store.WriteOps. It reads the stored record and the unique index entries of
// the new one in one round trip, checks every unique index before it changes anything (a
// Put that fails leaves the transaction as it was), then buffers the record, moves its
// index entries and records the change.
func (t *txn) Put(ctx context.Context, kind store.Kind, rec any) error {
	if err := t.writable(); err != nil {
		return err
	}
	tb, err := t.table(kind)
	if err != nil {
		return err
	}
	pk := tb.Key(rec)
	rk := t.s.ks.record(kind, pk)
	keys := []key{rk}
	for _, ix := range tb.Indexes {
		if vals, ok := ix.Values(rec); ok && ix.Unique {
			keys = append(keys, t.s.ks.index(kind, ix, vals))
		}
	}
	vals, err := t.getAll(ctx, keys)
	if err != nil {
		return err
	}
	old, found, err := decode(tb, vals[0])
	if err != nil {
		return err
	}
	entries := changedEntries(tb, old, found, rec)
	for _, e := range entries {
		if err := t.checkUnique(ctx, tb, e, pk); err != nil {
			return err
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return store.Wrap(store.ErrInvalid, store.CodeInternal, err, "redisstore: encoding a %s", kind)
	}
	for _, e := range entries {
		t.moveEntry(kind, tb, e, pk)
	}
	t.set(rk, string(data))
	t.record(rk.b, tb.Change(store.OpPut, rec))
	return nil
}

// changedEntries returns the indexes whose entry for the record changes when old (if
// found) is replaced by rec.
func changedEntries(tb *store.Table, old any, found bool, rec any) []entry {
	var out []entry
	for _, ix := range tb.Indexes {
		e := entry{ix: ix}
		e.new, e.inNew = ix.Values(rec)
		if found {
			e.old, e.inOld = ix.Values(old)
		}
		if e.inOld == e.inNew && (!e.inNew || slices.Equal(e.old, e.new)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// checkUnique fails with the table's conflict error when another record holds the new
// values of a unique index.
func (t *txn) checkUnique(ctx context.Context, tb *store.Table, e entry, pk string) error {
	if !e.ix.Unique || !e.inNew {
		return nil
	}
	cur, err := t.holder(ctx, t.s.ks.index(tb.Kind, e.ix, e.new), e.ix)
	if err != nil || cur == "" || cur == pk {
		return err
	}
	if !e.ix.Global {
		// Per-account entries commit with their records: the entry is the truth.
		return store.Conflict(tb, &e.ix)
	}
	held, err := t.holds(ctx, tb, e.ix, e.new, cur)
	if err != nil {
		return err
	}
	if held {
		return store.Conflict(tb, &e.ix)
	}
	return nil
}

// moveEntry buffers the change of one index's entry for the record pk: out of the old
// values, into the new ones.
func (t *txn) moveEntry(kind store.Kind, tb *store.Table, e entry, pk string) {
	if e.inOld {
		t.removeEntry(kind, e.ix, e.old, pk)
	}
	if !e.inNew {
		return
	}
	k := t.s.ks.index(kind, e.ix, e.new)
	switch {
	case e.ix.Unique && e.ix.Global:
		t.claimPointer(k, pk, tb, e.ix, e.new)
	case e.ix.Unique:
		t.set(k, pk)
	default:
		t.sortedSet(k).addMember(pk)
	}
}

// removeEntry buffers the removal of the record pk's entry under values from an index.
func (t *txn) removeEntry(kind store.Kind, ix store.Index, values []string, pk string) {
	k := t.s.ks.index(kind, ix, values)
	switch {
	case ix.Unique && ix.Global:
		t.dropPointer(k, pk)
	case ix.Unique:
		t.del(k)
	default:
		t.sortedSet(k).removeMember(pk)
	}
}

// Delete implements store.WriteOps: it buffers the deletion of the record and of its index
// entries (and, for a credential, of its last-used time) and records the change.
func (t *txn) Delete(ctx context.Context, kind store.Kind, pk string) error {
	if err := t.writable(); err != nil {
		return err
	}
	tb, err := t.table(kind)
	if err != nil {
		return err
	}
	rk := t.s.ks.record(kind, pk)
	old, found, err := t.read(ctx, tb, pk)
	if err != nil {
		return err
	}
	if !found {
		return store.ErrNotFound
	}
	for _, ix := range tb.Indexes {
		if vals, ok := ix.Values(old); ok {
			t.removeEntry(kind, ix, vals, pk)
		}
	}
	t.del(rk)
	if kind == store.KindCredential {
		t.hdels = append(t.hdels, t.s.ks.lastUsed(rk.b))
		t.hdelIDs = append(t.hdelIDs, pk)
	}
	t.record(rk.b, tb.Change(store.OpDelete, old))
	return nil
}
