package store

import (
	"context"
	"time"
)

// Backend is what a storage adapter implements: the records of the Schema's tables with their
// indexes, atomic commits with a change feed, last-used times, and single-use keys. It is
// storage, not policy: it enforces the indexes the Schema declares (a unique index refuses a
// second holder) and nothing else. New wraps a Backend into a Store, which applies iamkit's
// rules (validation, fields fixed at creation, credential owners, what a deletion takes with
// it) once for every adapter. The conformance suite in store/storetest proves an adapter.
//
// Implementations must be safe for concurrent use.
type Backend interface {
	// View runs fn with read operations. Each call is atomic and sees only committed data;
	// whether several calls see one snapshot is up to the adapter.
	View(ctx context.Context, fn func(Ops) error) error

	// Update runs fn in a read-write transaction and commits its writes, and one Commit of
	// the changes they make, atomically, if fn returns nil. fn's reads see its own writes.
	// An adapter may run fn again when a concurrent transaction conflicts with it, and fails
	// with ErrUnavailable (code CodeAborted) when it gives up. A transaction should write the
	// records of one account (plus global unique index entries); an adapter that shards may
	// refuse one that spans accounts with ErrInvalid.
	Update(ctx context.Context, fn func(WriteOps) error) error

	// Head, Changes, RecordUse, PutSingleUse and TakeSingleUse are as documented on Store.
	Head(ctx context.Context) (Cursor, error)
	Changes(ctx context.Context, after Cursor) (Batch, error)
	RecordUse(ctx context.Context, uses []Use) error
	PutSingleUse(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	TakeSingleUse(ctx context.Context, key string) ([]byte, error)

	// LastUsed returns the latest uses RecordUse recorded for credentials (time and address),
	// in the order of ids: each Use names its credential, with the zero time and address
	// where none is recorded.
	LastUsed(ctx context.Context, ids []string) ([]Use, error)

	// Close releases the adapter's resources: blocked Changes calls return ErrClosed and
	// later calls fail with it. Calling it again does nothing.
	Close() error
}

// Ops are a Backend's reads. Records are values of the type their table's Kind names
// (Credential for KindCredential); what an adapter returns is the caller's to keep.
type Ops interface {
	// Get returns the record of the table with that primary key, or ErrNotFound.
	Get(ctx context.Context, kind Kind, key string) (any, error)
	// Find returns the record a unique index maps values to, or ErrNotFound.
	Find(ctx context.Context, kind Kind, index string, values ...string) (any, error)
	// List returns, from a listing index, the records whose index values are values, in
	// descending primary-key order, starting below p.BeforeID (a primary key; from the top
	// when empty), at most p.Limit of them. An empty slice when there are none.
	List(ctx context.Context, kind Kind, index string, values []string, p Page) ([]any, error)
	// ListAscending is List in ascending primary-key order (oldest first, for IDs): the
	// records of a listing index whose index values are values, starting above after (a
	// primary key; from the bottom when empty), at most limit (1 to MaxPageLimit) of them.
	// An empty slice when there are none.
	ListAscending(ctx context.Context, kind Kind, index string, values []string, after string, limit int) ([]any, error)
	// Count returns how many records a listing index holds under values.
	Count(ctx context.Context, kind Kind, index string, values []string) (int, error)
	// GetMany is Get for several records, in one round trip where the adapter can: the
	// result holds, for each ref, its record or nil when there is none.
	GetMany(ctx context.Context, refs []Ref) ([]any, error)
}

// LastUsedReader is implemented by Ops that read last-used times themselves, on their own
// connection (an SQL transaction's). Store reads them through it, rather than through
// Backend.LastUsed, so that a read never holds one connection while it waits for another: N
// concurrent transactions would otherwise deadlock a pool of N connections.
type LastUsedReader interface {
	// LastUsed is Backend.LastUsed.
	LastUsed(ctx context.Context, ids []string) ([]Use, error)
}

// Ref names a record by table and primary key.
type Ref struct {
	Kind Kind
	Key  string
}

// WriteOps are the operations of an Update.
type WriteOps interface {
	Ops
	// Put inserts or replaces a record, keeping its table's indexes. It fails with the error
	// Conflict returns when a unique index value is held by another record. It records the
	// table's Change for the commit.
	Put(ctx context.Context, kind Kind, rec any) error
	// Delete deletes a record and its index entries, or fails with ErrNotFound. It records
	// the table's Change for the commit.
	Delete(ctx context.Context, kind Kind, key string) error
}
