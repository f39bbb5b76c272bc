package credential

import (
	"testing"

	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// memT returns an empty memstore, closed when the test ends.
func memT(tb testing.TB) store.Store {
	tb.Helper()
	st, err := memstore.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// verifierT returns a Verifier over st, failing the test on error.
func verifierT(tb testing.TB, st store.Store, opts ...Option) *Verifier {
	tb.Helper()
	v, err := NewVerifier(st, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
