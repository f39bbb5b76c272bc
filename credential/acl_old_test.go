package credential

// The ACL as it was parsed before the compact encoding (issue 12): five fields and a slice
// per class of rule. Kept here, in a test, as the reference the compact form must agree
// with (TestACLMatchesOldParse, FuzzACLMatchesOldParse).

import (
	"fmt"
	"slices"
	"strings"
)

type oldACL struct {
	rules  []string // as given, for Rules
	any    bool     // "*" or "bind:*"
	hosts  []oldHostRule
	addrs  []oldAddrRule
	labels []oldLabelRule
}

// oldHostRule is a bind:<hostname> rule, or bind:*.<suffix> with name ".<suffix>". Lower case.
type oldHostRule struct {
	name     string
	wildcard bool
}

// oldAddrRule is a bind:<host>:<port> rule. host is lower case.
type oldAddrRule struct {
	host string
	port uint16
}

// oldLabelRule is a bind:<key>=<value> rule; "" stands for *.
type oldLabelRule struct {
	key, value string
}

// ParseACL parses and validates a credential's ACL rules, once, when they are written. nil
// and an empty list give the empty ACL, which allows everything. Errors match
// store.ErrInvalid with code CodeInvalidACL: an invalid rule names it in Field ("acl[2]"), a
// list or a rule over a limit names the list ("acl") or the rule and gives the Limit; only
// the first problem is reported.
func parseOldACL(rules []string) (oldACL, error) {
	if len(rules) == 0 {
		return oldACL{}, nil
	}
	if len(rules) > MaxACLRules {
		return oldACL{}, aclLimit("acl", MaxACLRules, len(rules), "rules")
	}
	a := oldACL{rules: slices.Clone(rules)}
	for i, r := range rules {
		if len(r) > MaxACLRuleLen {
			return oldACL{}, aclLimit(fmt.Sprintf("acl[%d]", i), MaxACLRuleLen, len(r), "bytes")
		}
		if reason := a.add(r); reason != "" {
			return oldACL{}, aclRule(i, reason)
		}
	}
	return a, nil
}

// add parses one rule into a, or says what is wrong with it.
func (a *oldACL) add(r string) string {
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
		l := oldLabelRule{key: key, value: value}
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
		a.addrs = append(a.addrs, oldAddrRule{host: strings.ToLower(host), port: p})
		return ""
	}
	if reason := checkRuleHostname(v, true); reason != "" {
		return reason
	}
	h := oldHostRule{name: strings.ToLower(v)}
	if suffix, ok := strings.CutPrefix(h.name, "*"); ok {
		h = oldHostRule{name: suffix, wildcard: true} // ".example.com"
	}
	a.hosts = append(a.hosts, h)
	return ""
}

// Rules returns a copy of the rules as they were given to ParseACL (nil for the empty ACL).
func (a oldACL) Rules() []string { return slices.Clone(a.rules) }

// Len returns the number of rules.
func (a oldACL) Len() int { return len(a.rules) }

// Unrestricted reports whether the ACL allows everything: it is empty, or has "*" or
// "bind:*".
func (a oldACL) Unrestricted() bool { return len(a.rules) == 0 || a.any }

// AllowsBind reports whether the ACL allows binding target: a hostname ("foo.example.com",
// or a wildcard endpoint "*.example.com"), a TCP address ("1.tcp.example.com:20002") or a
// label ("key=value"). It does not allocate.
//
// An unrestricted ACL allows any target without looking at it. Otherwise a target that is
// not well-formed (by the rules in the ACL documentation; a hostname may have a single
// label here) is not allowed.
func (a oldACL) AllowsBind(target string) bool {
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
			if r.port == port && oldEqualFoldLower(r.host, host) {
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
			if oldEqualFoldLower(h.name, target) {
				return true
			}
		} else if len(target) > len(h.name) && oldEqualFoldLower(h.name, target[len(target)-len(h.name):]) {
			return true // target has at least one label before the suffix: it was validated
		}
	}
	return false
}

// oldEqualFoldLower reports whether s equals lower, an ASCII lower-case string, ignoring the
// case of ASCII letters in s.
func oldEqualFoldLower(lower, s string) bool {
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
