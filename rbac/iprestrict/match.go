package iprestrict

import (
	"encoding/binary"
	"net/netip"

	"github.com/iamkit/iamkit/store"
)

// Type is what a restriction applies to.
type Type uint8

// The restriction types, ngrok's.
const (
	Dashboard Type = iota // dashboard sign-in and sessions (store.RestrictDashboard)
	API                   // the API, with any bearer credential (store.RestrictAPI)
	Agent                 // agents starting tunnel sessions (store.RestrictAgent)
	numTypes
)

// String returns the type's name in the store and the API: "dashboard", "api" or "agent".
func (t Type) String() string {
	switch t {
	case Dashboard:
		return store.RestrictDashboard
	case API:
		return store.RestrictAPI
	case Agent:
		return store.RestrictAgent
	}
	return "invalid"
}

// typeOf returns the Type named s, and false for none.
func typeOf(s string) (Type, bool) {
	for t := range numTypes {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// rule is one compiled rule: a prefix as masked 128-bit words (IPv4 in the low 32 bits of
// lo, with v4 set), its length and its action.
type rule struct {
	hi, lo   uint64 // the prefix's address, masked
	mhi, mlo uint64 // the mask
	bits     int
	v4, deny bool
}

// compileRule compiles a stored rule. The store keeps prefixes canonical; one that does not
// parse is skipped by the caller (and can hold no address).
func compileRule(r store.IPPolicyRule) (rule, bool) {
	p, err := netip.ParsePrefix(r.CIDR)
	if err != nil {
		return rule{}, false
	}
	p = p.Masked()
	out := rule{bits: p.Bits(), v4: p.Addr().Is4(), deny: r.Action == store.IPDeny}
	width := 128
	if out.v4 {
		width = 32
	}
	out.hi, out.lo = words(p.Addr())
	out.mhi, out.mlo = mask(width, out.bits)
	return out, true
}

// words returns addr as two words: IPv4 in the low 32 bits of lo.
func words(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// mask returns the mask of a prefix of bits bits in an address of width bits (32 or 128).
func mask(width, bits int) (hi, lo uint64) {
	if width == 32 {
		if bits == 0 {
			return 0, 0
		}
		return 0, uint64(^uint32(0) << (32 - bits))
	}
	switch {
	case bits == 0:
		return 0, 0
	case bits <= 64:
		return ^uint64(0) << (64 - bits), 0
	case bits == 128:
		return ^uint64(0), ^uint64(0)
	}
	return ^uint64(0), ^uint64(0) << (128 - bits)
}

// restriction is one compiled restriction: the rules of all its policies.
type restriction struct {
	id       string
	enforced bool
	rules    []rule
}

// allows reports whether the restriction lets an address in (hi, lo, v4 as words returns
// them): the longest matching prefix decides, deny wins a tie, and no match is a refusal.
func (x *restriction) allows(hi, lo uint64, v4 bool) bool {
	best, deny := -1, true
	for i := range x.rules {
		r := &x.rules[i]
		if r.v4 != v4 || hi&r.mhi != r.hi || lo&r.mlo != r.lo {
			continue
		}
		if r.bits > best || (r.bits == best && r.deny) {
			best, deny = r.bits, r.deny
		}
	}
	return !deny
}

// compiled is an account's restrictions by type; nil for an account without any.
type compiled struct {
	byType [numTypes][]restriction
}

// verdict is what check finds: the first enforced restriction that refuses addr, or else
// the first warn-only one that would; nil when every restriction allows it.
func (c *compiled) verdict(t Type, addr netip.Addr) (refused, warned *restriction) {
	if c == nil {
		return nil, nil
	}
	xs := c.byType[t]
	if len(xs) == 0 {
		return nil, nil
	}
	addr = addr.Unmap()
	valid := addr.IsValid()
	var hi, lo uint64
	if valid {
		hi, lo = words(addr)
	}
	v4 := addr.Is4()
	for i := range xs {
		x := &xs[i]
		if valid && x.allows(hi, lo, v4) {
			continue
		}
		if x.enforced {
			return x, nil
		}
		if warned == nil {
			warned = x
		}
	}
	return nil, warned
}
