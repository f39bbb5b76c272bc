package credential_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store"
)

func TestNormalizeAllowedIPs(t *testing.T) {
	for _, c := range []struct {
		name  string
		in    []string
		want  []string // nil with field: refused
		field string
	}{
		{"none", nil, nil, ""},
		{"empty", []string{}, nil, ""},
		{"ipv4_prefixes", []string{"10.0.0.0/8", "192.168.1.0/24"}, []string{"10.0.0.0/8", "192.168.1.0/24"}, ""},
		{"ipv6_prefixes", []string{"2001:db8::/32", "::/0"}, []string{"2001:db8::/32", "::/0"}, ""},
		{"ipv6_written_long", []string{"2001:DB8:0:0::/64"}, []string{"2001:db8::/64"}, ""},
		{"single_addresses", []string{"192.0.2.7", "2001:db8::1"}, []string{"192.0.2.7/32", "2001:db8::1/128"}, ""},
		{"everything", []string{"0.0.0.0/0", "::/0"}, []string{"0.0.0.0/0", "::/0"}, ""},
		{"host_bits_set", []string{"10.0.0.0/8", "10.1.2.3/8"}, nil, "allowed_ips[1]"},
		{"ipv6_host_bits_set", []string{"2001:db8::1/32"}, nil, "allowed_ips[0]"},
		{"zone", []string{"fe80::1%eth0"}, nil, "allowed_ips[0]"},
		{"mapped_ipv4", []string{"::ffff:192.0.2.7"}, nil, "allowed_ips[0]"},
		{"mapped_ipv4_prefix", []string{"::ffff:10.0.0.0/104"}, nil, "allowed_ips[0]"},
		{"duplicate", []string{"192.0.2.7", "192.0.2.7/32"}, nil, "allowed_ips[1]"},
		{"garbage", []string{"10.0.0.0/8", "intranet"}, nil, "allowed_ips[1]"},
		{"empty_entry", []string{""}, nil, "allowed_ips[0]"},
		{"length_out_of_range", []string{"10.0.0.0/33"}, nil, "allowed_ips[0]"},
		{"too_many", slices.Repeat([]string{"10.0.0.0/8"}, credential.MaxAllowedIPs+1), nil, "allowed_ips"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := credential.NormalizeAllowedIPs(c.in)
			if c.field == "" {
				if err != nil || !slices.Equal(got, c.want) {
					t.Fatalf("NormalizeAllowedIPs(%q) = %q, %v; want %q", c.in, got, err, c.want)
				}
				for _, p := range got {
					if !store.CanonicalPrefix(p) {
						t.Fatalf("%q is not canonical for the store", p)
					}
				}
				return
			}
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != c.field || se.Code != credential.CodeInvalidAllowedIP {
				t.Fatalf("NormalizeAllowedIPs(%q) = %q, %v; want an invalid-argument error on %s", c.in, got, err, c.field)
			}
			if c.field == "allowed_ips" && se.Limit != credential.MaxAllowedIPs {
				t.Fatalf("Limit = %d", se.Limit)
			}
			if len(c.in) > 0 && c.in[len(c.in)-1] != "" && leaks(err, c.in[len(c.in)-1]) && c.name != "too_many" {
				t.Fatalf("the error repeats the input: %v", err)
			}
		})
	}
}

func TestAllowList_Allows(t *testing.T) {
	list, err := credential.ParseAllowList([]string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr  string // "" for the zero Addr: unknown
		allow bool
	}{
		{"10.1.2.3", true},
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"::ffff:10.9.9.9", true}, // IPv4 through a dual-stack listener
		{"::ffff:11.9.9.9", false},
		{"2001:db8:1::5", true},
		{"2001:db9::5", false},
		{"2001:db8::1%eth0", true}, // a zone does not matter
		{"::a00:1", false},         // 10.0.0.1 as IPv4-compatible IPv6 is not IPv4
		{"", false},
	} {
		var a netip.Addr
		if c.addr != "" {
			a = netip.MustParseAddr(c.addr)
		}
		if got := list.Allows(a); got != c.allow {
			t.Errorf("Allows(%s) = %v, want %v", c.addr, got, c.allow)
		}
	}
	var none credential.AllowList
	if !none.Allows(netip.Addr{}) || !none.Allows(netip.MustParseAddr("203.0.113.1")) || !none.Empty() {
		t.Error("the empty allow-list refuses an address")
	}
	if got := list.Prefixes(); !slices.Equal(got, []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"}) {
		t.Errorf("Prefixes() = %q", got)
	}
	addr := netip.MustParseAddr("::ffff:192.0.2.7")
	if n := testing.AllocsPerRun(100, func() { list.Allows(addr) }); n != 0 {
		t.Errorf("Allows allocates %v times", n)
	}
	for _, bad := range [][]string{{"192.0.2.7"}, {"2001:DB8::/32"}, {"10.0.0.1/8"}} {
		if _, err := credential.ParseAllowList(bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseAllowList(%q) = %v, want a refusal of a non-canonical entry", bad, err)
		}
	}
}

// FuzzNormalizeAllowedIPs: whatever NormalizeAllowedIPs accepts is canonical for the store,
// parses back with ParseAllowList to the same list, and allows the network address of each
// prefix; whatever it refuses is an invalid-argument error. It never panics.
func FuzzNormalizeAllowedIPs(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::/0", "fe80::1%eth0", "::ffff:1.2.3.4", "10.1.2.3/8", "", "x", "1.2.3.4/-1"} {
		f.Add(s, "2001:db8::1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		out, err := credential.NormalizeAllowedIPs([]string{a, b})
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != credential.CodeInvalidAllowedIP {
				t.Fatalf("NormalizeAllowedIPs(%q, %q): %v", a, b, err)
			}
			return
		}
		list, err := credential.ParseAllowList(out)
		if err != nil || !slices.Equal(list.Prefixes(), out) {
			t.Fatalf("ParseAllowList(%q) = %q, %v", out, list.Prefixes(), err)
		}
		for _, s := range out {
			if !store.CanonicalPrefix(s) || strings.Contains(s, "%") {
				t.Fatalf("%q (from %q, %q) is not canonical", s, a, b)
			}
			if !list.Allows(netip.MustParsePrefix(s).Addr()) {
				t.Fatalf("the list %q refuses the network address of %s", out, s)
			}
		}
	})
}
