package eventstream

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// SigningSecret is a destination's signing secret, handed out once when the destination is
// created. Everything that might print or serialise it (String, GoString, every fmt verb,
// encoding/json, encoding/text, log/slog) shows "[REDACTED]"; only Reveal returns it. It is
// held behind a pointer, so fmt shows no secret even in an unexported field.
type SigningSecret struct{ s *string }

// Reveal returns the secret.
func (s SigningSecret) Reveal() string {
	if s.s == nil {
		return ""
	}
	return *s.s
}

// String implements fmt.Stringer: "[REDACTED]".
func (SigningSecret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (SigningSecret) GoString() string { return "eventstream.SigningSecret(" + redacted + ")" }

// Format implements fmt.Formatter: every verb prints "[REDACTED]".
func (s SigningSecret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", redacted)
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, redacted)
	default:
		fmt.Fprint(f, redacted)
	}
}

// LogValue implements slog.LogValuer.
func (SigningSecret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler.
func (SigningSecret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler.
func (SigningSecret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
