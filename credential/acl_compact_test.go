package credential

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// checkSameAsOld fails t unless ParseACL(rules) and the old parse agree: the same error (field,
// code, limit and message), or the same Rules, Len, Unrestricted and AllowsBind answer for
// every target.
func checkSameAsOld(t *testing.T, rules, targets []string) {
	t.Helper()
	got, err := ParseACL(rules)
	want, wantErr := parseOldACL(rules)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("ParseACL(%q): error %v, the old parse %v", rules, err, wantErr)
	}
	if err != nil {
		var ge, we *store.Error
		if !errors.As(err, &ge) || !errors.As(wantErr, &we) || *ge != *we {
			t.Fatalf("ParseACL(%q): error %#v, the old parse %#v", rules, err, wantErr)
		}
		return
	}
	if !slices.Equal(got.Rules(), want.Rules()) || got.Len() != want.Len() || got.Unrestricted() != want.Unrestricted() {
		t.Fatalf("ParseACL(%q): Rules %q Len %d Unrestricted %v; the old parse %q %d %v",
			rules, got.Rules(), got.Len(), got.Unrestricted(), want.Rules(), want.Len(), want.Unrestricted())
	}
	for _, target := range targets {
		if g, w := got.AllowsBind(target), want.AllowsBind(target); g != w {
			t.Fatalf("ParseACL(%q).AllowsBind(%q) = %v, the old parse says %v", rules, target, g, w)
		}
	}
}

// randomACL returns a few rules, mostly valid, of every class, with upper case, wildcards and
// the mistakes ParseACL refuses, and targets that hit and miss them.
func randomACL(r *rand.Rand) (rules, targets []string) {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	host := func() string {
		labels := []string{pick("a", "B", "foo", "Foo", "x-1", "9", "-x", "", "a*b", "é", strings.Repeat("l", 63), strings.Repeat("m", 64))}
		for range 1 + r.IntN(3) {
			labels = append(labels, pick("example", "EXAMPLE", "com", "ngrok", "io", "tcp", "1"))
		}
		return strings.Join(labels, ".")
	}
	port := func() string { return pick("1", "80", "20002", "65535", "65536", "080", "0", "", "x", "*") }
	label := func() string {
		return pick("app", "env", "*", "web", "prod", "a.b_c-d", "", "a=b", strings.Repeat("k", 64))
	}
	for range r.IntN(6) {
		switch r.IntN(8) {
		case 0:
			rules = append(rules, pick("*", "bind:*", "bind:", "bind", "*.example.com"))
		case 1, 2:
			h := host()
			rules, targets = append(rules, "bind:"+h), append(targets, h, strings.ToUpper(h), "x."+h)
		case 3:
			h := host()
			rules, targets = append(rules, "bind:*."+h), append(targets, "x."+h, "*."+h, h, "a.B."+strings.ToUpper(h))
		case 4, 5:
			h, p := host(), port()
			rules, targets = append(rules, "bind:"+h+":"+p), append(targets, h+":"+p, strings.ToUpper(h)+":"+p, h+":1"+p, "*."+h+":"+p)
		default:
			k, v := label(), label()
			rules, targets = append(rules, "bind:"+k+"="+v), append(targets, k+"="+v, "app="+v, k+"=prod", strings.ToUpper(k)+"="+v)
		}
	}
	return rules, append(targets, "", "a", "a.b", "a.b:1", "=", "k=", "x.example.com", strings.Repeat("a.", 130)+"io")
}

func TestACLMatchesOldParse(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 2026))
	for range 20000 {
		rules, targets := randomACL(r)
		checkSameAsOld(t, rules, targets)
	}
	// Over the limits, where the old parse and the compact one must refuse alike.
	long := "bind:" + strings.Repeat("a", MaxACLRuleLen-9) + ".com"
	checkSameAsOld(t, []string{long}, []string{long[5:]})
	checkSameAsOld(t, []string{long + "m"}, nil)
	checkSameAsOld(t, slices.Repeat([]string{"bind:a.example.com"}, MaxACLRules), []string{"a.example.com"})
	checkSameAsOld(t, slices.Repeat([]string{"bind:a.example.com"}, MaxACLRules+1), nil)
	many := make([]string, 0, MaxACLRules)
	for i := range MaxACLRules {
		many = append(many, "bind:h"+strconv.Itoa(i)+".example.com:"+strconv.Itoa(i+1))
	}
	checkSameAsOld(t, many, []string{"h99.example.com:100", "H0.EXAMPLE.COM:1", "h5.example.com:5"})
}

// FuzzACLMatchesOldParse checks the compact ACL against the old parse for any rules (one per
// line of in) and target.
func FuzzACLMatchesOldParse(f *testing.F) {
	for _, seed := range [][2]string{
		{"bind:*.example.com", "x.EXAMPLE.com"},
		{"bind:Foo.Example.com\nbind:app=*", "app=x"},
		{"bind:1.tcp.ngrok.io:20002\nbind:*=prod", "1.TCP.ngrok.io:20002"},
		{"*\nbind:x", "anything"},
		{"bind:a.b:080", "a.b:80"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, in, target string) {
		checkSameAsOld(t, strings.Split(in, "\n"), []string{target})
	})
}

// BenchmarkAllowsBindVsOld measures AllowsBind of the compact ACL against the old parse's
// (acl_old_test.go) on BenchmarkAllowsBind's ACL and targets, in blocks of 20,000 calls that
// take turns, so that a loaded machine slows both alike: it reports each one's median time
// per call over its blocks and their ratio (x-old). One iteration is one turn of the
// blocks; run it with -benchtime 200x or more.
func BenchmarkAllowsBindVsOld(b *testing.B) {
	const block = 20000
	compact := benchACL(b)
	old, err := parseOldACL(compact.Rules())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, target string }{
		{"hostname-last-rule", "x.example.com"},
		{"hostname-refused", "nope.example.org"},
		{"address", "1.tcp.ngrok.io:20002"},
		{"label", "env=prod"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			want := old.AllowsBind(bc.target)
			var perNew, perOld []float64 // ns per call, per block
			for b.Loop() {
				t0 := time.Now()
				for range block {
					if compact.AllowsBind(bc.target) != want {
						b.Fatal("the compact ACL decided otherwise")
					}
				}
				t1 := time.Now()
				for range block {
					if old.AllowsBind(bc.target) != want {
						b.Fatal("the old ACL decided otherwise")
					}
				}
				perNew = append(perNew, float64(t1.Sub(t0).Nanoseconds())/block)
				perOld = append(perOld, float64(time.Since(t1).Nanoseconds())/block)
			}
			newNs, oldNs := medianNs(perNew), medianNs(perOld)
			b.ReportMetric(newNs, "compact-ns")
			b.ReportMetric(oldNs, "old-ns")
			b.ReportMetric(newNs/oldNs, "x-old")
		})
	}
}

// medianNs returns the median of ns.
func medianNs(ns []float64) float64 {
	slices.Sort(ns)
	return ns[len(ns)/2]
}

func TestACLString(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		want  string
	}{
		{nil, "[]"},
		{[]string{"*"}, "[*]"},
		{[]string{"bind:Foo.example.com", "bind:*.example.net", "bind:1.tcp.example.io:20002", "bind:app=*"},
			"[bind:Foo.example.com bind:*.example.net bind:1.tcp.example.io:20002 bind:app=*]"},
	} {
		if got := mustACL(t, tc.rules...).String(); got != tc.want {
			t.Errorf("ParseACL(%q).String() = %q, want %q", tc.rules, got, tc.want)
		}
	}
}
