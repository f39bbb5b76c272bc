package credential

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/iamkit/iamkit/store"
)

// MinPepperLen is the shortest pepper WithPepper accepts, in bytes. A pepper should come from
// crypto/rand and live outside the store (a secret manager, the service's configuration).
const MinPepperLen = 32

// HashSecret returns the SHA-256 of t's secret part: the digest a Hasher without a pepper
// stores (in hex) in store.Credential.SecretHash. It does not allocate.
func HashSecret(t Token) [sha256.Size]byte {
	return sha256.Sum256(bytesOf(t.SecretPart()))
}

// Hasher computes the digest of a token's secret that the store keeps and a verifier looks up:
// SHA-256 of the secret part, or, with WithPepper, HMAC-SHA-256 keyed by a server-side pepper,
// so that a copy of the store alone cannot be used to test guessed tokens offline.
//
// Every credential of a deployment must be hashed with the same Hasher configuration; changing
// the pepper makes every existing token unknown. The zero Hasher, and a nil *Hasher, hash
// with plain SHA-256. A Hasher is immutable and safe for concurrent use. It never prints its
// pepper.
type Hasher struct {
	// mac computes HMAC-SHA-256 with the pepper's pads, which it captures; nil means plain
	// SHA-256. The pads are reachable only through a func value because fmt prints a func as
	// an address, even for a Hasher in an unexported struct field and under verbs that make
	// fmt dump pointed-to structs and arrays.
	mac func(secret string) [sha256.Size]byte
}

// HasherOption configures NewHasher.
type HasherOption func(*hasherConfig)

type hasherConfig struct {
	pepper []byte
	set    bool
}

// WithPepper makes the Hasher compute HMAC-SHA-256 keyed by pepper, which must be at least
// MinPepperLen bytes. NewHasher copies it.
func WithPepper(pepper []byte) HasherOption {
	return func(c *hasherConfig) {
		c.pepper = pepper
		c.set = true
	}
}

// NewHasher returns a Hasher. Without options it hashes with plain SHA-256. A pepper shorter
// than MinPepperLen is an error matching store.ErrInvalid (Field "pepper", Limit
// MinPepperLen).
func NewHasher(opts ...HasherOption) (*Hasher, error) {
	var c hasherConfig
	for _, o := range opts {
		o(&c)
	}
	if !c.set {
		return &Hasher{}, nil
	}
	if len(c.pepper) < MinPepperLen {
		return nil, store.Invalid("pepper", store.CodeOutOfRange, MinPepperLen, "must be at least %d bytes", MinPepperLen)
	}
	key := c.pepper
	if len(key) > sha256.BlockSize { // RFC 2104: hash keys longer than the block size
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	var ipad, opad [sha256.BlockSize]byte
	for i := range sha256.BlockSize {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		ipad[i] = b ^ 0x36
		opad[i] = b ^ 0x5c
	}
	return &Hasher{mac: func(secret string) [sha256.Size]byte { return hmacSHA256(&ipad, &opad, secret) }}, nil
}

// hmacSHA256 computes HMAC-SHA-256 (RFC 2104) of a secret part from precomputed pads, on the
// stack, so that it does not allocate.
func hmacSHA256(ipad, opad *[sha256.BlockSize]byte, secret string) [sha256.Size]byte {
	var inner [sha256.BlockSize + SecretLen]byte
	copy(inner[:], ipad[:])
	n := copy(inner[sha256.BlockSize:], secret)
	innerSum := sha256.Sum256(inner[:sha256.BlockSize+n])
	clear(inner[:])
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], opad[:])
	copy(outer[sha256.BlockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}

// Peppered reports whether h computes HMAC-SHA-256 with a pepper.
func (h *Hasher) Peppered() bool { return h != nil && h.mac != nil }

// Hash returns the digest of t's secret part. It does not allocate.
func (h *Hasher) Hash(t Token) [sha256.Size]byte {
	if !h.Peppered() {
		return HashSecret(t)
	}
	return h.mac(t.SecretPart())
}

// HashHex returns Hash(t) in lower-case hex: the form of store.Credential.SecretHash.
func (h *Hasher) HashHex(t Token) string {
	sum := h.Hash(t)
	return hex.EncodeToString(sum[:])
}

// String implements fmt.Stringer without the pepper.
func (h *Hasher) String() string {
	if h.Peppered() {
		return "credential.Hasher(HMAC-SHA-256, pepper [REDACTED])"
	}
	return "credential.Hasher(SHA-256)"
}

// GoString implements fmt.GoStringer without the pepper.
func (h *Hasher) GoString() string { return h.String() }

// ParseSecretHash decodes a store.Credential.SecretHash (64 hex digits) into the digest Hash
// returns, e.g. to key a verifier's cache. It does not allocate when s is well-formed. A malformed hash is an
// error matching store.ErrInvalid (Field "secret_hash").
func ParseSecretHash(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(s) != hex.EncodedLen(sha256.Size) {
		return sum, secretHashError()
	}
	if _, err := hex.Decode(sum[:], bytesOf(s)); err != nil {
		return [sha256.Size]byte{}, secretHashError()
	}
	return sum, nil
}

func secretHashError() error {
	return store.Invalid("secret_hash", store.CodeInvalidValue, 0, "must be 64 hex digits")
}
