package memstore

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/iamkit/iamkit/store"
)

// ops implements store.WriteOps over a memdb transaction. View hands it out read-only.
type ops struct {
	s       *Store
	txn     *memdb.Txn
	write   bool
	changes []store.Change
	seen    map[store.Change]int // change with Op empty -> index in changes
}

var _ store.WriteOps = (*ops)(nil)

func wrap(err error) error { return fmt.Errorf("memstore: %w", err) }

// table returns the store.Table of kind, or an error for a kind the schema does not have.
func (o *ops) table(kind store.Kind) (store.Table, error) {
	t, ok := o.s.tables[kind]
	if !ok {
		return store.Table{}, store.Invalid("kind", store.CodeInvalidValue, 0, "no table for %q", kind)
	}
	return t, nil
}

func (o *ops) index(kind store.Kind, name string) (store.Table, store.Index, error) {
	t, err := o.table(kind)
	if err != nil {
		return t, store.Index{}, err
	}
	ix, ok := t.Index(name)
	if !ok {
		return t, ix, store.Invalid("index", store.CodeInvalidValue, 0, "table %s has no index %q", kind, name)
	}
	return t, ix, nil
}

// Get implements store.Ops.
func (o *ops) Get(_ context.Context, kind store.Kind, key string) (any, error) {
	t, err := o.table(kind)
	if err != nil {
		return nil, err
	}
	obj, err := o.txn.First(string(kind), idIndex, key)
	if err != nil {
		return nil, wrap(err)
	}
	if obj == nil {
		return nil, store.ErrNotFound
	}
	return t.Clone(obj), nil
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
	obj, err := o.txn.First(string(kind), index, indexKey(values))
	if err != nil {
		return nil, wrap(err)
	}
	if obj == nil {
		return nil, store.ErrNotFound
	}
	return t.Clone(obj), nil
}

// List implements store.Ops: a reverse scan of the index from just below the page's bound.
func (o *ops) List(_ context.Context, kind store.Kind, index string, values []string, p store.Page) ([]any, error) {
	t, ix, err := o.index(kind, index)
	if err != nil {
		return nil, err
	}
	if ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	prefix := indexKey(values)
	from := prefix + "\xff" // above every primary key under prefix
	if p.BeforeID != "" {
		from = prefix + p.BeforeID
	}
	it, err := o.txn.ReverseLowerBound(string(kind), index, from)
	if err != nil {
		return nil, wrap(err)
	}
	out := []any{}
	for obj := it.Next(); obj != nil && len(out) < p.Limit; obj = it.Next() {
		vals, _ := ix.Values(obj)
		if indexKey(vals) != prefix {
			break
		}
		if t.Key(obj) == p.BeforeID {
			continue
		}
		out = append(out, t.Clone(obj))
	}
	return out, nil
}

// ListAscending implements store.Ops: a forward scan of the index from the page's bound.
func (o *ops) ListAscending(_ context.Context, kind store.Kind, index string, values []string, after string, limit int) ([]any, error) {
	t, ix, err := o.index(kind, index)
	if err != nil {
		return nil, err
	}
	if ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	if err := (store.Page{Limit: limit}).Validate(); err != nil {
		return nil, err
	}
	prefix := indexKey(values)
	it, err := o.txn.LowerBound(string(kind), index, prefix+after)
	if err != nil {
		return nil, wrap(err)
	}
	out := []any{}
	for obj := it.Next(); obj != nil && len(out) < limit; obj = it.Next() {
		vals, _ := ix.Values(obj)
		if indexKey(vals) != prefix {
			break
		}
		if after != "" && t.Key(obj) <= after {
			continue
		}
		out = append(out, t.Clone(obj))
	}
	return out, nil
}

// Count implements store.Ops.
func (o *ops) Count(_ context.Context, kind store.Kind, index string, values []string) (int, error) {
	if _, _, err := o.index(kind, index); err != nil {
		return 0, err
	}
	it, err := o.txn.Get(string(kind), index+"_prefix", indexKey(values))
	if err != nil {
		return 0, wrap(err)
	}
	n := 0
	for obj := it.Next(); obj != nil; obj = it.Next() {
		n++
	}
	return n, nil
}

// Put implements store.WriteOps.
func (o *ops) Put(_ context.Context, kind store.Kind, rec any) error {
	if err := o.writable(); err != nil {
		return err
	}
	t, err := o.table(kind)
	if err != nil {
		return err
	}
	key := t.Key(rec)
	if err := o.checkUnique(t, key, rec); err != nil {
		return err
	}
	if err := o.txn.Insert(string(kind), t.Clone(rec)); err != nil {
		return wrap(err)
	}
	o.record(t.Change(store.OpPut, rec))
	return nil
}

// checkUnique fails if a record other than key holds one of rec's unique index values.
func (o *ops) checkUnique(t store.Table, key string, rec any) error {
	for _, ix := range t.Indexes {
		if !ix.Unique {
			continue
		}
		vals, ok := ix.Values(rec)
		if !ok {
			continue
		}
		holder, err := o.txn.First(string(t.Kind), ix.Name, indexKey(vals))
		if err != nil {
			return wrap(err)
		}
		if holder != nil && t.Key(holder) != key {
			return store.Conflict(&t, &ix)
		}
	}
	return nil
}

// Delete implements store.WriteOps.
func (o *ops) Delete(_ context.Context, kind store.Kind, key string) error {
	if err := o.writable(); err != nil {
		return err
	}
	t, err := o.table(kind)
	if err != nil {
		return err
	}
	obj, err := o.txn.First(string(kind), idIndex, key)
	if err != nil {
		return wrap(err)
	}
	if obj == nil {
		return store.ErrNotFound
	}
	if err := o.txn.Delete(string(kind), obj); err != nil {
		return wrap(err)
	}
	if kind == store.KindCredential {
		if _, err := o.txn.DeleteAll(tUsage, idIndex, key); err != nil {
			return wrap(err)
		}
	}
	o.record(t.Change(store.OpDelete, obj))
	return nil
}

func (o *ops) writable() error {
	if !o.write {
		return store.Invalid("transaction", store.CodeInvalidValue, 0, "View is read-only")
	}
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
