package identity

import (
	"fmt"
	"net/mail"
	"strings"
)

// MaxEmailLen is the longest email address accepted, in bytes (RFC 5321's path limit).
const MaxEmailLen = 254

// NormalizeEmail returns the canonical form of an email address, the form users and
// invitations are stored and looked up under: surrounding space trimmed and lower-cased.
// It accepts a bare address only (no display name, no angle brackets) and returns a
// *ValidationError for anything else.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	switch {
	case e == "":
		return "", &ValidationError{Field: "email", Reason: "required"}
	case len(e) > MaxEmailLen:
		return "", &ValidationError{Field: "email", Reason: fmt.Sprintf("%d bytes at most, got %d", MaxEmailLen, len(e))}
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", &ValidationError{Field: "email", Reason: "must be a bare address such as name@example.com"}
	}
	return e, nil
}
