package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

// TestNormalizeEmail_Grammar: a bare dot-atom local part and LDH domain labels, lower-cased
// in ASCII only; quoted local parts, comments, IP literals and display names are refused.
func TestNormalizeEmail_Grammar(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alice@Example.COM", "alice@example.com"},
		{" bob@example.com\t\r\n", "bob@example.com"},
		{"o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"},
		{"A.B-C_D@EXAMPLE.ORG", "a.b-c_d@example.org"},
		{"x!#$%&*/=?^`{|}~@example.com", "x!#$%&*/=?^`{|}~@example.com"},
		{"kim@xn--bcher-kva.example", "kim@xn--bcher-kva.example"},
		{"root@localhost", "root@localhost"},
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + ".io", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + ".io"},
	} {
		got, err := identity.NormalizeEmail(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"", "   ", "not-an-email", "@example.com", "kim@", "kim@@example.com", "a@b@example.com",
		"Alice <alice@example.com>", "<alice@example.com>", `"kim"@example.com`, `"k m"@example.com`,
		"kim(comment)@example.com", "kim@example.com (Kim)", "kim@[127.0.0.1]", "kim@[IPv6:::1]",
		".kim@example.com", "kim.@example.com", "k..im@example.com", "kim@.example.com",
		"kim@example..com", "kim@example.com.", "kim@-example.com", "kim@example-.com",
		"kim@exa_mple.com", "kim@exa mple.com", "ki m@example.com", "kim@example.com\x00",
		"kim\x7f@example.com", "kim,ann@example.com", "kim;@example.com", `k\im@example.com`,
		strings.Repeat("a", 65) + "@example.com",
		"kim@" + strings.Repeat("b", 64) + ".io",
		strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "io",
	} {
		got, err := identity.NormalizeEmail(bad)
		if invalidField(err) != "email" {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want an invalid-argument error on email", bad, got, err)
		}
	}
}

// TestNormalizeEmail_Lookalikes: no non-ASCII address is folded onto an ASCII one (U+212A
// KELVIN SIGN, U+0130, U+017F, fullwidth letters, mixed scripts, IDN domains not in
// punycode, invisible characters): they are refused, whatever the address they resemble.
func TestNormalizeEmail_Lookalikes(t *testing.T) {
	for _, c := range testenv.LookalikeEmails() {
		got, err := identity.NormalizeEmail(c.Email)
		if invalidField(err) != "email" {
			t.Errorf("%s: NormalizeEmail(%q) = %q, %v; want an invalid-argument error on email", c.Class, c.Email, got, err)
		}
	}
	for _, c := range []struct{ in, want string }{{"Example.COM", "example.com"}, {"xn--bcher-kva.example", "xn--bcher-kva.example"}} {
		if got, err := identity.NormalizeDomain(c.in); err != nil || got != c.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v", c.in, got, err)
		}
	}
	// Trusted IdP domains follow the same rule as the domain of an address.
	for _, bad := range []string{"", "\u212Aexample.com", "b\u00fccher.example", "ex\u03bfample.com", "exa_mple.com", "example.com.", "*.example.com", "[127.0.0.1]"} {
		if _, err := identity.NormalizeDomain(bad); invalidField(err) != "domain" {
			t.Errorf("NormalizeDomain(%q): %v, want an invalid-argument error on domain", bad, err)
		}
	}
}

// TestEmailLookalikes_EveryPath: a look-alike of an existing user's or a new person's email
// neither finds, creates nor invites anyone: CreateUser, UserByEmail and Invite refuse it and
// store nothing.
func TestEmailLookalikes_EveryPath(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "enterprise")
	e.Join(admin, "kim@example.com")
	for _, c := range testenv.LookalikeEmails() {
		t.Run(c.Class, func(t *testing.T) {
			_, err := e.Dir.CreateUser(e.Ctx, c.Email, "")
			wantField(t, "CreateUser", err, "email")
			u, err := e.Dir.UserByEmail(e.Ctx, c.Email)
			wantField(t, "UserByEmail", err, "email")
			if u.ID != "" {
				t.Errorf("UserByEmail found %s", u.Email)
			}
			_, err = e.Dir.Invite(e.Ctx, admin, c.Email, nil)
			wantField(t, "Invite", err, "email")
		})
	}
	invs, err := e.Dir.Invitations(e.Ctx, admin, store.Page{Limit: 100})
	if err != nil || len(invs) != 0 {
		t.Fatalf("look-alikes made %d invitations (%v)", len(invs), err)
	}
	for _, victim := range []string{"bill@example.com", "sam@example.com", "ann@example.com"} {
		if _, err := e.Dir.UserByEmail(e.Ctx, victim); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a look-alike created %s: %v", victim, err)
		}
	}
}
