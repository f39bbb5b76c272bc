package credential_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store"
)

// verifier returns a Verifier over st, failing the test on error.
func verifier(tb testing.TB, st store.Store, opts ...credential.Option) *credential.Verifier {
	tb.Helper()
	v, err := credential.NewVerifier(st, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// leaks reports whether the rendered error contains s: a redaction check (an error must not
// repeat a secret input), never a way to tell errors apart.
func leaks(err error, s string) bool { return strings.Contains(fmt.Sprint(err), s) }
