package sso

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret is a secret the library hands out once: a session token, a sign-in challenge, a
// password reset token, a TOTP secret or its otpauth URI, a recovery code. Everything that
// might print or serialise it (String, GoString, every fmt verb, encoding/json,
// encoding/text, log/slog) shows "[REDACTED]"; only Reveal gives the secret out. It is held
// behind a pointer, so fmt shows an address even for a Secret in an unexported struct field.
// The zero Secret holds nothing.
type Secret struct {
	p *string
}

func newSecret(s string) Secret { return Secret{p: &s} }

// Reveal returns the secret. Call it where the secret is handed to its holder (a cookie, a
// page shown once, an email), nowhere else.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether s holds nothing.
func (s Secret) IsZero() bool { return s.p == nil }

// String implements fmt.Stringer: "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer: "sso.Secret([REDACTED])".
func (s Secret) GoString() string { return "sso.Secret(" + redacted + ")" }

// Format implements fmt.Formatter: every verb prints "[REDACTED]" (%q quotes it, %#v prints
// GoString).
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", redacted)
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	default:
		_, _ = io.WriteString(f, redacted)
	}
}

// LogValue implements slog.LogValuer: "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler: "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler: the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
