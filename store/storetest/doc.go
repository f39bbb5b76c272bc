// Package storetest is the conformance suite every store.Store adapter must pass: call Run
// from the adapter's tests.
package storetest
