package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iamkit/iamkit/sso"
)

// FuzzSafeNext: a page to go to after signing in is either refused or a same-origin path of
// the account's pages, unchanged.
func FuzzSafeNext(f *testing.F) {
	for _, seed := range []string{"/a/ac_1/members", "//evil.example", "/a/ac_1/../../x", "/a/ac_2/members", "https://evil.example/a/ac_1/",
		"/a/ac_1/\t/x", `/a/ac_1\..\x`, "/a/ac_1/..", "", "/a/ac_1/%2e%2e/"} {
		f.Add(seed, "ac_1")
	}
	f.Fuzz(func(t *testing.T, next, account string) {
		got := safeNext(next, account)
		if got == "" {
			return
		}
		prefix := "/a/" + account + "/"
		if account == "" {
			prefix = "/a/"
		}
		if got != next || !strings.HasPrefix(got, prefix) || strings.Contains(got, "/../") || strings.HasSuffix(got, "/..") {
			t.Fatalf("safeNext(%q, %q) = %q", next, account, got)
		}
		if _, err := sso.RelayStatePath(got); err != nil {
			t.Fatalf("safeNext(%q, %q) = %q, which RelayStatePath refuses: %v", next, account, got, err)
		}
	})
}

// FuzzParseSecretKey: a key file gives a key of the right length or an error.
func FuzzParseSecretKey(f *testing.F) {
	for _, seed := range []string{strings.Repeat("ab", 32), strings.Repeat("A", 43) + "=", strings.Repeat("A", 43), " \n", "zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		k, err := parseSecretKey(text)
		if (err == nil) != (len(k) == sso.SecretKeyLen) {
			t.Fatalf("parseSecretKey(%q) = %d bytes, %v", text, len(k), err)
		}
	})
}

// FuzzDecodeFlash: a flash cookie gives a short UTF-8 notice or nothing, and every notice
// survives the round trip.
func FuzzDecodeFlash(f *testing.F) {
	for _, seed := range []string{encodeFlash("Invitation sent."), "", "!!", strings.Repeat("A", 1000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if msg, ok := decodeFlash(v); ok && (len(msg) > maxFlash || !utf8.ValidString(msg)) {
			t.Fatalf("decodeFlash(%q) = %q", v, msg)
		}
		if !utf8.ValidString(v) || len(v) > maxFlash {
			return
		}
		if msg, ok := decodeFlash(encodeFlash(v)); !ok || msg != v {
			t.Fatalf("round trip of %q: %q, %v", v, msg, ok)
		}
	})
}

// FuzzDomainsOf: the trusted domains typed in a field split into words without separators.
func FuzzDomainsOf(f *testing.F) {
	for _, seed := range []string{"example.com", "a.test, b.test", "a.test\r\nb.test", " , ,"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range domainsOf(s) {
			if d == "" || strings.ContainsAny(d, ", \r\n\t") {
				t.Fatalf("domainsOf(%q) has %q", s, d)
			}
		}
	})
}
