package credential

import (
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// The token format. A token is
//
//	<kind prefix> "_" <credential ID body> "_" <secret> <checksum>
//
// for example (68 characters, all of them in [A-Za-z0-9_]):
//
//	iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_4sRL18d676oum8AOvEiEdfXPdAs3RoCnf
//	\_/ \____________________________/ \_________________________/\____/
//	kind   ID body (ULID + shard tag)      secret: 160 bits, base62  CRC-32C
//
// The kind prefixes are "iat" (authtoken), "iak" (API key) and "iap" (access token).
const (
	// TokenPrefixAuthtoken starts every tunnel authtoken.
	TokenPrefixAuthtoken = "iat"
	// TokenPrefixAPIKey starts every API key.
	TokenPrefixAPIKey = "iak"
	// TokenPrefixAccessToken starts every access token.
	TokenPrefixAccessToken = "iap"

	// SecretBytes is the number of random bytes behind every token's secret (160 bits).
	SecretBytes = 20
	// SecretLen is the length of a token's secret part: SecretBytes in fixed-width base62.
	SecretLen = 27
	// ChecksumLen is the length of a token's checksum: the CRC-32C (Castagnoli) of everything
	// before it, in fixed-width base62.
	ChecksumLen = 6
	// TokenLen is the length of every token.
	TokenLen = kindPrefixLen + 1 + id.BodyLen + 1 + SecretLen + ChecksumLen

	// TokenPattern is a regular expression (RE2 syntax) that matches iamkit tokens of every
	// kind, for secret scanners. A match may still fail ParseToken (checksum, secret out of
	// range); NewTestToken makes tokens that match it and parse, for scanners' tests.
	TokenPattern = `\bia[tkp]_[0-7][0-9A-HJKMNP-TV-Z]{29}_[0-9A-Za-z]{33}\b`
)

const (
	kindPrefixLen = 3
	bodyStart     = kindPrefixLen + 1
	bodyEnd       = bodyStart + id.BodyLen
	secretStart   = bodyEnd + 1
	secretEnd     = secretStart + SecretLen

	// base62Alphabet is in ASCII order, so comparing two fixed-width encodings as strings
	// compares the numbers they encode.
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// maxSecret is 2^160-1 in SecretLen base62 digits: 27 digits can encode up to about
	// 2^160.8, and a secret above this value would not be the encoding of any SecretBytes.
	maxSecret = "aWgEPTl1tmebfsQzFP4bxwgy80V"

	redacted = "[REDACTED]"
)

// tokenError is the type of ParseToken's errors: a small integer, so returning one never
// allocates, which keeps ParseToken's reject path allocation-free. Every tokenError matches
// store.ErrInvalid (it unwraps to it) and has a code (ErrorCode, read by store.CodeOf).
type tokenError uint8

// The ways a token can be malformed.
const (
	errTokenShape    tokenError = iota + 1 // a misplaced separator
	errTokenKind                           // no iamkit token prefix
	errTokenLength                         // the wrong length
	errTokenID                             // an invalid credential ID part
	errTokenSecret                         // an invalid secret part
	errTokenChecksum                       // a checksum that does not match
	numTokenErrors
)

var tokenErrorText = [numTokenErrors]string{
	errTokenShape:    "credential: malformed token: misplaced separator",
	errTokenKind:     "credential: malformed token: unknown kind prefix",
	errTokenLength:   "credential: malformed token: wrong length",
	errTokenID:       "credential: malformed token: invalid credential ID part",
	errTokenSecret:   "credential: malformed token: invalid secret part",
	errTokenChecksum: "credential: malformed token: checksum mismatch",
}

// Error implements error. It never repeats any part of the token.
func (e tokenError) Error() string {
	if e < numTokenErrors {
		return tokenErrorText[e]
	}
	return "credential: malformed token"
}

// ErrorCode returns the error's code: CodeTokenUnknownKind, CodeTokenChecksum or
// CodeMalformedToken.
func (e tokenError) ErrorCode() string {
	switch e {
	case errTokenKind:
		return CodeTokenUnknownKind
	case errTokenChecksum:
		return CodeTokenChecksum
	}
	return CodeMalformedToken
}

// Unwrap returns store.ErrInvalid: a malformed token is an invalid argument.
func (e tokenError) Unwrap() error { return store.ErrInvalid }

// Token is a parsed, well-formed token: its kind, credential ID and secret part, and a
// checksum that matched. Parsing says nothing about whether the credential exists; that is
// the Verifier's job.
//
// A Token refers to the string it was parsed from and does not copy it. It is a small value,
// immutable and safe for concurrent use. It holds a secret, so it redacts itself when
// printed, logged or marshalled; SecretPart and Reveal are the only ways to read the secret.
// The zero Token is not a valid token: its methods return zero values.
type Token struct {
	p *byte // see tokenText
}

// ParseToken checks that s is a well-formed token: prefix, separators, length, alphabets,
// secret range and checksum. It neither allocates nor looks anything up, whether it accepts
// or rejects s, so it is cheap enough to run before any other work on untrusted input.
//
// Every error matches store.ErrInvalid and has a code (store.CodeOf): CodeMalformedToken,
// or CodeTokenUnknownKind (not an iamkit token at all: another issuer's, an SSH key or an
// ID pasted by mistake) or CodeTokenChecksum (the right shape but a checksum that does not
// match: mistyped, truncated and padded, or made up). Errors never repeat any part of s.
func ParseToken(s string) (Token, error) {
	if len(s) <= kindPrefixLen || s[kindPrefixLen] != '_' {
		return Token{}, errTokenShape
	}
	if kindOfPrefix(s[:kindPrefixLen]) == "" {
		return Token{}, errTokenKind
	}
	if len(s) != TokenLen {
		return Token{}, errTokenLength
	}
	if s[bodyEnd] != '_' {
		return Token{}, errTokenShape
	}
	body := s[bodyStart:bodyEnd]
	if body[0] > '7' { // the ULID's 48-bit time would overflow
		return Token{}, errTokenID
	}
	// Table lookups accumulated without branches: each byte of charClass is a base62 value,
	// classCrockford if the character is in the ID alphabet, classInvalid if not base62.
	crockford := byte(classCrockford)
	for i := 0; i < len(body); i++ {
		crockford &= charClass[body[i]]
	}
	if crockford == 0 {
		return Token{}, errTokenID
	}
	secret := s[secretStart:secretEnd]
	var invalid byte
	for i := 0; i < len(secret); i++ {
		invalid |= charClass[secret[i]]
	}
	if invalid&classInvalid != 0 || secret > maxSecret {
		return Token{}, errTokenSecret
	}
	// Decode the checksum rather than encode the CRC: equal values mean equal strings, as
	// both are ChecksumLen digits.
	var sum uint64
	for i := secretEnd; i < TokenLen; i++ {
		c := charClass[s[i]]
		invalid |= c
		sum = sum*62 + uint64(c&classValue)
	}
	if invalid&classInvalid != 0 || sum != uint64(checksum(bytesOf(s[:secretEnd]))) {
		return Token{}, errTokenChecksum
	}
	return Token{p: tokenPointer(s)}, nil
}

// NewToken generates a token for the credential credentialID of the given kind, reading
// SecretBytes from rand (crypto/rand.Reader in production). credentialID must be a
// well-formed ID of the kind: cr_ for store.Authtoken, ak_ for store.APIKey, pat_ for
// store.AccessToken. SSH credentials have no token.
//
// The secret is not recoverable from anything else: store only the Hasher's digest of the
// returned token and hand the token to its owner once, with Secret.Reveal.
func NewToken(kind store.CredentialKind, credentialID string, rand io.Reader) (Secret, error) {
	prefix, idPrefix := tokenPrefixOf(kind)
	if prefix == "" {
		return Secret{}, store.Invalid("kind", store.CodeInvalidValue, 0, "%q credentials have no token", kind)
	}
	if err := id.CheckArg("credential_id", credentialID, idPrefix); err != nil {
		return Secret{}, err
	}
	var raw [SecretBytes]byte
	defer clear(raw[:])
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return Secret{}, fmt.Errorf("credential: reading randomness: %w", err)
	}
	var buf [TokenLen]byte
	copy(buf[:], prefix)
	buf[kindPrefixLen] = '_'
	copy(buf[bodyStart:], id.Body(credentialID))
	buf[bodyEnd] = '_'
	encodeSecret((*[SecretLen]byte)(buf[secretStart:secretEnd]), &raw)
	encodeChecksum((*[ChecksumLen]byte)(buf[secretEnd:]), checksum(buf[:secretEnd]))
	s := string(buf[:])
	clear(buf[:])
	tok, err := ParseToken(s)
	if err != nil { // cannot happen: the parts were validated or generated above
		return Secret{}, fmt.Errorf("credential: generated token does not parse: %w", err)
	}
	return Secret{tok: tok}, nil
}

// testTag is the shard tag of test tokens' credential IDs.
const testTag = "TEST"

// NewTestToken returns a token of the given kind that parses, checksum included, and that
// TokenPattern matches, but that names no credential and never will: its credential ID is
// reserved (its time part is zero, which no ID generator makes), and every part of iamkit
// (the Verifier, Service.RevokeByToken, the leak responder) refuses it before any lookup.
// It is for secret scanners' tests and documentation, not a secret. rand supplies the
// randomness (crypto/rand.Reader, or anything: nothing depends on it).
func NewTestToken(kind store.CredentialKind, rand io.Reader) (string, error) {
	_, idPrefix := tokenPrefixOf(kind)
	if idPrefix == "" {
		return "", store.Invalid("kind", store.CodeInvalidValue, 0, "%q credentials have no token", kind)
	}
	var random [id.BodyLen - 10 - len(testTag)]byte
	if _, err := io.ReadFull(rand, random[:]); err != nil {
		return "", fmt.Errorf("credential: reading randomness: %w", err)
	}
	body := []byte("0000000000")
	for _, b := range random {
		body = append(body, crockfordAlphabet[b&31])
	}
	body = append(body, testTag...)
	sec, err := NewToken(kind, string(idPrefix)+"_"+string(body), rand)
	if err != nil {
		return "", err
	}
	return sec.Reveal(), nil
}

// crockfordAlphabet is the alphabet of ID bodies.
const crockfordAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IsTestToken reports whether t is a test token (NewTestToken): its credential ID is
// reserved, so it names no credential. It does not allocate.
func IsTestToken(t Token) bool { return t.p != nil && id.Reserved(t.IDBody()) }

// text is the whole token, or "" for the zero Token.
func (t Token) text() string { return tokenText(t.p) }

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t.p == nil }

// Kind returns the kind of credential the token's prefix names: store.Authtoken,
// store.APIKey or store.AccessToken ("" for the zero Token).
func (t Token) Kind() store.CredentialKind {
	if t.p == nil {
		return ""
	}
	return kindOfPrefix(t.text()[:kindPrefixLen])
}

// IDBody returns the credential ID without its type prefix: id.BodyLen characters, the last
// four of which are the account's shard tag. It does not allocate.
func (t Token) IDBody() string {
	if t.p == nil {
		return ""
	}
	return t.text()[bodyStart:bodyEnd]
}

// ShardTag returns the account's shard tag that the credential ID ends with: a store that
// shards by account routes the token with it, without a lookup. It does not allocate.
func (t Token) ShardTag() string {
	if t.p == nil {
		return ""
	}
	return t.text()[bodyEnd-id.TagLen : bodyEnd]
}

// CredentialID returns the full ID of the credential the token claims to be for (cr_...,
// ak_... or pat_...). It allocates; MatchesCredential compares without allocating.
func (t Token) CredentialID() string {
	_, idPrefix := tokenPrefixOf(t.Kind())
	if idPrefix == "" {
		return ""
	}
	return string(idPrefix) + "_" + t.IDBody()
}

// MatchesCredential reports whether the token names the credential credentialID of the given
// kind. A Verifier that finds a credential by the hash of the secret must check this too:
// the hash covers only the secret part, and a token is for one credential and one kind only.
// It does not allocate.
func (t Token) MatchesCredential(kind store.CredentialKind, credentialID string) bool {
	if t.p == nil || t.Kind() != kind {
		return false
	}
	_, idPrefix := tokenPrefixOf(kind)
	n := len(idPrefix)
	return len(credentialID) == n+1+id.BodyLen &&
		credentialID[:n] == string(idPrefix) &&
		credentialID[n] == '_' &&
		credentialID[n+1:] == t.IDBody()
}

// SecretPart returns the token's secret part (SecretLen characters, without the checksum):
// what HashSecret and the Hasher hash. It is the secret itself; keep it out of logs and
// errors. It does not allocate.
func (t Token) SecretPart() string {
	if t.p == nil {
		return ""
	}
	return t.text()[secretStart:secretEnd]
}

// Reveal returns the whole token, secret included. It is the only method of Token that
// prints the secret.
func (t Token) Reveal() string { return t.text() }

// String returns the token with its secret and checksum replaced by "[REDACTED]": what may be
// logged to name a credential.
func (t Token) String() string {
	if t.p == nil {
		return redacted
	}
	return t.text()[:secretStart] + redacted
}

// GoString implements fmt.GoStringer with the redacted form.
func (t Token) GoString() string { return "credential.Token(" + t.String() + ")" }

// Format implements fmt.Formatter: every verb prints the redacted form (%q quotes it, %#v
// prints GoString).
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String(), t.GoString()) }

// LogValue implements slog.LogValuer with the redacted form.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalJSON implements json.Marshaler with the redacted form, as a JSON string.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + t.String() + `"`), nil }

// formatRedacted writes the redacted text s for any verb: quoted for %q, gs for %#v.
func formatRedacted(f fmt.State, verb rune, s, gs string) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", s)
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, gs)
	default:
		io.WriteString(f, s)
	}
}

// TokenPrefix returns the token prefix of a credential kind ("iat", "iak", "iap"), or "" for
// a kind without tokens.
func TokenPrefix(kind store.CredentialKind) string {
	p, _ := tokenPrefixOf(kind)
	return p
}

func tokenPrefixOf(kind store.CredentialKind) (string, id.Prefix) {
	switch kind {
	case store.Authtoken:
		return TokenPrefixAuthtoken, id.Authtoken
	case store.APIKey:
		return TokenPrefixAPIKey, id.APIKey
	case store.AccessToken:
		return TokenPrefixAccessToken, id.AccessToken
	}
	return "", ""
}

func kindOfPrefix(p string) store.CredentialKind {
	switch p {
	case TokenPrefixAuthtoken:
		return store.Authtoken
	case TokenPrefixAPIKey:
		return store.APIKey
	case TokenPrefixAccessToken:
		return store.AccessToken
	}
	return ""
}

// charClass maps a byte to its base62 value (classValue bits), with classCrockford set if it
// is in the alphabet of ID bodies (upper-case Crockford base32: digits and letters but I, L,
// O and U), or to classInvalid if it is not a base62 digit. Generated; TestCharClass checks
// it against the alphabets.
const charClass = "" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x40\x41\x42\x43\x44\x45\x46\x47\x48\x49\x80\x80\x80\x80\x80\x80" +
	"\x80\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x12\x53\x54\x15\x56\x57\x18" +
	"\x59\x5a\x5b\x5c\x5d\x1e\x5f\x60\x61\x62\x63\x80\x80\x80\x80\x80" +
	"\x80\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32" +
	"\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80" +
	"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"

const (
	classValue     = 0x3f
	classCrockford = 0x40
	classInvalid   = 0x80
)

// encodeSecret writes src, a big-endian number, as SecretLen base62 digits.
func encodeSecret(dst *[SecretLen]byte, src *[SecretBytes]byte) {
	var limbs [SecretBytes / 4]uint32
	for i := range limbs {
		limbs[i] = uint32(src[4*i])<<24 | uint32(src[4*i+1])<<16 | uint32(src[4*i+2])<<8 | uint32(src[4*i+3])
	}
	for i := SecretLen - 1; i >= 0; i-- {
		var rem uint64
		for j := range limbs {
			cur := rem<<32 | uint64(limbs[j])
			limbs[j] = uint32(cur / 62)
			rem = cur % 62
		}
		dst[i] = base62Alphabet[rem]
	}
	clear(limbs[:])
}

// encodeChecksum writes v as ChecksumLen base62 digits.
// checksum is the CRC-32C (Castagnoli) of b. CRC-32C has a hardware path for inputs of any
// length; the IEEE polynomial's fast path starts at 64 bytes, above the 62 a token checksums,
// and took 60% of ParseToken.
func checksum(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func encodeChecksum(dst *[ChecksumLen]byte, v uint32) {
	for i := ChecksumLen - 1; i >= 0; i-- {
		dst[i] = base62Alphabet[v%62]
		v /= 62
	}
}
