package credential

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/iamkit/iamkit/store"
)

// MaxAllowedIPs is the most prefixes one credential's address allow-list may hold.
const MaxAllowedIPs = store.MaxAllowedIPs

// NormalizeAllowedIPs validates an address allow-list given by a caller and returns it in
// the canonical form the store keeps (store.Credential.AllowedIPs): each entry an IPv4 or
// IPv6 prefix ("10.0.0.0/8", "2001:db8::/32") or a single address ("192.0.2.7", which becomes
// "192.0.2.7/32"), at most MaxAllowedIPs of them. A prefix with bits set past its length
// ("10.1.2.3/8": did you mean 10.0.0.0/8 or 10.1.2.3/32?), an address with a zone, an IPv4
// address written as IPv6 ("::ffff:10.0.0.1") and a duplicate are refused. Errors match
// store.ErrInvalid with code CodeInvalidAllowedIP and name the entry ("allowed_ips[2]"), or
// the list with its Limit; they never repeat the input. nil and an empty list give nil: any
// address.
func NormalizeAllowedIPs(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	if len(list) > MaxAllowedIPs {
		return nil, &store.Error{
			Kind: store.ErrInvalid, Code: CodeInvalidAllowedIP, Field: "allowed_ips", Limit: MaxAllowedIPs,
			Msg: fmt.Sprintf("%d prefixes at most, got %d", MaxAllowedIPs, len(list)),
		}
	}
	out := make([]string, 0, len(list))
	for i, s := range list {
		p, reason := parseAllowedIP(s)
		if reason == "" && slices.Contains(out, p.String()) {
			reason = "a duplicate of an earlier entry"
		}
		if reason != "" {
			return nil, store.Invalid(fmt.Sprintf("allowed_ips[%d]", i), CodeInvalidAllowedIP, 0, "%s", reason)
		}
		out = append(out, p.String())
	}
	return out, nil
}

// parseAllowedIP parses one entry of an allow-list as a caller gives it, or says what is
// wrong with it.
func parseAllowedIP(s string) (netip.Prefix, string) {
	const want = "must be an IPv4 or IPv6 prefix or address, such as 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7"
	var p netip.Prefix
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return p, "an address with a zone cannot be allowed"
		}
		p = netip.PrefixFrom(a, a.BitLen())
	} else if p, err = netip.ParsePrefix(s); err != nil {
		return p, want
	}
	switch {
	case p.Addr().Is4In6():
		return p, "an IPv4 address must be written as IPv4, not mapped into IPv6"
	case p != p.Masked():
		return p, "bits are set past the prefix length; give the network address or a single address"
	}
	return p, ""
}

// AllowList is a credential's parsed address allow-list: the addresses it may be used from.
// The zero AllowList (no prefixes) allows every address, known or not. An AllowList is
// immutable and safe for concurrent use.
type AllowList struct {
	prefixes []netip.Prefix
	// The prefixes compiled per family into masked words, so that matching an address is a
	// few ANDs and compares per prefix of its family only.
	v4 []prefix4
	v6 []prefix6
}

// prefix4 is an IPv4 prefix: an address matches when addr&mask == net.
type prefix4 struct{ net, mask uint32 }

// prefix6 is an IPv6 prefix, in two 64-bit halves.
type prefix6 struct{ netHi, netLo, maskHi, maskLo uint64 }

// compile adds p to a's per-family lists.
func (a *AllowList) compile(p netip.Prefix) {
	if p.Addr().Is4() {
		b := p.Addr().As4()
		mask := uint32(0)
		if p.Bits() > 0 {
			mask = ^uint32(0) << (32 - p.Bits())
		}
		a.v4 = append(a.v4, prefix4{net: binary.BigEndian.Uint32(b[:]), mask: mask})
		return
	}
	b := p.Addr().As16()
	hi, lo := mask64(p.Bits()), mask64(p.Bits()-64)
	a.v6 = append(a.v6, prefix6{
		netHi: binary.BigEndian.Uint64(b[:8]), netLo: binary.BigEndian.Uint64(b[8:]), maskHi: hi, maskLo: lo,
	})
}

// mask64 is a 64-bit mask of the first bits bits (none for bits <= 0, all for bits >= 64).
func mask64(bits int) uint64 {
	switch {
	case bits <= 0:
		return 0
	case bits >= 64:
		return ^uint64(0)
	}
	return ^uint64(0) << (64 - bits)
}

// ParseAllowList parses an allow-list in the store's canonical form
// (store.Credential.AllowedIPs), once, when a Verifier caches a credential. Errors match
// store.ErrInvalid and name the entry, as NormalizeAllowedIPs's do.
func ParseAllowList(canonical []string) (AllowList, error) {
	if len(canonical) == 0 {
		return AllowList{}, nil
	}
	norm, err := NormalizeAllowedIPs(canonical)
	if err != nil {
		return AllowList{}, err
	}
	a := AllowList{prefixes: make([]netip.Prefix, len(norm))}
	for i, s := range norm {
		if s != canonical[i] {
			return AllowList{}, store.Invalid(fmt.Sprintf("allowed_ips[%d]", i), CodeInvalidAllowedIP, 0, "not in canonical form")
		}
		a.prefixes[i] = netip.MustParsePrefix(s)
		a.compile(a.prefixes[i])
	}
	return a, nil
}

// Empty reports whether a allows every address (it has no prefixes).
func (a AllowList) Empty() bool { return len(a.prefixes) == 0 }

// Prefixes returns a's prefixes in canonical form.
func (a AllowList) Prefixes() []string {
	out := make([]string, len(a.prefixes))
	for i, p := range a.prefixes {
		out[i] = p.String()
	}
	return out
}

// Allows reports whether a credential with this allow-list may be used from addr: always
// when the list is empty; otherwise only when addr is valid and in one of its prefixes. An
// IPv4 address mapped into IPv6 (as a dual-stack listener reports it) is matched as IPv4, and
// a zone is ignored. It does not allocate.
func (a *AllowList) Allows(addr netip.Addr) bool {
	if len(a.prefixes) == 0 {
		return true
	}
	addr = addr.Unmap()
	switch {
	case addr.Is4():
		b := addr.As4()
		w := binary.BigEndian.Uint32(b[:])
		for _, p := range a.v4 {
			if w&p.mask == p.net {
				return true
			}
		}
	case addr.Is6():
		b := addr.As16() // without the zone, which does not matter
		hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
		for _, p := range a.v6 {
			if hi&p.maskHi == p.netHi && lo&p.maskLo == p.netLo {
				return true
			}
		}
	}
	return false
}
