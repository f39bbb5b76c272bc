package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/iamkit/iamkit/store"
)

// TOTP (RFC 6238) as authenticator apps expect it: 30-second steps, 6 digits, HMAC-SHA-1,
// a 160-bit secret. A code is accepted in its step and one step either side (clock skew),
// and never twice: the step it matched is a single-use key per user.
const (
	totpPeriod     = 30 // seconds
	totpSkew       = 1  // steps either side
	totpSecretSize = 20 // bytes
	// SecretKeyLen is the length of the key WithSecretKey takes: AES-256.
	SecretKeyLen = 32
	// RecoveryCodes is how many recovery codes a confirmed TOTP enrolment gets, each usable
	// once.
	RecoveryCodes = 10
)

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// TOTPSetup is a TOTP secret being enrolled: show URI as a QR code (or Secret for typing in)
// and confirm with a code the authenticator app then shows.
type TOTPSetup struct {
	// Secret is the base32 secret, for typing into an app by hand.
	Secret Secret
	// URI is the otpauth:// URI (issuer, account, secret) that authenticator apps read from
	// a QR code.
	URI Secret
	// Issuer and Account are what the app will show: the dashboard's name and the user's
	// email.
	Issuer, Account string
}

// sealer seals TOTP secrets with AES-256-GCM under the embedder's key, bound to the user:
// a sealed secret copied to another user's record does not open.
type sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

func newSealer(key []byte, rand io.Reader) (*sealer, error) {
	if len(key) != SecretKeyLen {
		return nil, store.Invalid("secret_key", store.CodeInvalidValue, SecretKeyLen, "must be %d bytes (AES-256)", SecretKeyLen)
	}
	block, err := aes.NewCipher(append([]byte(nil), key...))
	if err != nil {
		return nil, fmt.Errorf("sso: secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sso: secret key: %w", err)
	}
	return &sealer{aead: aead, rand: rand}, nil
}

func totpAAD(userID string) []byte { return []byte("iamkit totp secret\x00" + userID) }

// seal returns the base32 secret sealed for userID: base64(nonce || ciphertext).
func (s *sealer) seal(userID, secret string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(secret), totpAAD(userID))), nil
}

func errUnseal() error { return errors.New("sso: the TOTP secret does not open with the secret key") }

// open returns the base32 secret sealed for userID.
func (s *sealer) open(userID, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", errUnseal()
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], totpAAD(userID))
	if err != nil {
		return "", errUnseal()
	}
	return string(plain), nil
}

// newTOTP generates a TOTP key for a user.
func newTOTP(rand io.Reader, issuer, account string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: totpPeriod, SecretSize: totpSecretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand,
	})
	if err != nil {
		return nil, fmt.Errorf("sso: generating a TOTP secret: %w", err)
	}
	return k, nil
}

// isTOTPCode reports whether s is six ASCII digits.
func isTOTPCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matchTOTP returns the step (counter) whose code, for secret at now, is code, looking at the
// current step and totpSkew steps either side; false if none. It compares every candidate in
// constant time.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if !isTOTPCode(code) {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	var match int64
	found := 0
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts())
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found == 0 {
			match, found = step, 1
		}
	}
	return match, found == 1
}

// totpStepKey is the single-use key that keeps the code of one step of one user from being
// accepted twice, and its expiry: when the step has left the skew window.
func totpStepKey(userID string, step int64) (string, time.Time) {
	return "sso:totp:" + userID + ":" + strconv.FormatInt(step, 10), time.Unix((step+totpSkew+1)*totpPeriod, 0)
}

// Recovery codes: 16 characters of Crockford's base32 (80 bits) in four groups of four,
// such as "7d4k-m2qx-9r0b-j6tw". Only their SHA-256 is stored.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

func newRecoveryCode(rand io.Reader) (string, error) {
	var raw [10]byte // 80 bits
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	var b strings.Builder
	var acc uint64
	bits := 0
	n := 0
	for _, c := range raw {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			if n > 0 && n%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[acc>>bits&31])
			n++
		}
	}
	return b.String(), nil
}

// normalizeRecoveryCode reads a recovery code as a person may type it (any case, with or
// without dashes and spaces, i/l for 1 and o for 0) and returns its 16 characters, or false.
func normalizeRecoveryCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case '-', ' ':
			continue
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		if r > 0x7f || !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != 16 {
		return "", false
	}
	return b.String(), true
}

func recoveryCodeHash(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}

// newRecoveryCodes returns RecoveryCodes fresh codes and their hashes.
func newRecoveryCodes(rand io.Reader) ([]Secret, []string, error) {
	codes := make([]Secret, RecoveryCodes)
	hashes := make([]string, RecoveryCodes)
	for i := range codes {
		c, err := newRecoveryCode(rand)
		if err != nil {
			return nil, nil, err
		}
		n, _ := normalizeRecoveryCode(c)
		codes[i], hashes[i] = newSecret(c), recoveryCodeHash(n)
	}
	return codes, hashes, nil
}

// useRecoveryCode returns hashes without the one code matches, and whether one did. It
// compares against every stored hash in constant time.
func useRecoveryCode(hashes []string, code string) ([]string, bool) {
	n, ok := normalizeRecoveryCode(code)
	if !ok {
		return hashes, false
	}
	h := recoveryCodeHash(n)
	at := -1
	for i, stored := range hashes {
		if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1 {
			at = i
		}
	}
	if at < 0 {
		return hashes, false
	}
	out := make([]string, 0, len(hashes)-1)
	out = append(out, hashes[:at]...)
	return append(out, hashes[at+1:]...), true
}
