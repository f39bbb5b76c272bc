package sso

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/iamkit/iamkit/store"
)

// Passwords are hashed with Argon2id (RFC 9106) and stored as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//	$argon2id$v=19$m=19456,t=2,p=1,keyid=<pepper ID>$<salt>$<hash>
//
// salt and hash in unpadded standard base64. With a pepper (WithPepper) the password is
// first keyed with HMAC-SHA-256 under it and keyid names the pepper, so that a copy of the
// store alone cannot test guesses offline, and a hash made under no pepper or another one is
// told apart.

// PasswordParams are Argon2id's cost parameters. The default, DefaultPasswordParams, is the
// minimum of OWASP's Password Storage Cheat Sheet (2025): 19 MiB of memory, 2 passes, 1
// degree of parallelism, a 16-byte salt and a 32-byte hash. RFC 9106's second recommended
// option (64 MiB, 3 passes, 4 lanes) costs more; raise them as the servers allow.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams returns OWASP's minimum Argon2id configuration: m=19456 KiB, t=2, p=1.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds of the parameters a PHC string may carry, and WithPasswordParams may set: a stored
// hash is never a way to make a sign-in allocate without limit.
const (
	minArgonMemory  = 8 * 1024    // KiB
	maxArgonMemory  = 1024 * 1024 // KiB: 1 GiB
	maxArgonTime    = 16
	maxArgonThreads = 16
	minSaltLen      = 16
	maxSaltLen      = 64
	minKeyLen       = 16
	maxKeyLen       = 64
	// MaxPHCLen is the longest PHC string parsePHC reads, in bytes.
	MaxPHCLen = 256
)

func (p PasswordParams) validate() error {
	switch {
	case p.Memory < minArgonMemory || p.Memory > maxArgonMemory:
		return store.Invalid("password_params.memory", store.CodeOutOfRange, maxArgonMemory, "must be %d to %d KiB", minArgonMemory, maxArgonMemory)
	case p.Time < 1 || p.Time > maxArgonTime:
		return store.Invalid("password_params.time", store.CodeOutOfRange, maxArgonTime, "must be 1 to %d", maxArgonTime)
	case p.Threads < 1 || p.Threads > maxArgonThreads:
		return store.Invalid("password_params.threads", store.CodeOutOfRange, maxArgonThreads, "must be 1 to %d", maxArgonThreads)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return store.Invalid("password_params.salt_len", store.CodeOutOfRange, maxSaltLen, "must be %d to %d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return store.Invalid("password_params.key_len", store.CodeOutOfRange, maxKeyLen, "must be %d to %d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

// phc is a parsed Argon2id PHC string.
type phc struct {
	params PasswordParams
	keyID  string // the pepper's ID, or "" for none
	salt   []byte
	hash   []byte
}

var phcB64 = base64.RawStdEncoding.Strict()

// format returns h as a PHC string.
func (h phc) format() string {
	var b strings.Builder
	b.WriteString("$argon2id$v=19$m=")
	b.WriteString(strconv.FormatUint(uint64(h.params.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.params.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.params.Threads), 10))
	if h.keyID != "" {
		b.WriteString(",keyid=")
		b.WriteString(h.keyID)
	}
	b.WriteByte('$')
	b.WriteString(phcB64.EncodeToString(h.salt))
	b.WriteByte('$')
	b.WriteString(phcB64.EncodeToString(h.hash))
	return b.String()
}

// errPHC is the error of a PHC string parsePHC refuses. It never repeats the string.
func errPHC(reason string) error {
	return store.Invalid("password_hash", store.CodeInvalidValue, 0, "not an Argon2id PHC string iamkit reads: %s", reason)
}

// parsePHC reads an Argon2id PHC string as format writes it: version 19, the parameters m,
// t and p in that order within the bounds above, an optional keyid, a salt and a hash of
// lengths WithPasswordParams allows, all in canonical unpadded base64.
func parsePHC(s string) (phc, error) {
	if len(s) > MaxPHCLen {
		return phc{}, errPHC("too long")
	}
	rest, ok := strings.CutPrefix(s, "$argon2id$v=19$")
	if !ok {
		return phc{}, errPHC("not argon2id version 19")
	}
	params, rest, ok := strings.Cut(rest, "$")
	if !ok {
		return phc{}, errPHC("no salt")
	}
	salt, hash, ok := strings.Cut(rest, "$")
	if !ok {
		return phc{}, errPHC("no hash")
	}
	var h phc
	var err error
	if h.params, h.keyID, err = parseArgonParams(params); err != nil {
		return phc{}, err
	}
	if h.salt, ok = canonicalB64(salt); !ok || len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return phc{}, errPHC("bad salt")
	}
	if h.hash, ok = canonicalB64(hash); !ok || len(h.hash) < minKeyLen || len(h.hash) > maxKeyLen {
		return phc{}, errPHC("bad hash")
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.hash))
	return h, nil
}

// canonicalB64 decodes s, which must be the canonical unpadded base64 of its bytes (the
// decoder alone skips CR and LF).
func canonicalB64(s string) ([]byte, bool) {
	b, err := phcB64.DecodeString(s)
	return b, err == nil && phcB64.EncodeToString(b) == s
}

// parseArgonParams reads "m=<KiB>,t=<passes>,p=<lanes>[,keyid=<id>]".
func parseArgonParams(s string) (PasswordParams, string, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 && len(parts) != 4 {
		return PasswordParams{}, "", errPHC("parameters are not m, t, p and an optional keyid")
	}
	var p PasswordParams
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(parts[i], name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || v != strconv.FormatUint(n, 10) {
			return PasswordParams{}, "", errPHC("bad parameter " + name)
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		default:
			if n > maxArgonThreads {
				return PasswordParams{}, "", errPHC("bad parameter p")
			}
			p.Threads = uint8(n)
		}
	}
	if p.Memory < minArgonMemory || p.Memory > maxArgonMemory || p.Time < 1 || p.Time > maxArgonTime || p.Threads < 1 {
		return PasswordParams{}, "", errPHC("parameters out of bounds")
	}
	var keyID string
	if len(parts) == 4 {
		v, ok := strings.CutPrefix(parts[3], "keyid=")
		if !ok || !isPepperID(v) {
			return PasswordParams{}, "", errPHC("bad keyid")
		}
		keyID = v
	}
	return p, keyID, nil
}

// pepperIDLen is the length of a pepper's ID: 6 bytes of its SHA-256 in unpadded base64.
const pepperIDLen = 8

func pepperID(pepper []byte) string {
	sum := sha256.Sum256(pepper)
	return phcB64.EncodeToString(sum[:6])
}

func isPepperID(s string) bool {
	_, ok := canonicalB64(s)
	return ok && len(s) == pepperIDLen
}

// hasher hashes and verifies passwords. At most a fixed number of hashes run at once (each
// takes PasswordParams.Memory), whatever the number of concurrent sign-ins; the rest wait,
// as long as their context allows.
type hasher struct {
	params PasswordParams
	pepper func(password []byte) []byte // nil without a pepper
	keyID  string
	slots  chan struct{}
	rand   io.Reader
	dummy  phc // a hash of nothing anyone knows, verified for unknown users
	minLen int
	common map[string]bool
}

func newHasher(params PasswordParams, pepper []byte, concurrency, minLen int, rand io.Reader) (*hasher, error) {
	if err := params.validate(); err != nil {
		return nil, err
	}
	h := &hasher{params: params, slots: make(chan struct{}, concurrency), rand: rand, minLen: minLen, common: map[string]bool{}}
	if pepper != nil {
		if len(pepper) < MinPepperLen {
			return nil, store.Invalid("pepper", store.CodeOutOfRange, MinPepperLen, "must be at least %d bytes", MinPepperLen)
		}
		key := append([]byte(nil), pepper...)
		h.keyID = pepperID(key)
		h.pepper = func(password []byte) []byte {
			m := hmac.New(sha256.New, key)
			m.Write(password)
			return m.Sum(nil)
		}
	}
	for line := range strings.Lines(commonPasswordList) {
		if w := strings.TrimSpace(line); w != "" {
			h.common[w] = true
		}
	}
	var nothing [32]byte
	if _, err := io.ReadFull(rand, nothing[:]); err != nil {
		return nil, fmt.Errorf("sso: reading randomness: %w", err)
	}
	dummy, err := h.newPHC(string(nothing[:]))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// MinPepperLen is the shortest pepper WithPepper accepts, in bytes.
const MinPepperLen = 32

// acquire takes a hashing slot, or fails when ctx ends first.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// input is what Argon2id hashes: the normalised password, keyed by the pepper if the hash is
// peppered.
func (h *hasher) input(password string, peppered bool) []byte {
	b := []byte(normalizePassword(password))
	if peppered {
		return h.pepper(b)
	}
	return b
}

// hash returns the PHC string of a new hash of password with the configured parameters and
// pepper.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p, err := h.newPHC(password)
	if err != nil {
		return "", err
	}
	return p.format(), nil
}

// newPHC hashes password with a fresh salt. The caller holds a slot, or is newHasher.
func (h *hasher) newPHC(password string) (phc, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return phc{}, fmt.Errorf("sso: reading randomness: %w", err)
	}
	p := h.params
	sum := argon2.IDKey(h.input(password, h.pepper != nil), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return phc{params: p, keyID: h.keyID, salt: salt, hash: sum}, nil
}

// verify reports whether password matches stored (a PHC string; empty: no password), and
// whether the stored hash should be replaced by one with the configured parameters and
// pepper (a hash made before a pepper was configured still verifies, and is replaced). With
// no stored hash, or one it cannot read (a hash under a pepper it does not have), it
// verifies against a dummy hash instead, so that the answer takes as long whoever asks.
func (h *hasher) verify(ctx context.Context, stored, password string) (ok, rehash bool, err error) {
	target, usable := h.dummy, false
	if stored != "" {
		if p, err := parsePHC(stored); err == nil && (p.keyID == "" || p.keyID == h.keyID) {
			target, usable = p, true
		}
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	tp := target.params
	sum := argon2.IDKey(h.input(password, target.keyID != ""), target.salt, tp.Time, tp.Memory, tp.Threads, uint32(len(target.hash)))
	h.release()
	ok = subtle.ConstantTimeCompare(sum, target.hash) == 1 && usable
	return ok, ok && (tp != h.params || target.keyID != h.keyID), nil
}

// Password policy, after NIST SP 800-63B (section 3.1.1.2): a minimum length, no
// composition rules, every printable character (Unicode included, normalised with NFKC),
// and a refusal of common passwords and of the user's own email.
const (
	// DefaultMinPasswordLen is the shortest password accepted unless WithMinPasswordLength
	// says otherwise, in characters (Unicode code points after NFKC).
	DefaultMinPasswordLen = 12
	// MaxPasswordLen is the longest password accepted, in bytes: room for 64 characters of
	// any script, as NIST asks, and a bound on what a sign-in hashes.
	MaxPasswordLen = 256
)

// normalizePassword is NFKC, as NIST recommends, so that the same password typed on two
// keyboards is the same password.
func normalizePassword(p string) string { return norm.NFKC.String(p) }

// commonPasswordList is a short list of common passwords of at least 8 characters, from
// the public breach corpora that NIST points to: the length rule does most of the work.
//
//go:embed common_passwords.txt
var commonPasswordList string

// checkPassword applies the policy to a new password for the user with email. field names
// the argument in errors.
func (h *hasher) checkPassword(field, password, email string) error {
	if len(password) > MaxPasswordLen {
		return store.Invalid(field, store.CodeTooLong, MaxPasswordLen, "%d bytes at most", MaxPasswordLen)
	}
	if !utf8.ValidString(password) || strings.ContainsFunc(password, unicode.IsControl) {
		return store.Invalid(field, store.CodeInvalidValue, 0, "must be valid UTF-8 without control characters")
	}
	p := normalizePassword(password)
	if n := utf8.RuneCountInString(p); n < h.minLen {
		return store.Invalid(field, CodePasswordTooShort, h.minLen, "%d characters at least", h.minLen)
	}
	lower := strings.ToLower(p)
	local, _, _ := strings.Cut(email, "@")
	switch {
	case h.common[lower]:
		return store.Invalid(field, CodePasswordCommon, 0, "is one of the most common passwords")
	case email != "" && (lower == strings.ToLower(email) || lower == strings.ToLower(local)):
		return store.Invalid(field, CodePasswordCommon, 0, "must not be the email address")
	}
	return nil
}
