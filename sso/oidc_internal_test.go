package sso

import (
	"net/url"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
)

// FuzzCheckIssuer: an issuer URL is accepted only as an absolute https URL (http on a
// loopback host) without user info, query or fragment, and accepted as given, trimmed.
func FuzzCheckIssuer(f *testing.F) {
	for _, s := range []string{"https://login.example.com", "http://127.0.0.1:8080", "http://[::1]/x", " https://a.b/c ",
		"http://login.example.com", "https://u:p@a.b", "https://a.b/?q", "https://a.b/#f", "javascript:alert(1)", "https://", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := checkIssuer(raw)
		if err != nil {
			return
		}
		if got != strings.TrimSpace(raw) {
			t.Fatalf("checkIssuer(%q) = %q", raw, got)
		}
		u, perr := url.Parse(got)
		if perr != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("checkIssuer accepted %q", raw)
		}
		if u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
			t.Fatalf("checkIssuer accepted %q with scheme %q on %q", raw, u.Scheme, u.Hostname())
		}
	})
}

// FuzzCheckDomainName: a claimed domain is canonical (identity.NormalizeDomain's output,
// stable under it), has two labels or more and makes a TXT record name of one more label.
func FuzzCheckDomainName(f *testing.F) {
	for _, s := range []string{"example.com", "Example.COM ", "xn--bcher-kva.example", "b\u00fccher.example", "localhost", "*.example.com", "a..b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := checkDomainName("domain", raw)
		if err != nil {
			return
		}
		again, err := identity.NormalizeDomain(got)
		if err != nil || again != got || !strings.Contains(got, ".") || strings.ContainsAny(got, " *@/") {
			t.Fatalf("checkDomainName(%q) = %q, not canonical (%q, %v)", raw, got, again, err)
		}
	})
}
