package credential

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/iamkit/iamkit/store"
)

func mustACL(t testing.TB, rules ...string) ACL {
	t.Helper()
	a, err := ParseACL(rules)
	if err != nil {
		t.Fatalf("ParseACL(%q): %v", rules, err)
	}
	return a
}

func TestAllowsBind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rules  []string
		allow  []string
		refuse []string
	}{
		{
			name:  "empty ACL allows everything",
			rules: nil,
			allow: []string{"foo.example.com", "x=y", "1.tcp.ngrok.io:20002", "", "not a target"},
		},
		{
			name:  "star allows everything",
			rules: []string{"*"},
			allow: []string{"foo.example.com", "x=y", "1.tcp.ngrok.io:20002", "anything"},
		},
		{
			name:  "bind:* allows all endpoints",
			rules: []string{"bind:*"},
			allow: []string{"foo.ngrok.app", "app=x", "1.tcp.ngrok.io:20002"},
		},
		{
			name:   "star among other rules",
			rules:  []string{"bind:a.example.com", "*"},
			allow:  []string{"b.example.com", "k=v"},
			refuse: nil,
		},
		{
			name:   "exact hostname (ngrok: bind:foo.ngrok.app)",
			rules:  []string{"bind:foo.ngrok.app"},
			allow:  []string{"foo.ngrok.app", "FOO.ngrok.APP"},
			refuse: []string{"bar.ngrok.app", "x.foo.ngrok.app", "ngrok.app", "foo.ngrok.app.", "foo.ngrok.app:443", "*.ngrok.app", "foo.ngrok.ap", "oo.ngrok.app", "", "foo=ngrok.app"},
		},
		{
			name:   "upper-case rule matches case-insensitively",
			rules:  []string{"bind:Foo.Example.COM"},
			allow:  []string{"foo.example.com", "FOO.EXAMPLE.COM"},
			refuse: []string{"foo.example.org"},
		},
		{
			name:   "wildcard hostname (ngrok: bind:*.example.com)",
			rules:  []string{"bind:*.example.com"},
			allow:  []string{"x.example.com", "y.example.com", "*.example.com", "a.b.example.com", "*.b.example.com", "X.EXAMPLE.COM"},
			refuse: []string{"example.com", ".example.com", "xexample.com", "x.example.com.evil.net", "x.example.org", "x.example.com:443", "**.example.com", "x..example.com", "*", "a.*.example.com", "-x.example.com"},
		},
		{
			name:   "internal endpoint",
			rules:  []string{"bind:alias1.internal"},
			allow:  []string{"alias1.internal"},
			refuse: []string{"alias2.internal"},
		},
		{
			name:   "address (ngrok: bind:1.tcp.ngrok.io:20002)",
			rules:  []string{"bind:1.tcp.ngrok.io:20002"},
			allow:  []string{"1.tcp.ngrok.io:20002", "1.TCP.ngrok.io:20002"},
			refuse: []string{"1.tcp.ngrok.io:20003", "2.tcp.ngrok.io:20002", "1.tcp.ngrok.io", "1.tcp.ngrok.io:020002", "1.tcp.ngrok.io:", ":20002", "1.tcp.ngrok.io:20002:1", "*.tcp.ngrok.io:20002", "1.tcp.ngrok.io:+20002"},
		},
		{
			name:   "IPv4 address",
			rules:  []string{"bind:10.0.0.1:65535"},
			allow:  []string{"10.0.0.1:65535"},
			refuse: []string{"10.0.0.1:65536", "10.0.0.1:0", "10.0.0.2:65535"},
		},
		{
			name:   "label (ngrok: bind:foo=bar)",
			rules:  []string{"bind:foo=bar"},
			allow:  []string{"foo=bar"},
			refuse: []string{"foo=baz", "Foo=bar", "foo=Bar", "foo=bar=baz", "foo=", "=bar", "foo", "*=bar", "foo=*"},
		},
		{
			name:   "label with any value (ngrok: bind:app=*)",
			rules:  []string{"bind:app=*"},
			allow:  []string{"app=x", "app=y", "app=edghts_2G5ho", "app=a.b-c"},
			refuse: []string{"ap=x", "apps=x", "app=", "app=x y", "x=app"},
		},
		{
			name:   "label with any key (ngrok: bind:*=example)",
			rules:  []string{"bind:*=example"},
			allow:  []string{"x=example", "y=example"},
			refuse: []string{"x=example2", "x=exampl", "=example", "x.example.com"},
		},
		{
			name:   "label with any key and value",
			rules:  []string{"bind:*=*"},
			allow:  []string{"x=y", "dc=us-east"},
			refuse: []string{"foo.example.com", "1.tcp.ngrok.io:1", "x=", "=y", "x=y=z"},
		},
		{
			name:   "several rules of every kind (ngrok's example list)",
			rules:  []string{"bind:132.devices.company.com", "bind:1.tcp.ngrok.io:20002", "bind:*.example.com", "bind:edge=prod"},
			allow:  []string{"132.devices.company.com", "1.tcp.ngrok.io:20002", "a.example.com", "edge=prod"},
			refuse: []string{"133.devices.company.com", "1.tcp.ngrok.io:20001", "example.com", "edge=dev", "132.devices.company.com:80"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustACL(t, tc.rules...)
			for _, target := range tc.allow {
				if !a.AllowsBind(target) {
					t.Errorf("%q does not allow %q", tc.rules, target)
				}
			}
			for _, target := range tc.refuse {
				if a.AllowsBind(target) {
					t.Errorf("%q allows %q", tc.rules, target)
				}
			}
			if got := a.Rules(); !slices.Equal(got, tc.rules) {
				t.Errorf("Rules = %q, want %q", got, tc.rules)
			}
			if a.Len() != len(tc.rules) {
				t.Errorf("Len = %d", a.Len())
			}
		})
	}
}

func TestUnrestricted(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		want  bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"*"}, true},
		{[]string{"bind:*"}, true},
		{[]string{"bind:x.example.com", "bind:*"}, true},
		{[]string{"bind:x.example.com"}, false},
		{[]string{"bind:*=*"}, false},
	} {
		if got := mustACL(t, tc.rules...).Unrestricted(); got != tc.want {
			t.Errorf("ParseACL(%q).Unrestricted() = %v, want %v", tc.rules, got, tc.want)
		}
	}
	var zero ACL
	if !zero.Unrestricted() || !zero.AllowsBind("x.example.com") || zero.Rules() != nil {
		t.Error("the zero ACL is not the empty ACL")
	}
}

func TestParseACLInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []string
		index int
	}{
		{"empty rule", []string{""}, 0},
		{"no bind prefix", []string{"foo.example.com"}, 0},
		{"other action", []string{"connect:foo.example.com"}, 0},
		{"upper-case prefix", []string{"BIND:foo.example.com"}, 0},
		{"bind without value", []string{"bind:"}, 0},
		{"space after bind", []string{"bind: foo.example.com"}, 0},
		{"trailing space", []string{"bind:foo.example.com "}, 0},
		{"star with space", []string{" *"}, 0},
		{"second rule invalid", []string{"bind:a.example.com", "bind:bad host"}, 1},
		{"single label", []string{"bind:localhost"}, 0},
		{"trailing dot", []string{"bind:foo.example.com."}, 0},
		{"leading dot", []string{"bind:.example.com"}, 0},
		{"double dot", []string{"bind:foo..example.com"}, 0},
		{"hyphen at label start", []string{"bind:-foo.example.com"}, 0},
		{"hyphen at label end", []string{"bind:foo-.example.com"}, 0},
		{"underscore in hostname", []string{"bind:foo_bar.example.com"}, 0},
		{"label over 63", []string{"bind:" + strings.Repeat("a", 64) + ".com"}, 0},
		{"unicode hostname", []string{"bind:bücher.example.com"}, 0},
		{"wildcard in the middle", []string{"bind:foo.*.example.com"}, 0},
		{"partial wildcard", []string{"bind:foo*.example.com"}, 0},
		{"wildcard without dot", []string{"bind:*example.com"}, 0},
		{"double wildcard", []string{"bind:*.*.example.com"}, 0},
		{"bare wildcard suffix", []string{"bind:*."}, 0},
		{"two stars", []string{"bind:**"}, 0},
		{"port zero", []string{"bind:1.tcp.ngrok.io:0"}, 0},
		{"port too big", []string{"bind:1.tcp.ngrok.io:65536"}, 0},
		{"port leading zero", []string{"bind:1.tcp.ngrok.io:080"}, 0},
		{"port not a number", []string{"bind:1.tcp.ngrok.io:http"}, 0},
		{"port wildcard", []string{"bind:1.tcp.ngrok.io:*"}, 0},
		{"port missing", []string{"bind:1.tcp.ngrok.io:"}, 0},
		{"port only", []string{"bind::80"}, 0},
		{"address wildcard host", []string{"bind:*.tcp.ngrok.io:20002"}, 0},
		{"address single-label host", []string{"bind:localhost:80"}, 0},
		{"ipv6 address", []string{"bind:[::1]:80"}, 0},
		{"label empty key", []string{"bind:=x"}, 0},
		{"label empty value", []string{"bind:x="}, 0},
		{"label two equals", []string{"bind:x=y=z"}, 0},
		{"label partial wildcard", []string{"bind:app*=x"}, 0},
		{"label value with space", []string{"bind:app=x y"}, 0},
		{"label value with colon", []string{"bind:app=x:1"}, 0},
		{"label key too long", []string{"bind:" + strings.Repeat("k", MaxLabelKeyLen+1) + "=v"}, 0},
		{"label value too long", []string{"bind:k=" + strings.Repeat("v", MaxLabelValueLen+1)}, 0},
		{"control character", []string{"bind:foo\n.example.com"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseACL(tc.rules)
			var se *store.Error
			if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Code != CodeInvalidACL {
				t.Fatalf("err = %v, want ErrInvalid with code %s", err, CodeInvalidACL)
			}
			if se.Field != fmt.Sprintf("acl[%d]", tc.index) || se.Msg == "" {
				t.Errorf("err = %#v, want it to name rule %d and say why", se, tc.index)
			}
			if a.Len() != 0 || !a.Unrestricted() {
				t.Error("a failed ParseACL returned rules")
			}
		})
	}
}

func TestParseACLLimits(t *testing.T) {
	max := make([]string, MaxACLRules)
	for i := range max {
		max[i] = "bind:h" + strconv.Itoa(i) + ".example.com"
	}
	if a := mustACL(t, max...); !a.AllowsBind("h99.example.com") || a.AllowsBind("h100.example.com") {
		t.Error("an ACL of MaxACLRules rules does not match its last rule")
	}
	longHost := strings.Repeat("a", 62) + "." + strings.Repeat("b", 62) + "." + strings.Repeat("c", 62) + "." + strings.Repeat("d", 61)
	longest := "bind:" + longHost
	if len(longest) != MaxACLRuleLen {
		t.Fatalf("test rule is %d bytes", len(longest))
	}
	if a := mustACL(t, longest, "bind:"+strings.Repeat("k", MaxLabelKeyLen)+"="+strings.Repeat("v", MaxLabelValueLen)); !a.AllowsBind(strings.ToUpper(longHost)) {
		t.Error("the longest rule does not match its hostname")
	}
	if a := mustACL(t, "bind:*.example.com"); a.AllowsBind(strings.Repeat("a.", 122)+"example.com") || !a.AllowsBind(strings.Repeat("a.", 121)+"example.com") {
		t.Error("AllowsBind does not cap hostnames at 253 bytes")
	}

	for _, tc := range []struct {
		name  string
		rules []string
		field string
		limit int
	}{
		{"too many rules", append(slices.Clone(max), "bind:x.example.com"), "acl", MaxACLRules},
		{"rule too long", []string{"*", longest + "a"}, "acl[1]", MaxACLRuleLen},
		{"huge rule", []string{strings.Repeat("x", 1<<20)}, "acl[0]", MaxACLRuleLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseACL(tc.rules)
			var se *store.Error
			if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Code != CodeInvalidACL || se.Field != tc.field || se.Limit != tc.limit {
				t.Fatalf("err = %#v, want ErrInvalid with code %s on %s, limit %d", err, CodeInvalidACL, tc.field, tc.limit)
			}
			if n := len(fmt.Sprint(err)); n > 200 { // a size bound: the error never echoes the input
				t.Errorf("error message is %d bytes", n)
			}
		})
	}
}

func TestACLImmutable(t *testing.T) {
	in := []string{"bind:a.example.com", "bind:app=*"}
	a := mustACL(t, in...)
	in[0] = "*"
	rules := a.Rules()
	rules[1] = "*"
	if a.AllowsBind("b.example.com") || !slices.Equal(a.Rules(), []string{"bind:a.example.com", "bind:app=*"}) {
		t.Error("changing the input or the output of Rules changed the ACL")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if !a.AllowsBind("a.example.com") || !a.AllowsBind("app=x") || a.AllowsBind("b.example.com") {
					t.Error("wrong answer under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAllowsBindAllocs(t *testing.T) {
	a := benchACL(t)
	for _, target := range []string{"x.example.com", "zz.tenant9.example.net", "1.tcp.ngrok.io:20002", "app=web", "nope.example.org", "bad target", "k=v"} {
		if n := testing.AllocsPerRun(100, func() { a.AllowsBind(target) }); n != 0 {
			t.Errorf("AllowsBind(%q): %v allocs, want 0", target, n)
		}
	}
}

// refAllows is a slow, obvious model of AllowsBind for differential fuzzing.
func refAllows(rules []string, target string) bool {
	if len(rules) == 0 || slices.Contains(rules, "*") || slices.Contains(rules, "bind:*") {
		return true
	}
	labelPart := regexp.MustCompile(`^[A-Za-z0-9_.-]{1,63}$`)
	port := func(s string) int {
		if !regexp.MustCompile(`^[1-9][0-9]{0,4}$`).MatchString(s) {
			return -1
		}
		n, _ := strconv.Atoi(s)
		if n > 65535 {
			return -1
		}
		return n
	}
	hostLabel := regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	validHost := func(s string, wildcard bool) bool {
		if len(s) == 0 || len(s) > 253 {
			return false
		}
		labels := strings.Split(s, ".")
		if wildcard && len(labels) > 1 && labels[0] == "*" {
			labels = labels[1:]
		}
		for _, l := range labels {
			if !hostLabel.MatchString(l) {
				return false
			}
		}
		return true
	}
	for _, r := range rules {
		v := strings.TrimPrefix(r, "bind:")
		if rk, rv, ok := strings.Cut(v, "="); ok {
			tk, tv, ok := strings.Cut(target, "=")
			if ok && labelPart.MatchString(tk) && labelPart.MatchString(tv) && (rk == "*" || rk == tk) && (rv == "*" || rv == tv) {
				return true
			}
			continue
		}
		if strings.Contains(target, "=") {
			continue
		}
		if i := strings.LastIndex(v, ":"); i >= 0 {
			j := strings.LastIndex(target, ":")
			if j >= 0 && validHost(target[:j], false) && port(target[j+1:]) > 0 &&
				strings.EqualFold(v[:i], target[:j]) && port(v[i+1:]) == port(target[j+1:]) {
				return true
			}
			continue
		}
		if strings.Contains(target, ":") || !validHost(target, true) {
			continue
		}
		lt, lv := strings.ToLower(target), strings.ToLower(v)
		if suffix, ok := strings.CutPrefix(lv, "*"); ok {
			if strings.HasSuffix(lt, suffix) && len(lt) > len(suffix) {
				return true
			}
		} else if lt == lv {
			return true
		}
	}
	return false
}

func FuzzParseACL(f *testing.F) {
	for _, seed := range []string{
		"*", "bind:*", "bind:foo.ngrok.app", "bind:*.example.com", "bind:1.tcp.ngrok.io:20002",
		"bind:foo=bar", "bind:app=*", "bind:*=example", "bind:*=*", "bind:a.example.com\nbind:app=x",
		"", "bind:", "bind:*.", "bind:a:b:c", "bind:x=y=z", "bind:[::1]:80", "bind:Foo.EXAMPLE.com",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rules := strings.Split(in, "\n")
		a, err := ParseACL(rules)
		if err != nil {
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Code != CodeInvalidACL {
				t.Fatalf("error %v is not ErrInvalid with code %s", err, CodeInvalidACL)
			}
			var i int
			if _, scanErr := fmt.Sscanf(se.Field, "acl[%d]", &i); se.Field != "acl" && (scanErr != nil || i < 0 || i >= len(rules) || se.Msg == "") {
				t.Fatalf("bad rule error %#v", se)
			}
			return
		}
		if !slices.Equal(a.Rules(), rules) {
			t.Fatalf("Rules = %q, want %q", a.Rules(), rules)
		}
		b, err := ParseACL(a.Rules())
		if err != nil || !slices.Equal(b.Rules(), rules) {
			t.Fatalf("re-parsing Rules: %v", err)
		}
		for _, r := range rules {
			target := strings.TrimPrefix(r, "bind:")
			if target == "*" {
				continue
			}
			// Each rule allows the thing it names, with wildcards filled in as a binder would.
			target = strings.ReplaceAll(target, "*=", "k=")
			target = strings.ReplaceAll(target, "=*", "=v")
			if !a.AllowsBind(target) || !a.AllowsBind(strings.ToUpper(target[:1])+target[1:]) && !strings.Contains(target, "=") {
				t.Fatalf("%q does not allow %q", rules, target)
			}
		}
	})
}

func FuzzAllowsBind(f *testing.F) {
	for _, seed := range [][2]string{
		{"bind:*.example.com", "x.example.com"},
		{"bind:*.example.com", "example.com"},
		{"bind:*.example.com", "*.example.com"},
		{"bind:foo.example.com", "FOO.example.com"},
		{"bind:1.tcp.ngrok.io:20002", "1.tcp.ngrok.io:20002"},
		{"bind:1.tcp.ngrok.io:20002", "1.tcp.ngrok.io:020002"},
		{"bind:app=*", "app=x"},
		{"bind:*=example", "x=example"},
		{"bind:foo=bar", "foo=bar=baz"},
		{"*", "anything"},
		{"bind:a.b", "a.b:1"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, rule, target string) {
		for _, rules := range [][]string{{rule}, {rule, "bind:fixed.example.com", "bind:k=v"}} {
			a, err := ParseACL(rules)
			if err != nil {
				return
			}
			got := a.AllowsBind(target)
			if want := refAllows(rules, target); got != want {
				t.Fatalf("ParseACL(%q).AllowsBind(%q) = %v, the model says %v", rules, target, got, want)
			}
		}
	})
}

func benchACL(t testing.TB) ACL {
	rules := []string{"bind:1.tcp.ngrok.io:20002", "bind:app=web", "bind:*=prod", "bind:foo.ngrok.app"}
	for i := range 6 {
		rules = append(rules, "bind:*.tenant"+strconv.Itoa(i)+".example.net")
	}
	rules = append(rules, "bind:*.example.com")
	return mustACL(t, rules...)
}

func BenchmarkAllowsBind(b *testing.B) {
	a := benchACL(b)
	for _, bc := range []struct{ name, target string }{
		{"hostname-last-rule", "x.example.com"},
		{"hostname-refused", "nope.example.org"},
		{"address", "1.tcp.ngrok.io:20002"},
		{"label", "env=prod"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.AllowsBind(bc.target)
			}
		})
	}
}
