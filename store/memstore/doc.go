// Package memstore is the embedded store.Store: an in-process database on
// github.com/hashicorp/go-memdb with an in-process change feed. It is the default store.
package memstore
