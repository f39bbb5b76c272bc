package memstore

import (
	"context"
	"maps"

	"github.com/iamkit/iamkit/store"
)

// ops implements store.WriteOps over a version: the current one for a View (read-only),
// one being built for an Update.
type ops struct {
	s       *Store
	v       *version
	write   bool
	own     map[store.Kind]bool // tables of v this Update has copied, and so may write
	deleted []string            // credentials deleted: their last-used times go at commit
	changes []store.Change
	seen    map[store.Change]int // change with Op empty -> index in changes
}

var _ store.WriteOps = (*ops)(nil)

// newWriter returns the ops of an Update on base: a version that shares base's tables until
// it writes them.
func newWriter(s *Store, base *version) *ops {
	return &ops{s: s, v: &version{tables: maps.Clone(base.tables)}, write: true,
		own: map[store.Kind]bool{}, seen: map[store.Change]int{}}
}

// table returns the table of kind, or an error for a kind the schema does not have.
func (o *ops) table(kind store.Kind) (*table, error) {
	t, ok := o.v.tables[kind]
	if !ok {
		return nil, store.Invalid("kind", store.CodeInvalidValue, 0, "no table for %q", kind)
	}
	return t, nil
}

// writable returns the table of kind to write to, copying it into the Update's version
// the first time.
func (o *ops) writable(kind store.Kind) (*table, error) {
	if !o.write {
		return nil, store.Invalid("transaction", store.CodeInvalidValue, 0, "View is read-only")
	}
	t, err := o.table(kind)
	if err != nil {
		return nil, err
	}
	if !o.own[kind] {
		t = t.copy()
		o.v.tables[kind] = t
		o.own[kind] = true
	}
	return t, nil
}

func (o *ops) index(kind store.Kind, name string) (*table, store.Index, error) {
	t, err := o.table(kind)
	if err != nil {
		return nil, store.Index{}, err
	}
	ix, ok := t.t.Index(name)
	if !ok {
		return nil, ix, store.Invalid("index", store.CodeInvalidValue, 0, "table %s has no index %q", kind, name)
	}
	return t, ix, nil
}

// listing returns the table of kind and its listing index called name.
func (o *ops) listing(kind store.Kind, name string) (*table, store.Index, error) {
	t, ix, err := o.index(kind, name)
	if err == nil && ix.Unique {
		err = store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, name)
	}
	return t, ix, err
}

// record returns the stored record of t with primary key key, not a copy.
func (t *table) record(key string) (any, bool) {
	r, ok := t.rows.Get(row{key: key})
	return r.rec, ok
}

// Get implements store.Ops.
func (o *ops) Get(_ context.Context, kind store.Kind, key string) (any, error) {
	t, err := o.table(kind)
	if err != nil {
		return nil, err
	}
	rec, ok := t.record(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return t.t.Clone(rec), nil
}

// GetMany implements store.Ops.
func (o *ops) GetMany(ctx context.Context, refs []store.Ref) ([]any, error) {
	out := make([]any, len(refs))
	for i, r := range refs {
		rec, err := o.Get(ctx, r.Kind, r.Key)
		switch {
		case err == nil:
			out[i] = rec
		case err != store.ErrNotFound:
			return nil, err
		}
	}
	return out, nil
}

// Find implements store.Ops.
func (o *ops) Find(_ context.Context, kind store.Kind, index string, values ...string) (any, error) {
	t, ix, err := o.index(kind, index)
	if err != nil {
		return nil, err
	}
	if !ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not unique", kind, index)
	}
	e, ok := t.indexes[index].Get(entry{vals: indexKey(values)})
	if !ok {
		return nil, store.ErrNotFound
	}
	rec, ok := t.record(e.pk)
	if !ok {
		return nil, store.ErrNotFound
	}
	return t.t.Clone(rec), nil
}

// List implements store.Ops: a descending scan of the index from just below the page's bound.
func (o *ops) List(_ context.Context, kind store.Kind, index string, values []string, p store.Page) ([]any, error) {
	t, _, err := o.listing(kind, index)
	if err != nil {
		return nil, err
	}
	vals := indexKey(values)
	from := entry{vals: vals, pk: "\xff"} // above every entry under vals: keys are printable
	if p.BeforeID != "" {
		from = entry{vals: vals, pk: p.BeforeID}
	}
	out := []any{}
	t.indexes[index].Descend(from, func(e entry) bool {
		if e.vals != vals || len(out) >= p.Limit {
			return false
		}
		if e.pk != p.BeforeID {
			if rec, ok := t.record(e.pk); ok {
				out = append(out, t.t.Clone(rec))
			}
		}
		return true
	})
	return out, nil
}

// ListAscending implements store.Ops: an ascending scan of the index from the page's bound.
func (o *ops) ListAscending(_ context.Context, kind store.Kind, index string, values []string, after string, limit int) ([]any, error) {
	t, _, err := o.listing(kind, index)
	if err != nil {
		return nil, err
	}
	if err := (store.Page{Limit: limit}).Validate(); err != nil {
		return nil, err
	}
	vals := indexKey(values)
	out := []any{}
	t.indexes[index].Ascend(entry{vals: vals, pk: after}, func(e entry) bool {
		if e.vals != vals || len(out) >= limit {
			return false
		}
		if after == "" || e.pk != after {
			if rec, ok := t.record(e.pk); ok {
				out = append(out, t.t.Clone(rec))
			}
		}
		return true
	})
	return out, nil
}

// Count implements store.Ops.
func (o *ops) Count(_ context.Context, kind store.Kind, index string, values []string) (int, error) {
	t, _, err := o.listing(kind, index)
	if err != nil {
		return 0, err
	}
	vals := indexKey(values)
	n := 0
	t.indexes[index].Ascend(entry{vals: vals}, func(e entry) bool {
		if e.vals != vals {
			return false
		}
		n++
		return true
	})
	return n, nil
}

// Put implements store.WriteOps.
func (o *ops) Put(_ context.Context, kind store.Kind, rec any) error {
	t, err := o.writable(kind)
	if err != nil {
		return err
	}
	key := t.t.Key(rec)
	if err := t.checkUnique(key, rec); err != nil {
		return err
	}
	if old, ok := t.record(key); ok {
		key = t.t.Key(old) // keep the stored key's memory, which the index entries share
		t.unindex(key, old)
	}
	rec = t.t.Clone(rec)
	t.rows.Set(row{key: key, rec: rec})
	t.index(key, rec)
	o.record(t.t.Change(store.OpPut, rec))
	return nil
}

// checkUnique fails if a record other than key holds one of rec's unique index values.
func (t *table) checkUnique(key string, rec any) error {
	for _, ix := range t.t.Indexes {
		if !ix.Unique {
			continue
		}
		vals, ok := ix.Values(rec)
		if !ok {
			continue
		}
		if e, ok := t.indexes[ix.Name].Get(entry{vals: indexKey(vals)}); ok && e.pk != key {
			return store.Conflict(t.t, &ix)
		}
	}
	return nil
}

// index adds the index entries of the record rec, stored under key.
func (t *table) index(key string, rec any) {
	for _, ix := range t.t.Indexes {
		vals, ok := ix.Values(rec)
		if !ok {
			continue
		}
		tree := t.indexes[ix.Name]
		e := entry{vals: indexKey(vals), pk: key}
		if !ix.Unique {
			// Entries under the same values share one copy of them: a listing index of an
			// account's records holds the account's key once, not once a record.
			tree.Ascend(entry{vals: e.vals}, func(n entry) bool {
				if n.vals == e.vals {
					e.vals = n.vals
				}
				return false
			})
		}
		tree.Set(e)
	}
}

// unindex removes the index entries of the record rec, stored under key.
func (t *table) unindex(key string, rec any) {
	for _, ix := range t.t.Indexes {
		if vals, ok := ix.Values(rec); ok {
			t.indexes[ix.Name].Delete(entry{vals: indexKey(vals), pk: key})
		}
	}
}

// Delete implements store.WriteOps.
func (o *ops) Delete(_ context.Context, kind store.Kind, key string) error {
	t, err := o.writable(kind)
	if err != nil {
		return err
	}
	old, ok := t.record(key)
	if !ok {
		return store.ErrNotFound
	}
	t.unindex(key, old)
	t.rows.Delete(row{key: key})
	if kind == store.KindCredential {
		o.deleted = append(o.deleted, key)
	}
	o.record(t.t.Change(store.OpDelete, old))
	return nil
}

// record notes a change, collapsing repeated writes of one record into its last op.
func (o *ops) record(c store.Change) {
	k := c
	k.Op = ""
	if i, ok := o.seen[k]; ok {
		o.changes[i].Op = c.Op
		return
	}
	o.seen[k] = len(o.changes)
	o.changes = append(o.changes, c)
}
