// Package memstore is the embedded store.Store: an in-process database with an in-process
// change feed. It is the default store.
//
// Each table is a B-tree of records by primary key, with a B-tree per index
// (github.com/tidwall/btree). Updates are serialised; each works on copy-on-write copies of
// the tables it writes and commits by publishing them, so a View reads one snapshot, the
// state committed when it began, without locking out writers. A bot user with its audit
// event takes about 0.9 KB of memory (BENCHMARKS.md).
package memstore
