package identity

import (
	"strings"

	"github.com/iamkit/iamkit/store"
)

// Limits on email addresses, in bytes (RFC 5321).
const (
	// MaxEmailLen is the longest email address accepted (RFC 5321's path limit).
	MaxEmailLen = 254
	// MaxEmailLocalLen is the longest local part (before the @).
	MaxEmailLocalLen = 64
	// MaxDomainLen is the longest domain name.
	MaxDomainLen = 253
	// MaxDomainLabelLen is the longest label of a domain name.
	MaxDomainLabelLen = 63
)

// NormalizeEmail returns the canonical form of an email address, the form users and
// invitations are stored, looked up and compared under. It is the one place iamkit folds an
// address: every path that takes an email (users, invitations, SSO NameIDs and attributes,
// bot user names that look like addresses) goes through it.
//
// It accepts a bare address, local@domain, surrounded by ASCII whitespace at most:
//   - ASCII only: a byte >= 0x80 is refused, never folded (strings.ToLower and Unicode case
//     folding map U+212A KELVIN SIGN to "k", U+0130 to "i", ...), so no address can stand
//     for another. Internationalised domain names must arrive in punycode (xn--...);
//   - the local part is a dot-atom (RFC 5322 atext and inner dots) of at most
//     MaxEmailLocalLen bytes: no quoted strings, comments or escapes;
//   - the domain is LDH labels (letters, digits, inner hyphens; at most MaxDomainLabelLen
//     each, MaxDomainLen in all) separated by single dots: no IP literals, no trailing dot;
//   - at most MaxEmailLen bytes in all.
//
// The result is lower-cased in ASCII. Anything else is an error matching store.ErrInvalid for
// field "email".
func NormalizeEmail(email string) (string, error) {
	e := strings.Trim(email, asciiSpace)
	if err := checkEmail(e); err != nil {
		return "", err
	}
	return asciiLower(e), nil
}

// NormalizeDomain returns the canonical form of a domain name under the rule NormalizeEmail
// applies to the domain of an address (ASCII LDH labels, IDNs in punycode), lower-cased in
// ASCII: package sso uses it for the domains an identity provider is trusted for. Anything
// else is an error matching store.ErrInvalid for field "domain".
func NormalizeDomain(domain string) (string, error) {
	if err := checkASCII("domain", domain); err != nil {
		return "", err
	}
	if err := checkDomain("domain", domain); err != nil {
		return "", err
	}
	return asciiLower(domain), nil
}

const asciiSpace = " \t\r\n"

func checkEmail(e string) error {
	switch {
	case e == "":
		return store.Invalid("email", store.CodeRequired, 0, "required")
	case len(e) > MaxEmailLen:
		return store.Invalid("email", store.CodeTooLong, MaxEmailLen, "%d bytes at most, got %d", MaxEmailLen, len(e))
	}
	if err := checkASCII("email", e); err != nil {
		return err
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" {
		return store.Invalid("email", store.CodeInvalidValue, 0, "must be a bare address such as name@example.com")
	}
	if err := checkLocalPart(local); err != nil {
		return err
	}
	return checkDomain("email", domain)
}

// checkASCII refuses any byte outside ASCII, saying how to write an international domain.
func checkASCII(field, s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return store.Invalid(field, store.CodeInvalidValue, 0, "must be ASCII (non-ASCII byte at %d): write internationalised domain names in punycode (xn--...); non-ASCII local parts are not accepted", i)
		}
	}
	return nil
}

// checkLocalPart accepts an RFC 5322 dot-atom: atext runs separated by single dots.
func checkLocalPart(local string) error {
	if len(local) > MaxEmailLocalLen {
		return store.Invalid("email", store.CodeTooLong, MaxEmailLocalLen, "local part %d bytes at most, got %d", MaxEmailLocalLen, len(local))
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return store.Invalid("email", store.CodeInvalidValue, 0, "local part must not start or end with a dot or hold two dots in a row")
		}
		if strings.IndexFunc(atom, notAtext) >= 0 {
			return store.Invalid("email", store.CodeInvalidValue, 0, "%s", "local part may hold letters, digits and !#$%&'*+-/=?^_`{|}~ only (no quotes, spaces, comments or a second @)")
		}
	}
	return nil
}

// notAtext reports whether r is outside RFC 5322 atext.
func notAtext(r rune) bool {
	return !isLetterOrDigit(r) && !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// checkDomain accepts LDH labels separated by single dots.
func checkDomain(field, domain string) error {
	if domain == "" {
		return store.Invalid(field, store.CodeInvalidValue, 0, "domain required")
	}
	if len(domain) > MaxDomainLen {
		return store.Invalid(field, store.CodeTooLong, MaxDomainLen, "domain %d bytes at most, got %d", MaxDomainLen, len(domain))
	}
	for _, label := range strings.Split(domain, ".") {
		if err := checkLabel(field, label); err != nil {
			return err
		}
	}
	return nil
}

func checkLabel(field, label string) error {
	switch {
	case label == "":
		return store.Invalid(field, store.CodeInvalidValue, 0, "domain must not start or end with a dot or hold two dots in a row")
	case len(label) > MaxDomainLabelLen:
		return store.Invalid(field, store.CodeTooLong, MaxDomainLabelLen, "domain labels %d bytes at most, got %d", MaxDomainLabelLen, len(label))
	case label[0] == '-' || label[len(label)-1] == '-':
		return store.Invalid(field, store.CodeInvalidValue, 0, "domain labels must not start or end with a hyphen")
	case strings.IndexFunc(label, notLDH) >= 0:
		return store.Invalid(field, store.CodeInvalidValue, 0, "domain labels may hold letters, digits and hyphens only (no IP literals; IDNs in punycode)")
	}
	return nil
}

func notLDH(r rune) bool { return !isLetterOrDigit(r) && r != '-' }

func isLetterOrDigit(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// asciiLower lower-cases ASCII letters only; s is ASCII.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
