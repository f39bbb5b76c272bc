package credential

import (
	"fmt"
	"slices"
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
// immutable and safe for concurrent use; copying one is cheap.
type ACL struct {
	rules  []string // as given, for Rules
	any    bool     // "*" or "bind:*"
	hosts  []hostRule
	addrs  []addrRule
	labels []labelRule
}

// hostRule is a bind:<hostname> rule, or bind:*.<suffix> with name ".<suffix>". Lower case.
type hostRule struct {
	name     string
	wildcard bool
}

// addrRule is a bind:<host>:<port> rule. host is lower case.
type addrRule struct {
	host string
	port uint16
}

// labelRule is a bind:<key>=<value> rule; "" stands for *.
type labelRule struct {
	key, value string
}

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
	a := ACL{rules: slices.Clone(rules)}
	for i, r := range rules {
		if len(r) > MaxACLRuleLen {
			return ACL{}, aclLimit(fmt.Sprintf("acl[%d]", i), MaxACLRuleLen, len(r), "bytes")
		}
		if reason := a.add(r); reason != "" {
			return ACL{}, aclRule(i, reason)
		}
	}
	return a, nil
}

// add parses one rule into a, or says what is wrong with it.
func (a *ACL) add(r string) string {
	if r == "*" {
		a.any = true
		return ""
	}
	v, ok := strings.CutPrefix(r, bindPrefix)
	if !ok {
		return `a rule must be "*" or start with "bind:"`
	}
	if v == "" {
		return "bind: needs a hostname, a host:port address or a key=value label"
	}
	if v == "*" {
		a.any = true
		return ""
	}
	if key, value, ok := strings.Cut(v, "="); ok {
		l := labelRule{key: key, value: value}
		if key == "*" {
			l.key = ""
		} else if !isLabelPart(key, MaxLabelKeyLen) {
			return fmt.Sprintf("a label key must be * or 1 to %d letters, digits, '_', '.' or '-'", MaxLabelKeyLen)
		}
		if value == "*" {
			l.value = ""
		} else if !isLabelPart(value, MaxLabelValueLen) {
			return fmt.Sprintf("a label value must be * or 1 to %d letters, digits, '_', '.' or '-'", MaxLabelValueLen)
		}
		a.labels = append(a.labels, l)
		return ""
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		host, port := v[:i], v[i+1:]
		p, ok := parsePort(port)
		if !ok {
			return "an address needs a port from 1 to 65535 (no wildcard, no leading zeros)"
		}
		if strings.HasPrefix(host, "*") {
			return "an address cannot have a wildcard host"
		}
		if reason := checkRuleHostname(host, false); reason != "" {
			return reason
		}
		a.addrs = append(a.addrs, addrRule{host: strings.ToLower(host), port: p})
		return ""
	}
	if reason := checkRuleHostname(v, true); reason != "" {
		return reason
	}
	h := hostRule{name: strings.ToLower(v)}
	if suffix, ok := strings.CutPrefix(h.name, "*"); ok {
		h = hostRule{name: suffix, wildcard: true} // ".example.com"
	}
	a.hosts = append(a.hosts, h)
	return ""
}

// Rules returns a copy of the rules as they were given to ParseACL (nil for the empty ACL).
func (a ACL) Rules() []string { return slices.Clone(a.rules) }

// Len returns the number of rules.
func (a ACL) Len() int { return len(a.rules) }

// Unrestricted reports whether the ACL allows everything: it is empty, or has "*" or
// "bind:*".
func (a ACL) Unrestricted() bool { return len(a.rules) == 0 || a.any }

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
		if !isLabelPart(key, MaxLabelKeyLen) || !isLabelPart(value, MaxLabelValueLen) {
			return false
		}
		for _, l := range a.labels {
			if (l.key == "" || l.key == key) && (l.value == "" || l.value == value) {
				return true
			}
		}
		return false
	}
	if i := strings.LastIndexByte(target, ':'); i >= 0 {
		host := target[:i]
		port, ok := parsePort(target[i+1:])
		if !ok || checkHostname(host, false) != "" {
			return false
		}
		for _, r := range a.addrs {
			if r.port == port && equalFoldLower(r.host, host) {
				return true
			}
		}
		return false
	}
	if checkHostname(target, true) != "" {
		return false
	}
	for _, h := range a.hosts {
		if !h.wildcard {
			if equalFoldLower(h.name, target) {
				return true
			}
		} else if len(target) > len(h.name) && equalFoldLower(h.name, target[len(target)-len(h.name):]) {
			return true // target has at least one label before the suffix: it was validated
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

// equalFoldLower reports whether s equals lower, an ASCII lower-case string, ignoring the
// case of ASCII letters in s.
func equalFoldLower(lower, s string) bool {
	if len(lower) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
