package iprestrict

import (
	"net/netip"
	"testing"

	"github.com/iamkit/iamkit/store"
)

func compileAll(t testing.TB, rules ...[2]string) restriction {
	t.Helper()
	var x restriction
	for _, r := range rules {
		c, ok := compileRule(store.IPPolicyRule{Action: r[0], CIDR: r[1]})
		if !ok {
			t.Fatalf("%v does not compile", r)
		}
		x.rules = append(x.rules, c)
	}
	return x
}

// TestRestrictionAllows is the table of how one restriction judges an address.
func TestRestrictionAllows(t *testing.T) {
	x := compileAll(t,
		[2]string{store.IPAllow, "192.0.2.0/24"}, [2]string{store.IPDeny, "192.0.2.128/25"},
		[2]string{store.IPAllow, "192.0.2.200/32"},
		[2]string{store.IPAllow, "2001:db8::/32"}, [2]string{store.IPDeny, "2001:db8:bad::/48"},
		[2]string{store.IPDeny, "198.51.100.0/24"}, [2]string{store.IPAllow, "198.51.100.0/24"}, // a tie: deny wins
	)
	everywhere := compileAll(t, [2]string{store.IPAllow, "0.0.0.0/0"}, [2]string{store.IPAllow, "::/0"})
	for _, c := range []struct {
		x     *restriction
		addr  string
		allow bool
	}{
		{&x, "192.0.2.1", true},
		{&x, "192.0.2.127", true},
		{&x, "192.0.2.128", false},
		{&x, "192.0.2.200", true}, // the /32 is longer than the /25
		{&x, "192.0.3.1", false},  // no rule: refused
		{&x, "198.51.100.1", false},
		{&x, "2001:db8::1", true},
		{&x, "2001:db8:bad::1", false},
		{&x, "2001:db8:bad:1::1", false},
		{&x, "2001:db8:bae::1", true},
		{&x, "::ffff:192.0.2.1", true}, // mapped: judged as IPv4
		{&x, "::c000:201", false},      // IPv4-compatible is IPv6
		{&everywhere, "203.0.113.9", true},
		{&everywhere, "fe80::1", true},
	} {
		a := netip.MustParseAddr(c.addr).Unmap()
		hi, lo := words(a)
		if got := c.x.allows(hi, lo, a.Is4()); got != c.allow {
			t.Errorf("%s: allowed %v, want %v", c.addr, got, c.allow)
		}
	}
}

// TestVerdict: an enforced refusal wins over a warning, an unknown address is refused, and
// an account without restrictions (nil) refuses nothing.
func TestVerdict(t *testing.T) {
	office := compileAll(t, [2]string{store.IPAllow, "10.0.0.0/8"})
	warnOnly, enforced := office, office
	warnOnly.id, enforced.id, enforced.enforced = "ipx_warn", "ipx_enforced", true
	c := &compiled{}
	c.byType[API] = []restriction{warnOnly, enforced}
	c.byType[Agent] = []restriction{warnOnly}
	for _, tc := range []struct {
		c               *compiled
		t               Type
		addr            netip.Addr
		refused, warned string
	}{
		{c, API, netip.MustParseAddr("10.0.0.1"), "", ""},
		{c, API, netip.MustParseAddr("192.0.2.1"), "ipx_enforced", ""},
		{c, API, netip.Addr{}, "ipx_enforced", ""},
		{c, Agent, netip.MustParseAddr("192.0.2.1"), "", "ipx_warn"},
		{c, Dashboard, netip.MustParseAddr("192.0.2.1"), "", ""},
		{nil, API, netip.Addr{}, "", ""},
	} {
		r, w := tc.c.verdict(tc.t, tc.addr)
		if name(r) != tc.refused || name(w) != tc.warned {
			t.Errorf("%s from %v: refused %q warned %q, want %q %q", tc.t, tc.addr, name(r), name(w), tc.refused, tc.warned)
		}
	}
}

func name(x *restriction) string {
	if x == nil {
		return ""
	}
	return x.id
}

// TestMask: every prefix length of both families masks as netip.Prefix.Masked does.
func TestMask(t *testing.T) {
	a4, a6 := netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	for bits := 0; bits <= 128; bits++ {
		if bits <= 32 {
			wh, wl := words(netip.PrefixFrom(a4, bits).Masked().Addr())
			if h, l := mask(32, bits); h != wh || l != wl {
				t.Errorf("/%d v4: %x %x, want %x %x", bits, h, l, wh, wl)
			}
		}
		wh, wl := words(netip.PrefixFrom(a6, bits).Masked().Addr())
		if h, l := mask(128, bits); h != wh || l != wl {
			t.Errorf("/%d v6: %x %x, want %x %x", bits, h, l, wh, wl)
		}
	}
}
