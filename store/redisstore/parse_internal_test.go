package redisstore

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// FuzzParsePointer checks that a pointer value reads back as written, whatever its primary
// key holds, and that no value makes parsePointer panic.
func FuzzParsePointer(f *testing.F) {
	f.Add("usr_01J0000000000000000000abcd", int64(1767225600000), "k3x9")
	f.Add("a|b", int64(0), "")
	f.Add("", int64(-1), "n")
	f.Add("acct/usr|x", int64(42), "||")
	f.Fuzz(func(t *testing.T, pk string, lease int64, nonce string) {
		if got, _, ok := parsePointer(pk); !ok && got != pk {
			t.Errorf("parsePointer(%q) = %q without a lease, want the value itself", pk, got)
		}
		if strings.Contains(nonce, "|") {
			return // nonces are base-36 digits
		}
		v := pk + "|" + strconv.FormatInt(lease, 10) + "|" + nonce
		gotPK, gotLease, ok := parsePointer(v)
		if !ok || gotPK != pk || gotLease != lease {
			t.Errorf("parsePointer(%q) = %q, %d, %v; want %q, %d, true", v, gotPK, gotLease, ok, pk, lease)
		}
	})
}

// FuzzParseUse checks that a last use reads back as formatUse wrote it, with or without an
// address, that a value of before addresses were kept (a time alone) still reads, and that
// no value makes parseUse panic.
func FuzzParseUse(f *testing.F) {
	f.Add(int64(1767225600123456789), "192.0.2.7")
	f.Add(int64(0), "")
	f.Add(int64(-62135596800000000), "2001:db8::1")
	f.Add(int64(253402300799999999), "fe80::1%eth0")
	f.Add(int64(1), "not an address")
	f.Fuzz(func(t *testing.T, nanos int64, addr string) {
		parseUse(addr) // any value: no panic
		at := time.Unix(0, nanos).UTC()
		if at.Year() < 0 || at.Year() > 9999 {
			return // outside timeLayout's fixed width
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			ip = netip.Addr{}
		}
		v := formatUse(store.Use{At: at, IP: ip})
		if ip.IsValid() != strings.Contains(v, " ") {
			t.Fatalf("formatUse(%v, %v) = %q", at, ip, v)
		}
		gotAt, gotIP, err := parseUse(v)
		if err != nil || !gotAt.Equal(at) || gotIP != ip {
			t.Fatalf("parseUse(%q) = %v, %v, %v; want %v, %v", v, gotAt, gotIP, err, at, ip)
		}
		// The script compares uses by their first 30 bytes: the time alone.
		if len(formatTime(at)) != 30 {
			t.Fatalf("formatTime(%v) is %d bytes, not the 30 the script compares", at, len(formatTime(at)))
		}
	})
}
