package iprestrict_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/store"
)

func TestParseCIDR(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":          "10.0.0.0/8",
		"192.0.2.7/32":        "192.0.2.7/32",
		"2001:DB8::/32":       "2001:db8::/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"0.0.0.0/0":           "0.0.0.0/0",
		"10.0.0.1/8":          "", // host bits
		"10.0.0.1":            "", // an address, not a prefix
		"fe80::1%eth0/64":     "",
		"::ffff:0.0.0.0/95":   "",
		"":                    "",
		"10.0.0.0/33":         "",
	} {
		got, err := iprestrict.ParseCIDR(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ParseCIDR(%q) = %q, %v; want %q", in, got, err, want)
		}
		var se *store.Error
		if err != nil && (!errors.As(err, &se) || se.Kind != store.ErrInvalid || se.Field != "cidr") {
			t.Errorf("ParseCIDR(%q): %v, want ErrInvalid naming cidr", in, err)
		}
	}
}

// FuzzParseCIDR: what ParseCIDR accepts is what the store keeps (store.CanonicalPrefix), and
// parses back to itself.
func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104", "10.0.0.1/8", "1.2.3.4", "::/0", "%/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := iprestrict.ParseCIDR(s)
		if err != nil {
			return
		}
		if !store.CanonicalPrefix(got) {
			t.Fatalf("ParseCIDR(%q) = %q, not canonical", s, got)
		}
		if again, err := iprestrict.ParseCIDR(got); err != nil || again != got {
			t.Fatalf("ParseCIDR(%q) = %q, %v; want itself", got, again, err)
		}
		if p := netip.MustParsePrefix(got); p.Addr().Is4In6() {
			t.Fatalf("ParseCIDR(%q) = %q: a mapped prefix", s, got)
		}
	})
}
