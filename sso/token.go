package sso

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/iamkit/iamkit/internal/id"
)

// Session tokens are shaped like credential tokens:
//
//	ias_<session ID body>_<secret>
//
// the ID body (30 characters: a ULID and the account's shard tag) names the session with
// no index, and the secret is 160 random bits in 40 lower-case hex digits; the store keeps
// only the secret's SHA-256, so a lookup is by ID and a constant-time compare of digests.
const (
	sessionTokenPrefix = "ias_"
	sessionSecretBytes = 20
	sessionSecretLen   = 2 * sessionSecretBytes
	// SessionTokenLen is the length of every dashboard session token.
	SessionTokenLen = len(sessionTokenPrefix) + id.BodyLen + 1 + sessionSecretLen
)

// isCrockford reports whether c is in the alphabet of ID bodies: upper-case Crockford base32
// (digits and letters but I, L, O and U).
func isCrockford(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U'
}

// newSessionToken draws the token of session sessionID and returns it with the hex SHA-256
// of its secret, which is what the store keeps.
func newSessionToken(r io.Reader, sessionID string) (Secret, string, error) {
	var secret [sessionSecretBytes]byte
	if _, err := io.ReadFull(r, secret[:]); err != nil {
		return Secret{}, "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	tok := sessionTokenPrefix + id.Body(sessionID) + "_" + hex.EncodeToString(secret[:])
	sum := sha256.Sum256(secret[:])
	return newSecret(tok), hex.EncodeToString(sum[:]), nil
}

// parsedSessionToken is a well-formed session token: the session's ID body and the SHA-256
// of its secret.
type parsedSessionToken struct {
	body string
	hash [sha256.Size]byte
}

// sessionID returns the ID of the session the token names.
func (t parsedSessionToken) sessionID() string { return string(id.Session) + "_" + t.body }

// parseSessionToken checks a token's shape: prefix, length, ID alphabet, separator and hex
// secret. It reads no store, and rejects without allocating; its error never repeats the
// token.
func parseSessionToken(tok string) (parsedSessionToken, bool) {
	if len(tok) != SessionTokenLen || tok[:len(sessionTokenPrefix)] != sessionTokenPrefix {
		return parsedSessionToken{}, false
	}
	body := tok[len(sessionTokenPrefix) : len(sessionTokenPrefix)+id.BodyLen]
	if body[0] > '7' { // the ULID's time would overflow
		return parsedSessionToken{}, false
	}
	for i := 0; i < len(body); i++ {
		if !isCrockford(body[i]) {
			return parsedSessionToken{}, false
		}
	}
	if tok[len(sessionTokenPrefix)+id.BodyLen] != '_' {
		return parsedSessionToken{}, false
	}
	var secret [sessionSecretBytes]byte
	hexSecret := tok[len(tok)-sessionSecretLen:]
	for i := range secret {
		hi, ok1 := lowerHex(hexSecret[2*i])
		lo, ok2 := lowerHex(hexSecret[2*i+1])
		if !ok1 || !ok2 {
			return parsedSessionToken{}, false
		}
		secret[i] = hi<<4 | lo
	}
	return parsedSessionToken{body: body, hash: sha256.Sum256(secret[:])}, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// Challenges (the step between a password and a second factor) and password reset tokens
// are random keys with a prefix: "iasc_" or "iapr_" and 32 random bytes in unpadded
// base64url. The store keeps them as single-use keys under their SHA-256.
const (
	challengePrefix = "iasc_"
	resetPrefix     = "iapr_"
	randomKeyBytes  = 32
	randomKeyLen    = 43
)

var b64URL = base64.RawURLEncoding.Strict()

// newRandomToken returns prefix and randomKeyBytes random bytes, with the hex SHA-256 of the
// whole token.
func newRandomToken(r io.Reader, prefix string) (Secret, string, error) {
	var raw [randomKeyBytes]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return Secret{}, "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	tok := prefix + b64URL.EncodeToString(raw[:])
	return newSecret(tok), tokenDigest(tok), nil
}

// parseRandomToken returns the digest of a well-formed token with prefix, or false.
func parseRandomToken(tok, prefix string) (string, bool) {
	if len(tok) != len(prefix)+randomKeyLen || tok[:len(prefix)] != prefix {
		return "", false
	}
	// The decoder skips CR and LF: only the canonical encoding of randomKeyBytes is a token.
	raw, err := b64URL.DecodeString(tok[len(prefix):])
	if err != nil || len(raw) != randomKeyBytes || b64URL.EncodeToString(raw) != tok[len(prefix):] {
		return "", false
	}
	return tokenDigest(tok), true
}

func tokenDigest(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
