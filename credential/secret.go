package credential

import (
	"fmt"
	"log/slog"
)

// Secret is a newly issued token: the one time its owner gets to see it. Everything that
// might print or serialise it — String, GoString, every fmt verb, encoding/json,
// encoding/text (and so encoding/xml and most config encoders), and log/slog — shows
// "[REDACTED]" instead. Only Reveal returns the token; call it where the token is handed to
// its owner (a create response), nowhere else.
//
// The token is held behind a pointer, so fmt shows an address, not the secret, even for a
// Secret in an unexported struct field (where fmt cannot call its methods). A Secret is
// immutable and safe for concurrent use. The zero Secret holds no token.
type Secret struct {
	tok Token
}

// Reveal returns the token. It is the only way to get it out of a Secret.
func (s Secret) Reveal() string { return s.tok.Reveal() }

// Token returns the parsed token, e.g. to compute its digest for the store with a Hasher or
// to name its credential. Token redacts itself too.
func (s Secret) Token() Token { return s.tok }

// IsZero reports whether s holds no token.
func (s Secret) IsZero() bool { return s.tok.IsZero() }

// String implements fmt.Stringer: "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer: "credential.Secret([REDACTED])".
func (s Secret) GoString() string { return "credential.Secret(" + redacted + ")" }

// Format implements fmt.Formatter: every verb prints "[REDACTED]" (%q quotes it, %#v prints
// GoString).
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, redacted, s.GoString()) }

// LogValue implements slog.LogValuer: "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler: "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler: the JSON string "[REDACTED]". To send the token to
// its owner, put Reveal() in a string field.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
