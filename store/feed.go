package store

import "time"

// Cursor is a position in the change feed. It is opaque: adapters encode what they need (a
// counter, or one stream position per shard). The zero Cursor means "before the first commit":
// once the store has trimmed commits, Changes from it reports a gap.
type Cursor string

// Op is what a change did to a record.
type Op string

// Change operations.
const (
	OpPut    Op = "put"
	OpDelete Op = "delete"
)

// Change is one record written or deleted by a commit, audit events included. For
// memberships ID is the user ID; for accounts AccountID and ID are both the account's ID; for
// external identities ID is the linked user's ID.
type Change struct {
	Kind      Kind   `json:"kind"`
	Op        Op     `json:"op"`
	AccountID string `json:"account_id,omitempty"` // empty for users
	ID        string `json:"id"`
}

// Commit is the set of changes of one committed Update. Revision orders the commits of one
// shard; Shard names it ("" when the store has one). Committed is when the store committed it,
// by the store's clock (Redis's and PostgreSQL's server time, memstore's Clock), zero when the
// adapter does not know; it is for measuring how long changes take to reach caches, not for
// ordering.
type Commit struct {
	Shard     string    `json:"shard,omitempty"`
	Revision  uint64    `json:"revision"`
	Committed time.Time `json:"committed,omitzero"`
	Changes   []Change  `json:"changes"`
}

// Batch is what Store.Changes returns.
type Batch struct {
	Commits []Commit
	// Next is the cursor to pass to the next Changes call.
	Next Cursor
	// Gap reports that commits were missed: flush every cache derived from the store.
	Gap bool
	// AtHead reports that Commits end at the feed's head as the store read it: every commit
	// made before the Changes call began is in this batch or an earlier one. A batch cut
	// short by a size bound is not at the head, nor is a gap. A Follower counts itself in
	// sync as of a call's start only when its batch is at the head (or when Head confirms
	// it), which is what lets caches bound their staleness exactly (Follower.Synced).
	AtHead bool
}
