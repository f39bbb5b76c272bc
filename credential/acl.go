package credential

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/iamkit/iamkit/store"
)

// Limits on ACLs, checked by ParseACL.
const (
	// MaxACLRules is the most rules one credential's ACL may have.
	MaxACLRules = 100
	// MaxACLRuleLen is the longest rule, in bytes.
	MaxACLRuleLen = 255
	// MaxLabelKeyLen is the longest label key in a bind:key=value rule, in bytes.
	MaxLabelKeyLen = 63
	// MaxLabelValueLen is the longest label value in a bind:key=value rule, in bytes.
	MaxLabelValueLen = 63
)

const (
	bindPrefix     = "bind:"
	maxHostnameLen = 253
	maxDNSLabelLen = 63
	// maxBindTarget is the longest target AllowsBind looks at: a hostname, ':' and a port.
	maxBindTarget = maxHostnameLen + 1 + 5
)

// aclLimit is the error of an ACL over a size limit: more than MaxACLRules rules (field
// "acl"), or a rule longer than MaxACLRuleLen bytes (field "acl[i]").
func aclLimit(field string, limit, got int, unit string) error {
	return &store.Error{
		Kind: store.ErrInvalid, Code: CodeInvalidACL, Field: field, Limit: limit,
		Msg: fmt.Sprintf("%d %s at most, got %d", limit, unit, got),
	}
}

// aclRule is the error of an invalid rule: reason says what is wrong with it. The rule is
// not repeated: Field "acl[i]" names it.
func aclRule(i int, reason string) error {
	return store.Invalid(fmt.Sprintf("acl[%d]", i), CodeInvalidACL, 0, "%s", reason)
}

// ACL is the parsed list of rules that restricts what an authtoken or an SSH credential may
// bind, following ngrok. Each rule is one of:
//
//	rule                  allows
//	*                     everything: the same as no ACL, stated explicitly
//	bind:*                any endpoint
//	bind:<hostname>       exactly that hostname, e.g. bind:foo.ngrok.app
//	bind:*.<suffix>       any hostname under suffix, at any depth, including wildcard
//	                      endpoints: bind:*.example.com allows x.example.com, a.b.example.com
//	                      and *.example.com, but not example.com
//	bind:<host>:<port>    exactly that TCP address, e.g. bind:1.tcp.ngrok.io:20002
//	bind:<key>=<value>    a labeled endpoint with that label; either side may be *:
//	                      bind:app=* allows app=x, bind:*=example allows x=example
//
// A rule allows what it names and nothing else: a hostname rule allows no address on that
// host, and an address rule no hostname. Hostnames have at least two labels of letters,
// digits and hyphens (an IPv4 address is one; IPv6 is not supported), at most 253 bytes, and match
// case-insensitively. Ports are 1 to 65535, without leading zeros. Label keys and values
// are at most MaxLabelKeyLen and MaxLabelValueLen bytes of letters, digits, '_', '.' and '-'
// and match exactly. There are no other wildcards.
//
// An empty ACL allows everything, as in ngrok. The zero ACL is empty. ACL values are
// immutable and safe for concurrent use; copying one is cheap (it is one string).
type ACL struct {
	// enc is the parsed rules in one compact string (see the acl* constants): a flags byte,
	// then each rule as a tag byte and its parts, in the order given, so that the rules can
	// be given back as they were and matching needs no other memory. "" is the empty ACL.
	enc string
}

// The encoding of an ACL. The first byte is flags; each rule follows as a tag byte, the
// length of its payload in one byte (a rule is at most MaxACLRuleLen bytes), and the payload:
//
//	tag          payload           rule
//	aclAll       (none)            "*"
//	aclBindAll   (none)            "bind:*"
//	aclHost      name              "bind:<name>", name as given
//	aclWildcard  suffix            "bind:*<suffix>", suffix as given, starting with '.'
//	aclAddr      p1 p0 host        "bind:<host>:<port>", port big-endian (it has no leading
//	                               zeros, so its decimal form is the one given)
//	aclLabel     n key value       "bind:<key>=<value>", key n bytes; either side may be "*"
const (
	aclAll byte = 1 + iota
	aclBindAll
	aclHost
	aclWildcard
	aclAddr
	aclLabel
)

// Flags of an encoded ACL, in its first byte: whether it has a rule of each class, so a
// target of a class the ACL has no rule for is refused without walking the rules.
const (
	aclFlagAny   byte = 1 << iota // "*" or "bind:*"
	aclFlagHosts                  // bind:<hostname> or bind:*.<suffix>
	aclFlagAddrs
	aclFlagLabels
)

// ParseACL parses and validates a credential's ACL rules, once, when they are written. nil
// and an empty list give the empty ACL, which allows everything. Errors match
// store.ErrInvalid with code CodeInvalidACL: an invalid rule names it in Field ("acl[2]"), a
// list or a rule over a limit names the list ("acl") or the rule and gives the Limit; only
// the first problem is reported.
func ParseACL(rules []string) (ACL, error) {
	if len(rules) == 0 {
		return ACL{}, nil
	}
	if len(rules) > MaxACLRules {
		return ACL{}, aclLimit("acl", MaxACLRules, len(rules), "rules")
	}
	size := 1
	for _, r := range rules {
		size += 1 + len(r)
	}
	buf := make([]byte, 1, size) // an encoded rule is at most one byte longer than the rule
	for i, r := range rules {
		if len(r) > MaxACLRuleLen {
			return ACL{}, aclLimit(fmt.Sprintf("acl[%d]", i), MaxACLRuleLen, len(r), "bytes")
		}
		var reason string
		if buf, reason = appendRule(buf, r); reason != "" {
			return ACL{}, aclRule(i, reason)
		}
	}
	return ACL{enc: string(buf)}, nil
}

// appendRule appends the encoding of rule r to buf and sets its class in buf[0], or says what
// is wrong with r.
func appendRule(buf []byte, r string) ([]byte, string) {
	if r == "*" {
		buf[0] |= aclFlagAny
		return append(buf, aclAll, 0), ""
	}
	v, ok := strings.CutPrefix(r, bindPrefix)
	if !ok {
		return buf, `a rule must be "*" or start with "bind:"`
	}
	if v == "" {
		return buf, "bind: needs a hostname, a host:port address or a key=value label"
	}
	if v == "*" {
		buf[0] |= aclFlagAny
		return append(buf, aclBindAll, 0), ""
	}
	if key, value, ok := strings.Cut(v, "="); ok {
		if key != "*" && !isLabelPart(key, MaxLabelKeyLen) {
			return buf, fmt.Sprintf("a label key must be * or 1 to %d letters, digits, '_', '.' or '-'", MaxLabelKeyLen)
		}
		if value != "*" && !isLabelPart(value, MaxLabelValueLen) {
			return buf, fmt.Sprintf("a label value must be * or 1 to %d letters, digits, '_', '.' or '-'", MaxLabelValueLen)
		}
		buf[0] |= aclFlagLabels
		buf = append(append(buf, aclLabel, byte(1+len(key)+len(value)), byte(len(key))), key...)
		return append(buf, value...), ""
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		host, port := v[:i], v[i+1:]
		p, ok := parsePort(port)
		if !ok {
			return buf, "an address needs a port from 1 to 65535 (no wildcard, no leading zeros)"
		}
		if strings.HasPrefix(host, "*") {
			return buf, "an address cannot have a wildcard host"
		}
		if reason := checkRuleHostname(host, false); reason != "" {
			return buf, reason
		}
		buf[0] |= aclFlagAddrs
		return append(append(buf, aclAddr, byte(2+len(host)), byte(p>>8), byte(p)), host...), ""
	}
	if reason := checkRuleHostname(v, true); reason != "" {
		return buf, reason
	}
	buf[0] |= aclFlagHosts
	if suffix, ok := strings.CutPrefix(v, "*"); ok {
		return append(append(buf, aclWildcard, byte(len(suffix))), suffix...), "" // ".example.com"
	}
	return append(append(buf, aclHost, byte(len(v))), v...), ""
}

// nextRule returns the tag and payload of the rule at offset i of enc, a valid encoding,
// and the offset of the next rule.
func nextRule(enc string, i int) (tag byte, payload string, next int) {
	next = i + 2 + int(enc[i+1])
	return enc[i], enc[i+2 : next], next
}

// ruleText returns the rule of tag and payload as it was given to ParseACL.
func ruleText(tag byte, p string) string {
	switch tag {
	case aclAll:
		return "*"
	case aclBindAll:
		return "bind:*"
	case aclHost:
		return bindPrefix + p
	case aclWildcard:
		return bindPrefix + "*" + p
	case aclAddr:
		return bindPrefix + p[2:] + ":" + strconv.Itoa(int(p[0])<<8|int(p[1]))
	default:
		k := 1 + int(p[0])
		return bindPrefix + p[1:k] + "=" + p[k:]
	}
}

// Rules returns a copy of the rules as they were given to ParseACL (nil for the empty ACL).
func (a ACL) Rules() []string {
	if a.enc == "" {
		return nil
	}
	rules := make([]string, 0, a.Len())
	for i := 1; i < len(a.enc); {
		tag, p, next := nextRule(a.enc, i)
		rules = append(rules, ruleText(tag, p))
		i = next
	}
	return rules
}

// Len returns the number of rules.
func (a ACL) Len() int {
	n := 0
	for i := 1; i < len(a.enc); i += 2 + int(a.enc[i+1]) {
		n++
	}
	return n
}

// String returns the rules, as fmt prints a []string.
func (a ACL) String() string { return fmt.Sprint(a.Rules()) }

// Unrestricted reports whether the ACL allows everything: it is empty, or has "*" or
// "bind:*".
func (a ACL) Unrestricted() bool { return a.enc == "" || a.enc[0]&aclFlagAny != 0 }

// AllowsBind reports whether the ACL allows binding target: a hostname ("foo.example.com",
// or a wildcard endpoint "*.example.com"), a TCP address ("1.tcp.example.com:20002") or a
// label ("key=value"). It does not allocate.
//
// An unrestricted ACL allows any target without looking at it. Otherwise a target that is
// not well-formed (by the rules in the ACL documentation; a hostname may have a single
// label here) is not allowed.
func (a ACL) AllowsBind(target string) bool {
	if a.Unrestricted() {
		return true
	}
	if len(target) == 0 || len(target) > maxBindTarget {
		return false
	}
	if i := strings.IndexByte(target, '='); i >= 0 {
		key, value := target[:i], target[i+1:]
		if a.enc[0]&aclFlagLabels == 0 || !isLabelPart(key, MaxLabelKeyLen) || !isLabelPart(value, MaxLabelValueLen) {
			return false
		}
		return a.allowsLabel(key, value)
	}
	if i := strings.LastIndexByte(target, ':'); i >= 0 {
		host := target[:i]
		port, ok := parsePort(target[i+1:])
		if !ok || a.enc[0]&aclFlagAddrs == 0 || checkHostname(host, false) != "" {
			return false
		}
		return a.allowsAddr(host, port)
	}
	if a.enc[0]&aclFlagHosts == 0 || checkHostname(target, true) != "" {
		return false
	}
	return a.allowsHost(target)
}

// allowsLabel reports whether a label rule allows key=value, both valid.
func (a ACL) allowsLabel(key, value string) bool {
	for i := 1; i < len(a.enc); {
		tag, p, next := nextRule(a.enc, i)
		i = next
		if tag != aclLabel {
			continue
		}
		k := 1 + int(p[0])
		if rk, rv := p[1:k], p[k:]; (rk == "*" || rk == key) && (rv == "*" || rv == value) {
			return true
		}
	}
	return false
}

// allowsAddr reports whether an address rule allows host:port, host a valid hostname.
func (a ACL) allowsAddr(host string, port uint16) bool {
	for i := 1; i < len(a.enc); {
		tag, p, next := nextRule(a.enc, i)
		i = next
		if tag == aclAddr && uint16(p[0])<<8|uint16(p[1]) == port && equalHostnames(p[2:], host) {
			return true
		}
	}
	return false
}

// allowsHost reports whether a hostname rule allows target, a valid hostname or wildcard
// endpoint.
func (a ACL) allowsHost(target string) bool {
	for i := 1; i < len(a.enc); {
		tag, p, next := nextRule(a.enc, i)
		i = next
		switch {
		case tag == aclHost:
			if equalHostnames(p, target) {
				return true
			}
		case tag == aclWildcard && len(target) > len(p):
			// target has at least one label before the suffix: it was validated.
			if equalHostnames(p, target[len(target)-len(p):]) {
				return true
			}
		}
	}
	return false
}

// checkRuleHostname is checkHostname plus the rule-only requirement of two labels.
func checkRuleHostname(s string, allowWildcard bool) string {
	if reason := checkHostname(s, allowWildcard); reason != "" {
		return reason
	}
	if strings.IndexByte(s, '.') < 0 {
		return "a hostname needs at least two labels, e.g. example.com"
	}
	return ""
}

// checkHostname says what is wrong with s as a hostname, or returns "". With allowWildcard,
// the first label may be "*". The reasons are constants: checking does not allocate.
func checkHostname(s string, allowWildcard bool) string {
	if s == "" {
		return "empty hostname"
	}
	if len(s) > maxHostnameLen {
		return "a hostname is at most 253 bytes"
	}
	rest := s
	if allowWildcard && strings.HasPrefix(s, "*.") {
		rest = s[2:]
	}
	for {
		label := rest
		i := strings.IndexByte(rest, '.')
		if i >= 0 {
			label = rest[:i]
		}
		switch {
		case label == "":
			return "empty hostname label (leading, trailing or double dot)"
		case len(label) > maxDNSLabelLen:
			return "a hostname label is at most 63 bytes"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "a hostname label cannot start or end with '-'"
		}
		for j := 0; j < len(label); j++ {
			c := label[j]
			if c == '*' {
				return "'*' is only allowed as the whole first label of a hostname (*.example.com)"
			}
			if !isAlnum(c) && c != '-' {
				return "a hostname has only letters, digits, '-' and '.'"
			}
		}
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
}

// isLabelPart reports whether s is a valid label key or value (not a wildcard).
func isLabelPart(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// parsePort parses a decimal port from 1 to 65535 without sign or leading zeros.
func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// equalHostnames reports whether a and b are the same hostname, ignoring the case of ASCII
// letters. Both must hold only letters, digits, '-', '.' and '*' (as checkHostname ensures):
// of those bytes, setting bit 0x20 changes only upper-case letters, into lower case.
func equalHostnames(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 {
			return false
		}
	}
	return true
}
