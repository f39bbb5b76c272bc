package identity_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

// FuzzCheckName: whatever CheckName accepts is short, valid UTF-8, trimmed, not blank and
// free of control and format characters; it never panics.
func FuzzCheckName(f *testing.F) {
	for _, c := range testenv.BadNames() {
		f.Add(c.Name)
	}
	for _, n := range testenv.GoodNames() {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if identity.CheckName("name", name, true) != nil {
			return
		}
		if len(name) > store.MaxNameLen || !utf8.ValidString(name) || strings.TrimSpace(name) != name || name == "" {
			t.Fatalf("accepted %q", name)
		}
		for _, r := range name {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				t.Fatalf("accepted %q with U+%04X", name, r)
			}
		}
	})
}
