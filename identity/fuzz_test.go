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

// FuzzNormalizeEmail: whatever NormalizeEmail accepts comes out ASCII, lower-case, within the
// limits, with one @, and canonical (normalising it again, or its upper-case form, gives it
// back); anything with a byte >= 0x80 is refused. It never panics.
func FuzzNormalizeEmail(f *testing.F) {
	for _, c := range testenv.LookalikeEmails() {
		f.Add(c.Email)
		f.Add(c.Of)
	}
	for _, s := range []string{"Alice@Example.COM", `"q"@example.com`, "a@[127.0.0.1]", "a..b@example.com", "a@b-.c", " x@y.z\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := identity.NormalizeEmail(in)
		if err != nil {
			return
		}
		for i := 0; i < len(in); i++ {
			if in[i] >= 0x80 {
				t.Fatalf("accepted non-ASCII %q as %q", in, out)
			}
		}
		if len(out) > identity.MaxEmailLen || strings.Count(out, "@") != 1 || strings.ToLower(out) != out {
			t.Fatalf("%q normalised to %q", in, out)
		}
		if again, err := identity.NormalizeEmail(strings.ToUpper(out)); err != nil || again != out {
			t.Fatalf("%q: not canonical: %q -> %q, %v", in, out, again, err)
		}
	})
}
