package pgstore

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iamkit/iamkit/store"
)

// ops implements store.WriteOps over one PostgreSQL transaction. View hands it out
// read-only.
type ops struct {
	s     *Store
	tx    pgx.Tx
	write bool

	changes []store.Change
	seen    map[store.Change]int // change with Op empty -> index in changes
	account string               // the account whose records the transaction writes
	user    string               // the first user written, when no account's record is
	// broken is a sticky error that makes the transaction fail whatever fn returns: a
	// serialization failure (the transaction must run again) or a write that would span
	// accounts.
	broken error
}

var _ store.WriteOps = (*ops)(nil)

// table returns the SQL table of kind.
func (o *ops) table(kind store.Kind) (*table, error) {
	t, ok := o.s.tables[kind]
	if !ok {
		return nil, store.Invalid("kind", store.CodeInvalidValue, 0, "no table for %q", kind)
	}
	return t, nil
}

// index returns the table of kind and the columns of its index called name.
func (o *ops) index(kind store.Kind, name string, values []string) (*table, []string, error) {
	t, err := o.table(kind)
	if err != nil {
		return nil, nil, err
	}
	cols, ok := t.index[name]
	if !ok {
		return nil, nil, store.Invalid("index", store.CodeInvalidValue, 0, "table %s has no index %q", kind, name)
	}
	if len(values) != len(cols) {
		return nil, nil, store.Invalid("values", store.CodeInvalidValue, len(cols), "index %s.%s takes %d values, got %d", kind, name, len(cols), len(values))
	}
	return t, cols, nil
}

// fail converts an error of a statement, noting a serialization failure: the transaction is
// then run again whatever fn does with the error.
func (o *ops) fail(ctx context.Context, err error, what string) error {
	if retryable(err) && o.broken == nil {
		o.broken = err
	}
	return o.s.fail(ctx, err, what)
}

// Get implements store.Ops.
func (o *ops) Get(ctx context.Context, kind store.Kind, key string) (any, error) {
	t, err := o.table(kind)
	if err != nil {
		return nil, err
	}
	args, ok := t.keyValues(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return o.one(ctx, t, t.get, args, "get "+string(kind))
}

// one runs a query for at most one record.
func (o *ops) one(ctx context.Context, t *table, sql string, args []any, what string) (any, error) {
	rec, err := t.scan(o.tx.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, o.fail(ctx, err, what)
	}
	return rec, nil
}

// GetMany implements store.Ops: the Gets in one pipelined round trip.
func (o *ops) GetMany(ctx context.Context, refs []store.Ref) ([]any, error) {
	out := make([]any, len(refs))
	b := &pgx.Batch{}
	for i, r := range refs {
		t, err := o.table(r.Kind)
		if err != nil {
			return nil, err
		}
		args, ok := t.keyValues(r.Key)
		if !ok {
			continue
		}
		b.Queue(t.get, args...).QueryRow(func(row pgx.Row) error {
			rec, err := t.scan(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			out[i] = rec
			return err
		})
	}
	if b.Len() == 0 {
		return out, nil
	}
	if err := o.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, o.fail(ctx, err, "get many")
	}
	return out, nil
}

// Find implements store.Ops.
func (o *ops) Find(ctx context.Context, kind store.Kind, index string, values ...string) (any, error) {
	t, cols, err := o.index(kind, index, values)
	if err != nil {
		return nil, err
	}
	if ix, _ := t.Index(index); !ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not unique", kind, index)
	}
	for _, v := range values {
		if !storable(v) || (v == "" && t.partial[index]) {
			return nil, store.ErrNotFound
		}
	}
	sql := "SELECT " + strings.Join(t.columns, ", ") + " FROM " + t.name + " WHERE " + equal(cols, 1)
	return o.one(ctx, t, sql, anys(values), "find "+string(kind))
}

// List implements store.Ops: the index's records in descending primary-key order, below the
// page's bound.
func (o *ops) List(ctx context.Context, kind store.Kind, index string, values []string, p store.Page) ([]any, error) {
	t, cols, err := o.index(kind, index, values)
	if err != nil {
		return nil, err
	}
	if ix, _ := t.Index(index); ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	return o.list(ctx, t, cols, values, p.BeforeID, p.Limit, false)
}

// ListAscending implements store.Ops: the index's records in ascending primary-key order,
// above after.
func (o *ops) ListAscending(ctx context.Context, kind store.Kind, index string, values []string, after string, limit int) ([]any, error) {
	t, cols, err := o.index(kind, index, values)
	if err != nil {
		return nil, err
	}
	if ix, _ := t.Index(index); ix.Unique {
		return nil, store.Invalid("index", store.CodeInvalidValue, 0, "index %s.%s is not a listing index", kind, index)
	}
	if err := (store.Page{Limit: limit}).Validate(); err != nil {
		return nil, err
	}
	return o.list(ctx, t, cols, values, after, limit, true)
}

// list runs the query of one page of a listing index.
func (o *ops) list(ctx context.Context, t *table, cols, values []string, bound string, limit int, asc bool) ([]any, error) {
	kind := t.Kind
	sql, args, ok := listQuery(t, cols, values, bound, limit, asc)
	if !ok {
		return []any{}, nil
	}
	rows, err := o.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, o.fail(ctx, err, "list "+string(kind))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (any, error) { return t.scan(row) })
	if err != nil {
		return nil, o.fail(ctx, err, "list "+string(kind))
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

// listQuery returns the query of one page of a listing index: at most limit records below
// bound in descending primary-key order or, with asc, above it in ascending order; or false
// when no record can match (a value PostgreSQL cannot hold).
func listQuery(t *table, cols, values []string, bound string, limit int, asc bool) (string, []any, bool) {
	if !allStorable(values) || !storable(bound) {
		return "", nil, false
	}
	args := anys(values)
	var sql strings.Builder
	sql.WriteString("SELECT " + strings.Join(t.columns, ", ") + " FROM " + t.name + " WHERE true")
	if len(cols) > 0 {
		sql.WriteString(" AND " + equal(cols, 1))
	}
	cmp, order := " < ", " DESC"
	if asc {
		cmp, order = " > ", " ASC"
	}
	if bound != "" {
		key, ok := t.keyValues(bound)
		if !ok { // a composite key's first part alone: below (above) every key that starts with it
			key = []any{bound, ""}
		}
		sql.WriteString(" AND (" + strings.Join(t.key, ", ") + ")" + cmp + "(" + placeholders(len(args)+1, len(key)) + ")")
		args = append(args, key...)
	}
	sql.WriteString(" ORDER BY " + strings.Join(t.key, order+", ") + order + " LIMIT $" + strconv.Itoa(len(args)+1))
	return sql.String(), append(args, limit), true
}

// Count implements store.Ops.
func (o *ops) Count(ctx context.Context, kind store.Kind, index string, values []string) (int, error) {
	t, cols, err := o.index(kind, index, values)
	if err != nil {
		return 0, err
	}
	if !allStorable(values) {
		return 0, nil
	}
	var n int
	err = o.tx.QueryRow(ctx, "SELECT count(*) FROM "+t.name+" WHERE "+equal(cols, 1), anys(values)...).Scan(&n)
	if err != nil {
		return 0, o.fail(ctx, err, "count "+string(kind))
	}
	return n, nil
}

// Put implements store.WriteOps: an upsert on the primary key. It runs under a savepoint, so
// that a refused write (a unique key taken) leaves the transaction usable, as in the other
// adapters.
func (o *ops) Put(ctx context.Context, kind store.Kind, rec any) error {
	if err := o.writable(); err != nil {
		return err
	}
	t, err := o.table(kind)
	if err != nil {
		return err
	}
	e := &encoder{kind: kind}
	args := t.encode(e, rec)
	if e.err != nil {
		return e.err
	}
	change := t.Change(store.OpPut, rec)
	if err := o.route(change); err != nil {
		return err
	}
	if err := o.savepointed(ctx, t.upsert, args); err != nil {
		return o.writeError(ctx, t, err)
	}
	o.record(change)
	return nil
}

// savepointed runs one statement under a savepoint, in one round trip, and rolls back to the
// savepoint if it fails.
func (o *ops) savepointed(ctx context.Context, sql string, args []any) error {
	b := &pgx.Batch{}
	b.Queue("SAVEPOINT put")
	b.Queue(sql, args...)
	b.Queue("RELEASE SAVEPOINT put")
	err := o.tx.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if err != nil && errors.As(err, &pe) {
		if _, rerr := o.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT put; RELEASE SAVEPOINT put"); rerr != nil {
			return rerr
		}
	}
	return err
}

// writeError converts the error of a write: a constraint the schema holds becomes the error
// the contract names.
func (o *ops) writeError(ctx context.Context, t *table, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return o.fail(ctx, err, "write "+string(t.Kind))
	}
	switch pe.Code {
	case pgUniqueViolation:
		for _, ix := range t.Indexes {
			if pe.ConstraintName == strings.TrimPrefix(t.name, "iamkit.")+"_"+ix.Name+"_key" {
				return store.Conflict(&t.Table, &ix)
			}
		}
		return store.Conflict(&t.Table, &store.Index{Name: "id"})
	case pgForeignKeyViolation, pgCheckViolation, pgNotNullViolation:
		return store.Invalid(string(t.Kind)+"."+constraintColumn(t, pe), store.CodeInvalidValue, 0,
			"refused by the database's constraint %s", pe.ConstraintName)
	}
	if strings.HasPrefix(pe.Code, "22") { // data exception: a value out of the column's range
		field := string(t.Kind)
		if pe.ColumnName != "" {
			field += "." + pe.ColumnName
		}
		return store.Invalid(field, store.CodeInvalidValue, 0, "PostgreSQL cannot store a value (SQLSTATE %s)", pe.Code)
	}
	return o.fail(ctx, err, "write "+string(t.Kind))
}

// constraintColumn returns the column a constraint PostgreSQL named by default is about:
// "bot_users_account_id_fkey" -> "account_id".
func constraintColumn(t *table, pe *pgconn.PgError) string {
	if pe.ColumnName != "" {
		return pe.ColumnName
	}
	c := strings.TrimPrefix(pe.ConstraintName, strings.TrimPrefix(t.name, "iamkit.")+"_")
	for _, suffix := range []string{"_fkey", "_check"} {
		c = strings.TrimSuffix(c, suffix)
	}
	return c
}

// Delete implements store.WriteOps.
func (o *ops) Delete(ctx context.Context, kind store.Kind, key string) error {
	if err := o.writable(); err != nil {
		return err
	}
	t, err := o.table(kind)
	if err != nil {
		return err
	}
	args, ok := t.keyValues(key)
	if !ok {
		return store.ErrNotFound
	}
	rec, err := o.one(ctx, t, t.del, args, "delete "+string(kind))
	if err != nil {
		return err
	}
	change := t.Change(store.OpDelete, rec)
	if err := o.route(change); err != nil {
		o.broken = err // the row is gone in this transaction: it must not commit
		return err
	}
	o.record(change)
	return nil
}

func (o *ops) writable() error {
	if !o.write {
		return store.Invalid("transaction", store.CodeInvalidValue, 0, "View is read-only")
	}
	return nil
}

// route checks that a change keeps the transaction to one account, the unit of atomicity and
// of the feed's shards; users, which belong to none, go with the account's records.
func (o *ops) route(c store.Change) error {
	if o.account != "" && c.AccountID != "" && c.AccountID != o.account {
		return store.Invalid("transaction", store.CodeInvalidValue, 0,
			"an Update writes the records of one account: this one writes in %s and in %s", o.account, c.AccountID)
	}
	return nil
}

// record notes a change made, binding the transaction to its account (or, until an
// account's record is written, to the first user's ID), and collapsing repeated writes of one
// record into its last op.
func (o *ops) record(c store.Change) {
	switch {
	case c.AccountID != "":
		o.account = c.AccountID
	case o.user == "":
		o.user = c.ID
	}
	k := c
	k.Op = ""
	if i, ok := o.seen[k]; ok {
		o.changes[i].Op = c.Op
		return
	}
	o.seen[k] = len(o.changes)
	o.changes = append(o.changes, c)
}

// shardKey returns the ID whose shard tag places the transaction's commit.
func (o *ops) shardKey() string {
	if o.account != "" {
		return o.account
	}
	return o.user
}

func anys(values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

func allStorable(values []string) bool {
	for _, v := range values {
		if !storable(v) {
			return false
		}
	}
	return true
}
