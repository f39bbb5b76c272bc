package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Invitation tokens: "ivt_" + the invitation ID's body + "_" + 32 random bytes in unpadded
// base64url. The ID part routes the token to its invitation with no index; only the SHA-256
// of the random part is stored (store.Invitation.TokenHash).
const (
	invitationTokenPrefix = "ivt_"
	tokenSecretBytes      = 32 // 256 bits
	tokenSecretLen        = 43 // base64url, unpadded
	// InvitationTokenLen is the length of an invitation token.
	InvitationTokenLen = len(invitationTokenPrefix) + id.BodyLen + 1 + tokenSecretLen
)

const redacted = "[REDACTED]"

// base64URL is the strict, unpadded base64url of token secrets.
var base64URL = base64.RawURLEncoding.Strict()

// InvitationToken is an invitation's acceptance token, as Invite returns it: the only copy,
// to be delivered to the invited address (by email) and redeemed with
// Directory.AcceptInvitationToken. Everything that might print or serialise it (String,
// GoString, every fmt verb, encoding/json, encoding/text, log/slog) shows "[REDACTED]"; only
// Reveal gives the token out. The token is held behind a pointer, so fmt shows an address
// even for a token in an unexported struct field. The zero InvitationToken holds no token.
type InvitationToken struct {
	p *string
}

// Reveal returns the token. Call it where the token is handed to its recipient, nowhere else.
func (t InvitationToken) Reveal() string {
	if t.p == nil {
		return ""
	}
	return *t.p
}

// IsZero reports whether t holds no token.
func (t InvitationToken) IsZero() bool { return t.p == nil }

// String implements fmt.Stringer: "[REDACTED]".
func (t InvitationToken) String() string { return redacted }

// GoString implements fmt.GoStringer: "identity.InvitationToken([REDACTED])".
func (t InvitationToken) GoString() string { return "identity.InvitationToken(" + redacted + ")" }

// Format implements fmt.Formatter: every verb prints "[REDACTED]" (%q quotes it, %#v prints
// GoString).
func (t InvitationToken) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", redacted)
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, t.GoString())
	default:
		io.WriteString(f, redacted)
	}
}

// LogValue implements slog.LogValuer: "[REDACTED]".
func (t InvitationToken) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler: "[REDACTED]".
func (t InvitationToken) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler: the JSON string "[REDACTED]".
func (t InvitationToken) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// newInvitationToken draws a token for invitationID and returns it with the hash to store.
func newInvitationToken(r io.Reader, invitationID string) (InvitationToken, string, error) {
	var secret [tokenSecretBytes]byte
	if _, err := io.ReadFull(r, secret[:]); err != nil {
		return InvitationToken{}, "", fmt.Errorf("identity: reading randomness: %w", err)
	}
	tok := invitationTokenPrefix + id.Body(invitationID) + "_" + base64URL.EncodeToString(secret[:])
	return InvitationToken{p: &tok}, tokenHash(secret[:]), nil
}

func tokenHash(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// parseInvitationToken returns the invitation ID a token names and the hash of its secret.
// A malformed token is an error matching store.ErrInvalid for field "token" that never
// repeats it.
func parseInvitationToken(tok string) (invitationID, hash string, err error) {
	malformed := store.Invalid("token", store.CodeInvalidValue, 0, "not an invitation token (%s..., %d characters)", invitationTokenPrefix, InvitationTokenLen)
	body, ok := strings.CutPrefix(tok, invitationTokenPrefix)
	if !ok || len(tok) != InvitationTokenLen || body[id.BodyLen] != '_' {
		return "", "", malformed
	}
	invitationID = string(id.Invitation) + "_" + body[:id.BodyLen]
	if id.Check(invitationID, id.Invitation) != nil {
		return "", "", malformed
	}
	secret, err := base64URL.DecodeString(body[id.BodyLen+1:])
	if err != nil || len(secret) != tokenSecretBytes {
		return "", "", malformed
	}
	return invitationID, tokenHash(secret), nil
}

// tokenMatches compares a presented token's hash with the stored one in constant time. An
// invitation without a token matches nothing.
func tokenMatches(stored, presented string) bool {
	return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(presented)) == 1
}
