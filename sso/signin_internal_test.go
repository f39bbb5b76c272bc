package sso

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

func testHasher(t testing.TB, pepper []byte, concurrency int) *hasher {
	t.Helper()
	h, err := newHasher(PasswordParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, pepper, concurrency, DefaultMinPasswordLen, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const goodPHC = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// TestPHC checks the PHC strings parsePHC reads: what format writes, and nothing looser.
func TestPHC(t *testing.T) {
	p, err := parsePHC(goodPHC)
	if err != nil {
		t.Fatal(err)
	}
	if p.params != (PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) || p.keyID != "" {
		t.Errorf("parsed %+v", p)
	}
	if got := p.format(); got != goodPHC {
		t.Errorf("format = %s, want %s", got, goodPHC)
	}
	withKey := strings.Replace(goodPHC, "p=1$", "p=1,keyid=AAAAAAAA$", 1)
	if p, err := parsePHC(withKey); err != nil || p.keyID != "AAAAAAAA" || p.format() != withKey {
		t.Errorf("with a keyid: %+v, %v", p, err)
	}
	for _, c := range []struct{ name, s string }{
		{"empty", ""},
		{"argon2i", strings.Replace(goodPHC, "argon2id", "argon2i", 1)},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"},
		{"version_16", strings.Replace(goodPHC, "v=19", "v=16", 1)},
		{"no_version", strings.Replace(goodPHC, "v=19$", "", 1)},
		{"params_reordered", strings.Replace(goodPHC, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1)},
		{"leading_zero", strings.Replace(goodPHC, "t=2", "t=02", 1)},
		{"plus_sign", strings.Replace(goodPHC, "t=2", "t=+2", 1)},
		{"memory_too_low", strings.Replace(goodPHC, "m=19456", "m=8191", 1)},
		{"memory_too_high", strings.Replace(goodPHC, "m=19456", "m=1048577", 1)},
		{"memory_overflow", strings.Replace(goodPHC, "m=19456", "m=99999999999", 1)},
		{"time_zero", strings.Replace(goodPHC, "t=2", "t=0", 1)},
		{"time_too_high", strings.Replace(goodPHC, "t=2", "t=17", 1)},
		{"threads_zero", strings.Replace(goodPHC, "p=1", "p=0", 1)},
		{"threads_too_high", strings.Replace(goodPHC, "p=1", "p=17", 1)},
		{"threads_overflow", strings.Replace(goodPHC, "p=1", "p=257", 1)},
		{"extra_param", strings.Replace(goodPHC, "p=1", "p=1,data=AAAA", 1)},
		{"bad_keyid", strings.Replace(goodPHC, "p=1", "p=1,keyid=!!", 1)},
		{"padded_salt", strings.Replace(goodPHC, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2FsdA==", 1)},
		{"short_salt", strings.Replace(goodPHC, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdA", 1)},
		{"short_hash", strings.Replace(goodPHC, "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "aGFzaA", 1)},
		{"no_hash", goodPHC[:strings.LastIndexByte(goodPHC, '$')]},
		{"extra_field", goodPHC + "$AAAA"},
		{"too_long", goodPHC + strings.Repeat("A", MaxPHCLen)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parsePHC(c.s)
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != "password_hash" {
				t.Fatalf("parsePHC: %v, want ErrInvalid on password_hash", err)
			}
			if c.s != "" && strings.Contains(err.Error(), c.s) {
				t.Errorf("error repeats the string: %v", err)
			}
		})
	}
}

// FuzzParsePHC: parsePHC never panics, bounds what it accepts, and what it accepts formats
// back to itself.
func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{goodPHC, strings.Replace(goodPHC, "p=1$", "p=1,keyid=AAAAAAAA$", 1), "", "$argon2id$v=19$", "$argon2id$v=19$m=,t=,p=$$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.params.validate() != nil {
			t.Fatalf("accepted parameters out of bounds: %+v", p.params)
		}
		if got := p.format(); got != s {
			t.Fatalf("parsePHC(%q) formats back as %q", s, got)
		}
	})
}

// TestVerifyWithoutAHash checks that verifying against no hash, or one that cannot be read,
// still computes a hash (it takes a hashing slot), and never matches.
func TestVerifyWithoutAHash(t *testing.T) {
	h := testHasher(t, nil, 1)
	peppered := testHasher(t, bytes.Repeat([]byte{1}, MinPepperLen), 1)
	other, err := peppered.hash(t.Context(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for _, stored := range []string{"", "$not-a-phc", other} {
		ok, rehash, err := h.verify(t.Context(), stored, "correct horse battery")
		if ok || rehash || err != nil {
			t.Errorf("verify against %q: %v, %v, %v; want no match", stored, ok, rehash, err)
		}
		// With every slot taken, verify waits for one: it was going to hash.
		h.slots <- struct{}{}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		_, _, err = h.verify(ctx, stored, "correct horse battery")
		cancel()
		<-h.slots
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("verify against %q with no free slot: %v, want it to wait for one", stored, err)
		}
	}
	if ok, _, _ := peppered.verify(t.Context(), other, "correct horse battery"); !ok {
		t.Error("the peppered hash does not verify with its pepper")
	}
}

// TestSessionToken checks the tokens parseSessionToken accepts: what newSessionToken makes,
// and nothing else.
func TestSessionToken(t *testing.T) {
	g := id.NewGenerator(clock.System{}, rand.Reader)
	sid, err := g.NewIn(id.Session, "ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ")
	if err != nil {
		t.Fatal(err)
	}
	tok, hash, err := newSessionToken(rand.Reader, sid)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.Reveal()
	if len(s) != SessionTokenLen || !strings.HasPrefix(s, "ias_") {
		t.Fatalf("token %q", s)
	}
	pt, ok := parseSessionToken(s)
	if !ok || pt.sessionID() != sid || hex.EncodeToString(pt.hash[:]) != hash {
		t.Fatalf("parseSessionToken: %+v, %v", pt, ok)
	}
	secret, _ := hex.DecodeString(s[len(s)-40:])
	if sum := sha256.Sum256(secret); hex.EncodeToString(sum[:]) != hash {
		t.Error("the stored hash is not the SHA-256 of the secret")
	}
	for _, c := range []struct{ name, tok string }{
		{"empty", ""},
		{"short", s[:len(s)-1]},
		{"long", s + "0"},
		{"prefix", "iat" + s[3:]},
		{"separator", s[:34] + "-" + s[35:]},
		{"lower_case_id", s[:4] + strings.ToLower(s[4:34]) + s[34:]},
		{"id_letter_u", s[:5] + "U" + s[6:]},
		{"id_time_overflow", s[:4] + "8" + s[5:]},
		{"upper_case_secret", s[:35] + strings.ToUpper(s[35:])},
		{"secret_not_hex", s[:len(s)-1] + "g"},
	} {
		if _, ok := parseSessionToken(c.tok); ok && c.tok != s {
			t.Errorf("%s: %q accepted", c.name, c.tok)
		}
	}
}

// FuzzParseSessionToken: parseSessionToken never panics, and accepts only the exact shape
// newSessionToken makes.
func FuzzParseSessionToken(f *testing.F) {
	f.Add("ias_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_00112233445566778899aabbccddeeff00112233")
	f.Add("")
	f.Add("ias_")
	f.Fuzz(func(t *testing.T, s string) {
		pt, ok := parseSessionToken(s)
		if !ok {
			return
		}
		if len(s) != SessionTokenLen || id.Check(pt.sessionID(), id.Session) != nil {
			t.Fatalf("accepted %q", s)
		}
		secret, err := hex.DecodeString(s[len(s)-sessionSecretLen:])
		if err != nil || hex.EncodeToString(secret) != s[len(s)-sessionSecretLen:] || sha256.Sum256(secret) != pt.hash {
			t.Fatalf("accepted %q with a secret that is not canonical hex", s)
		}
	})
}

// FuzzParseRandomToken: challenges and reset tokens are accepted only in their exact shape.
func FuzzParseRandomToken(f *testing.F) {
	tok, _, err := newRandomToken(rand.Reader, challengePrefix)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.Reveal())
	f.Add(resetPrefix + strings.Repeat("A", randomKeyLen))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		for _, prefix := range []string{challengePrefix, resetPrefix} {
			digest, ok := parseRandomToken(s, prefix)
			if !ok {
				continue
			}
			raw, err := b64URL.DecodeString(s[len(prefix):])
			if err != nil || len(raw) != randomKeyBytes || !strings.HasPrefix(s, prefix) || digest != tokenDigest(s) {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

// TestRecoveryCodes checks the codes' shape and how a typed code is read.
func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := newRecoveryCodes(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		s := c.Reveal()
		if len(s) != 19 || strings.Count(s, "-") != 3 || seen[s] {
			t.Errorf("code %q", s)
		}
		seen[s] = true
		n, ok := normalizeRecoveryCode(s)
		if !ok || recoveryCodeHash(n) != hashes[i] {
			t.Errorf("code %q does not hash to its stored hash", s)
		}
	}
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"7d4k-m2qx-9r0b-j6tw", "7d4km2qx9r0bj6tw", true},
		{"7D4K M2QX 9R0B J6TW", "7d4km2qx9r0bj6tw", true},
		{"7d4km2qx9r0bj6tw", "7d4km2qx9r0bj6tw", true},
		{"7d4k-m2qx-9rob-j6tw", "7d4km2qx9r0bj6tw", true}, // o read as 0
		{"7d4k-m2qx-9r0b-j6tl", "7d4km2qx9r0bj6t1", true}, // l read as 1
		{"7d4k-m2qx-9r0b-j6t", "", false},
		{"7d4k-m2qx-9r0b-j6twx", "", false},
		{"7d4k-m2qx-9r0b-j6tu", "", false}, // u is not in the alphabet
		{"7d4k-m2qx-9r0b-j6t\u00e9", "", false},
		{"123456", "", false},
		{strings.Repeat("-", 100), "", false},
	} {
		got, ok := normalizeRecoveryCode(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("normalizeRecoveryCode(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	rest, ok := useRecoveryCode(hashes, codes[3].Reveal())
	if !ok || len(rest) != len(hashes)-1 {
		t.Fatalf("useRecoveryCode: %d left, %v", len(rest), ok)
	}
	if _, ok := useRecoveryCode(rest, codes[3].Reveal()); ok {
		t.Error("a used code matched again")
	}
}

// FuzzNormalizeRecoveryCode: what is accepted is 16 characters of the alphabet, read again
// as itself.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	f.Add("7d4k-m2qx-9r0b-j6tw")
	f.Add("")
	f.Add("IIII-LLLL-OOOO-0000")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalizeRecoveryCode(s)
		if !ok {
			return
		}
		if len(n) != 16 || strings.Trim(n, recoveryAlphabet) != "" {
			t.Fatalf("normalizeRecoveryCode(%q) = %q", s, n)
		}
		if again, ok := normalizeRecoveryCode(n); !ok || again != n {
			t.Fatalf("%q does not read as itself: %q, %v", n, again, ok)
		}
	})
}

// TestSealer checks that a sealed TOTP secret opens only for its user and with its key.
func TestSealer(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{1}, SecretKeyLen), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newSealer(bytes.Repeat([]byte{2}, SecretKeyLen), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.seal("usr_a", "JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "JBSWY3DPEHPK3PXP") {
		t.Fatal("the secret shows through")
	}
	if got, err := s.open("usr_a", sealed); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open: %q, %v", got, err)
	}
	for _, c := range []struct {
		name   string
		s      *sealer
		user   string
		sealed string
	}{
		{"another_user", s, "usr_b", sealed},
		{"another_key", other, "usr_a", sealed},
		{"tampered", s, "usr_a", sealed[:len(sealed)-4] + "AAAA"},
		{"not_base64", s, "usr_a", "!!"},
		{"short", s, "usr_a", "AAAA"},
	} {
		if _, err := c.s.open(c.user, c.sealed); err == nil {
			t.Errorf("%s: opened", c.name)
		}
	}
}

// TestMatchTOTP checks the window of accepted steps on a fixed time.
func TestMatchTOTP(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Unix(1_800_000_015, 0) // 15s into a step
	step := now.Unix() / totpPeriod
	for _, c := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		code, err := totpCodeAt(secret, (step+c.offset)*totpPeriod)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := matchTOTP(secret, code, now)
		if ok != c.ok || ok && got != step+c.offset {
			// Another step's code may equal this one's by chance (1 in a million).
			if other, _ := totpCodeAt(secret, step*totpPeriod); other != code {
				t.Errorf("offset %d: step %d, %v; want %v", c.offset, got, ok, c.ok)
			}
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", "١٢٣٤٥٦"} {
		if _, ok := matchTOTP(secret, bad, now); ok {
			t.Errorf("%q matched", bad)
		}
	}
	key, until := totpStepKey("usr_a", step)
	if key != "sso:totp:usr_a:"+strconv.FormatInt(step, 10) || !until.Equal(time.Unix((step+2)*totpPeriod, 0)) {
		t.Errorf("step key %q until %v", key, until)
	}
}

func totpCodeAt(secret string, unix int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(unix, 0), totpOpts())
}

// TestSourceKey checks how addresses are grouped for throttling.
func TestSourceKey(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"192.0.2.1", "192.0.2.1"},
	} {
		if sourceKey("signin", c.a) != sourceKey("signin", c.b) {
			t.Errorf("%s and %s counted apart", c.a, c.b)
		}
	}
	if sourceKey("signin", "192.0.2.1") == sourceKey("signin", "192.0.2.2") {
		t.Error("two IPv4 addresses counted together")
	}
	if sourceKey("signin", "2001:db8:1:2::1") == sourceKey("signin", "2001:db8:1:3::1") {
		t.Error("two /64s counted together")
	}
	if sourceKey("signin", "") != "" || sourceKey("signin", "not an address") != "" {
		t.Error("no address has a key")
	}
}

// TestClientCanonical checks what sessions keep of a client.
func TestClientCanonical(t *testing.T) {
	for _, c := range []struct{ in, want Client }{
		{Client{IP: "::ffff:192.0.2.1"}, Client{IP: "192.0.2.1"}},
		{Client{IP: "fe80::1%eth0"}, Client{IP: "fe80::1"}},
		{Client{IP: "2001:DB8::1"}, Client{IP: "2001:db8::1"}},
		{Client{IP: "example.com"}, Client{}},
		{Client{UserAgent: "curl/8\x00\n"}, Client{UserAgent: "curl/8"}},
		{Client{UserAgent: "a\xffb"}, Client{UserAgent: "a\uFFFDb"}},
		{Client{UserAgent: strings.Repeat("é", 200)}, Client{UserAgent: strings.Repeat("é", 128)}},
	} {
		if got := c.in.canonical(); got != c.want {
			t.Errorf("%+v: %+v, want %+v", c.in, got, c.want)
		}
	}
}
