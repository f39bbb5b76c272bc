package credential

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

const (
	testAuthtokenID   = "cr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	testAPIKeyID      = "ak_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	testAccessTokenID = "pat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
)

// seededReader is a deterministic stand-in for crypto/rand.Reader.
func seededReader(seed byte) io.Reader {
	return rand.NewChaCha8([32]byte{seed})
}

// recordingReader returns the bytes of r and remembers them.
type recordingReader struct {
	r   io.Reader
	got []byte
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	rr.got = append(rr.got, p[:n]...)
	return n, err
}

// printAll formats v with every verb and flag combination fmt knows. The format strings are
// not constants, so vet does not object to verbs that do not suit v.
func printAll(v any) string {
	var b strings.Builder
	for _, verb := range "vsqxXdtbcoOUeEfFgGp" {
		for _, flags := range []string{"", "+", "#", "-", " ", "0", "10.3"} {
			fmt.Fprintf(&b, "%"+flags+string(verb)+"|", v)
		}
	}
	return b.String()
}

func mustToken(t testing.TB, kind store.CredentialKind, credentialID string, seed byte) string {
	t.Helper()
	s, err := NewToken(kind, credentialID, seededReader(seed))
	if err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	return s.Reveal()
}

// withChecksum replaces the checksum of a TokenLen-long string with the right one.
func withChecksum(s string) string {
	var sum [ChecksumLen]byte
	encodeChecksum(&sum, checksum([]byte(s[:secretEnd])))
	return s[:secretEnd] + string(sum[:])
}

func bigBase62(n *big.Int, width int) string {
	x := new(big.Int).Set(n)
	r := new(big.Int)
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		x.DivMod(x, big.NewInt(62), r)
		out[i] = base62Alphabet[r.Int64()]
	}
	if x.Sign() != 0 {
		panic("does not fit")
	}
	return string(out)
}

func decodeBase62(s string) *big.Int {
	n := new(big.Int)
	for i := 0; i < len(s); i++ {
		n.Mul(n, big.NewInt(62))
		n.Add(n, big.NewInt(int64(strings.IndexByte(base62Alphabet, s[i]))))
	}
	return n
}

func TestTokenLayoutConstants(t *testing.T) {
	if TokenLen != 68 {
		t.Errorf("TokenLen = %d, want 68", TokenLen)
	}
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8*SecretBytes), big.NewInt(1))
	if got := bigBase62(max, SecretLen); got != maxSecret {
		t.Errorf("maxSecret = %q, want %q", maxSecret, got)
	}
	var ones [SecretBytes]byte
	for i := range ones {
		ones[i] = 0xff
	}
	var enc [SecretLen]byte
	encodeSecret(&enc, &ones)
	if string(enc[:]) != maxSecret {
		t.Errorf("encodeSecret(0xff...) = %q, want %q", enc[:], maxSecret)
	}
	if got := bigBase62(big.NewInt(0xffffffff), ChecksumLen); got != "4gfFC3" {
		t.Errorf("max checksum = %q", got)
	}
}

func TestCharClass(t *testing.T) {
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	if len(charClass) != 256 {
		t.Fatalf("len(charClass) = %d", len(charClass))
	}
	for c := range 256 {
		want := byte(classInvalid)
		if v := strings.IndexByte(base62Alphabet, byte(c)); v >= 0 {
			want = byte(v)
			if strings.IndexByte(crockford, byte(c)) >= 0 {
				want |= classCrockford
			}
		}
		if charClass[c] != want {
			t.Errorf("charClass[%q] = %#x, want %#x", rune(c), charClass[c], want)
		}
	}
}

func TestEncodeSecretMatchesBigInt(t *testing.T) {
	r := seededReader(1)
	for range 1000 {
		var src [SecretBytes]byte
		if _, err := io.ReadFull(r, src[:]); err != nil {
			t.Fatal(err)
		}
		var enc [SecretLen]byte
		encodeSecret(&enc, &src)
		if want := bigBase62(new(big.Int).SetBytes(src[:]), SecretLen); string(enc[:]) != want {
			t.Fatalf("encodeSecret(%x) = %q, want %q", src, enc[:], want)
		}
	}
	for _, v := range []uint32{0, 1, 61, 62, 0xffffffff, 123456789} {
		var enc [ChecksumLen]byte
		encodeChecksum(&enc, v)
		if want := bigBase62(new(big.Int).SetUint64(uint64(v)), ChecksumLen); string(enc[:]) != want {
			t.Errorf("encodeChecksum(%d) = %q, want %q", v, enc[:], want)
		}
	}
}

func TestNewTokenAndParse(t *testing.T) {
	pattern := regexp.MustCompile(TokenPattern)
	for _, tc := range []struct {
		kind   store.CredentialKind
		id     string
		prefix string
	}{
		{store.Authtoken, testAuthtokenID, "iat_"},
		{store.APIKey, testAPIKeyID, "iak_"},
		{store.AccessToken, testAccessTokenID, "iap_"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			rr := &recordingReader{r: seededReader(7)}
			sec, err := NewToken(tc.kind, tc.id, rr)
			if err != nil {
				t.Fatal(err)
			}
			s := sec.Reveal()
			if len(s) != TokenLen || !strings.HasPrefix(s, tc.prefix) {
				t.Fatalf("token %q: wrong length or prefix", s)
			}
			if strings.Trim(s, "_"+base62Alphabet) != "" {
				t.Fatalf("token %q has characters outside [A-Za-z0-9_]", s)
			}
			if !pattern.MatchString("token: " + s + ".") {
				t.Errorf("TokenPattern does not match %q", s)
			}
			if len(rr.got) != SecretBytes {
				t.Fatalf("read %d random bytes, want %d", len(rr.got), SecretBytes)
			}
			tok, err := ParseToken(s)
			if err != nil {
				t.Fatalf("ParseToken(NewToken()) = %v", err)
			}
			if sec.Token() != tok && sec.Token().Reveal() != tok.Reveal() {
				t.Error("Secret.Token differs from the parsed token")
			}
			if got := tok.Kind(); got != tc.kind {
				t.Errorf("Kind = %q, want %q", got, tc.kind)
			}
			if got := tok.IDBody(); got != id.Body(tc.id) {
				t.Errorf("IDBody = %q, want %q", got, id.Body(tc.id))
			}
			if got := tok.CredentialID(); got != tc.id {
				t.Errorf("CredentialID = %q, want %q", got, tc.id)
			}
			if got := tok.ShardTag(); got != id.Tag(tc.id) || got != "K3ZQ" {
				t.Errorf("ShardTag = %q, want %q", got, id.Tag(tc.id))
			}
			secret := tok.SecretPart()
			if len(secret) != SecretLen || !strings.Contains(s, "_"+secret) {
				t.Errorf("SecretPart = %q, not the secret of %q", secret, s)
			}
			if got := decodeBase62(secret); !bytes.Equal(got.FillBytes(make([]byte, SecretBytes)), rr.got) {
				t.Errorf("secret encodes %x, want the random bytes %x", got, rr.got)
			}
			if tok.Reveal() != s {
				t.Errorf("Reveal = %q, want %q", tok.Reveal(), s)
			}
		})
	}
}

func TestNewTokenDiffers(t *testing.T) {
	a := mustToken(t, store.Authtoken, testAuthtokenID, 1)
	b := mustToken(t, store.Authtoken, testAuthtokenID, 2)
	if a == b {
		t.Fatal("different randomness gave the same token")
	}
	if a != mustToken(t, store.Authtoken, testAuthtokenID, 1) {
		t.Fatal("the same randomness gave different tokens")
	}
}

func TestNewTokenErrors(t *testing.T) {
	readErr := errors.New("entropy exhausted")
	for _, tc := range []struct {
		name  string
		kind  store.CredentialKind
		id    string
		rand  io.Reader
		field string // of the invalid-argument error, if any
		is    error
	}{
		{"ssh kind", store.SSHCredential, "sshcr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", seededReader(1), "kind", store.ErrInvalid},
		{"unknown kind", "password", testAuthtokenID, seededReader(1), "kind", store.ErrInvalid},
		{"api key id for authtoken", store.Authtoken, testAPIKeyID, seededReader(1), "credential_id", store.ErrInvalid},
		{"authtoken id for api key", store.APIKey, testAuthtokenID, seededReader(1), "credential_id", store.ErrInvalid},
		{"short id", store.Authtoken, "cr_01JD3Q", seededReader(1), "credential_id", store.ErrInvalid},
		{"lower-case id", store.Authtoken, strings.ToLower(testAuthtokenID), seededReader(1), "credential_id", store.ErrInvalid},
		{"empty id", store.Authtoken, "", seededReader(1), "credential_id", store.ErrInvalid},
		{"reader fails", store.Authtoken, testAuthtokenID, iotest.ErrReader(readErr), "", readErr},
		{"reader short", store.Authtoken, testAuthtokenID, strings.NewReader("0123456789"), "", io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec, err := NewToken(tc.kind, tc.id, tc.rand)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if !sec.IsZero() {
				t.Error("a failed NewToken returned a Secret")
			}
			var se *store.Error
			if tc.field != "" && (!errors.As(err, &se) || se.Field != tc.field) {
				t.Errorf("err = %#v, want an invalid-argument error on %q", err, tc.field)
			}
		})
	}
}

func TestParseTokenRejects(t *testing.T) {
	good := mustToken(t, store.Authtoken, testAuthtokenID, 3)
	swap := func(i int, c byte) string { return good[:i] + string(c) + good[i+1:] }
	maxSecretToken := withChecksum(good[:secretStart] + maxSecret + good[secretEnd:])
	if _, err := ParseToken(maxSecretToken); err != nil {
		t.Fatalf("the largest secret is rejected: %v", err)
	}
	overMax := []byte(maxSecret)
	overMax[SecretLen-1]++ // 2^160
	lastChecksum := good[TokenLen-1]
	for _, tc := range []struct {
		name string
		in   string
		code string // besides matching store.ErrInvalid; "": CodeMalformedToken
	}{
		{"empty", "", ""},
		{"prefix only", "iat", ""},
		{"prefix and separator", "iat_", ""},
		{"no separator", "iat" + good[4:], ""},
		{"github token", "ghp_" + good[4:], CodeTokenUnknownKind},
		{"upper-case prefix", "IAT_" + good[4:], CodeTokenUnknownKind},
		{"ssh key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx", ""},
		{"credential id", testAuthtokenID, ""},
		{"one short", good[:TokenLen-1], ""},
		{"one long", good + "0", ""},
		{"leading space", " " + good[:TokenLen-1], ""},
		{"trailing newline", good + "\n", ""},
		{"second separator moved", withChecksum(good[:bodyEnd-1] + "_" + good[bodyEnd-1:bodyEnd] + good[bodyEnd+1:]), ""},
		{"lower-case id", withChecksum(good[:bodyStart] + strings.ToLower(good[bodyStart:bodyEnd]) + good[bodyEnd:]), ""},
		{"I in id", withChecksum(swap(bodyStart+5, 'I')), ""},
		{"U in id", withChecksum(swap(bodyEnd-1, 'U')), ""},
		{"id time overflows", withChecksum(swap(bodyStart, '8')), ""},
		{"underscore in secret", withChecksum(swap(secretStart+3, '_')), ""},
		{"dash in secret", withChecksum(swap(secretStart, '-')), ""},
		{"non-ascii in secret", withChecksum(swap(secretStart+1, 0xc3)), ""},
		{"secret above 2^160", withChecksum(good[:secretStart] + string(overMax) + good[secretEnd:]), ""},
		{"secret all z", withChecksum(good[:secretStart] + strings.Repeat("z", SecretLen) + good[secretEnd:]), ""},
		{"kind swapped", "iak" + good[3:], CodeTokenChecksum},
		{"secret typo", swap(secretStart+10, good[secretStart+10]^0x20), CodeTokenChecksum},
		{"id typo", swap(bodyStart+10, '7'), CodeTokenChecksum},
		{"checksum typo", swap(TokenLen-1, lastChecksum^1), CodeTokenChecksum},
		{"checksum not base62", swap(TokenLen-2, '_'), CodeTokenChecksum},
		{"checksum zeroed", good[:secretEnd] + "000000", CodeTokenChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == good {
				t.Fatal("test case is the good token")
			}
			tok, err := ParseToken(tc.in)
			want := tc.code
			if want == "" {
				want = CodeMalformedToken
			}
			if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != want {
				t.Fatalf("err = %v (code %s), want ErrInvalid with code %s", err, store.CodeOf(err), want)
			}
			if !tok.IsZero() {
				t.Error("a rejected token is not the zero Token")
			}
			if len(tc.in) > 8 && leaks(err, tc.in[4:12]) {
				t.Errorf("error %q repeats the input", err)
			}
		})
	}
}

func TestZeroToken(t *testing.T) {
	var tok Token
	if !tok.IsZero() || tok.Kind() != "" || tok.IDBody() != "" || tok.ShardTag() != "" ||
		tok.CredentialID() != "" || tok.SecretPart() != "" || tok.Reveal() != "" {
		t.Error("the zero Token is not empty")
	}
	if tok.MatchesCredential("", "") {
		t.Error("the zero Token matches a credential")
	}
	if got := tok.String(); got != "[REDACTED]" {
		t.Errorf("String = %q", got)
	}
}

func TestMatchesCredential(t *testing.T) {
	tok, err := ParseToken(mustToken(t, store.Authtoken, testAuthtokenID, 4))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind store.CredentialKind
		id   string
		want bool
	}{
		{store.Authtoken, testAuthtokenID, true},
		{store.APIKey, testAuthtokenID, false},
		{store.APIKey, testAPIKeyID, false},
		{store.Authtoken, testAPIKeyID, false},
		{store.Authtoken, "cr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZR", false},
		{store.Authtoken, testAuthtokenID + "0", false},
		{store.Authtoken, "cr-01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", false},
		{store.Authtoken, "", false},
		{store.SSHCredential, "sshcr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", false},
	} {
		if got := tok.MatchesCredential(tc.kind, tc.id); got != tc.want {
			t.Errorf("MatchesCredential(%q, %q) = %v, want %v", tc.kind, tc.id, got, tc.want)
		}
	}
}

func TestTokenPrefix(t *testing.T) {
	for kind, want := range map[store.CredentialKind]string{
		store.Authtoken: "iat", store.APIKey: "iak", store.AccessToken: "iap", store.SSHCredential: "", "": "",
	} {
		if got := TokenPrefix(kind); got != want {
			t.Errorf("TokenPrefix(%q) = %q, want %q", kind, got, want)
		}
	}
}

func TestHashes(t *testing.T) {
	s := mustToken(t, store.APIKey, testAPIKeyID, 5)
	tok, err := ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(tok.SecretPart())
	plain := sha256.Sum256(secret)
	if HashSecret(tok) != plain {
		t.Error("HashSecret is not the SHA-256 of the secret part")
	}
	var nilHasher *Hasher
	zero, err := NewHasher()
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*Hasher{"nil": nilHasher, "zero": {}, "NewHasher()": zero} {
		if h.Peppered() || h.Hash(tok) != plain || h.HashHex(tok) != hex.EncodeToString(plain[:]) {
			t.Errorf("%s Hasher does not hash with plain SHA-256", name)
		}
	}
	for _, n := range []int{MinPepperLen, 64, 65, 200} {
		pepper := bytes.Repeat([]byte{byte(n)}, n)
		h, err := NewHasher(WithPepper(pepper))
		if err != nil {
			t.Fatalf("pepper of %d bytes: %v", n, err)
		}
		mac := hmac.New(sha256.New, pepper)
		mac.Write(secret)
		want := mac.Sum(nil)
		got := h.Hash(tok)
		if !h.Peppered() || !bytes.Equal(got[:], want) {
			t.Errorf("pepper of %d bytes: Hash = %x, want HMAC-SHA-256 %x", n, got, want)
		}
		if h.HashHex(tok) != hex.EncodeToString(want) {
			t.Errorf("pepper of %d bytes: HashHex is not the hex of Hash", n)
		}
		pepper[0] ^= 1 // NewHasher copied it
		if h.Hash(tok) != got {
			t.Error("changing the caller's pepper slice changed the Hasher")
		}
	}
	for _, n := range []int{0, 1, MinPepperLen - 1} {
		_, err := NewHasher(WithPepper(make([]byte, n)))
		var se *store.Error
		if !errors.As(err, &se) || se.Field != "pepper" || !errors.Is(err, store.ErrInvalid) || se.Limit != MinPepperLen {
			t.Errorf("pepper of %d bytes: err = %v, want an invalid-argument error on pepper", n, err)
		}
	}
}

func TestHasherNeverPrintsPepper(t *testing.T) {
	pepper := []byte(strings.Repeat("pepper!!", 4))
	h, err := NewHasher(WithPepper(pepper))
	if err != nil {
		t.Fatal(err)
	}
	var pad []string
	for _, b := range pepper[:4] {
		pad = append(pad, fmt.Sprint(b^0x36))
	}
	outs := []string{
		fmt.Sprint(h), fmt.Sprintf("%+v", h), fmt.Sprintf("%#v", h), printAll(h),
		fmt.Sprintf("%+v", *h), fmt.Sprintf("%#v", *h), fmt.Sprintf("%+v", struct{ h Hasher }{*h}),
		fmt.Sprintf("%+v", struct{ h *Hasher }{h}),
	}
	for _, out := range outs {
		if strings.Contains(out, "pepper!!") || strings.Contains(out, strings.Join(pad, " ")) {
			t.Errorf("printing a Hasher shows the pepper: %s", out)
		}
	}
	if !strings.Contains(outs[0], "HMAC") {
		t.Errorf("String = %q, want it to name HMAC", outs[0])
	}
}

func TestParseSecretHash(t *testing.T) {
	tok, err := ParseToken(mustToken(t, store.Authtoken, testAuthtokenID, 6))
	if err != nil {
		t.Fatal(err)
	}
	var h Hasher
	sum, err := ParseSecretHash(h.HashHex(tok))
	if err != nil || sum != h.Hash(tok) {
		t.Fatalf("ParseSecretHash(HashHex) = %x, %v", sum, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("0", 63), strings.Repeat("0", 65), strings.Repeat("g", 64)} {
		_, err := ParseSecretHash(bad)
		var se *store.Error
		if !errors.As(err, &se) || se.Field != "secret_hash" || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseSecretHash(%q) err = %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestTokenRedaction(t *testing.T) {
	s := mustToken(t, store.Authtoken, testAuthtokenID, 8)
	tok, err := ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	secret := tok.SecretPart()
	want := s[:secretStart] + "[REDACTED]"
	if tok.String() != want {
		t.Errorf("String = %q, want %q", tok.String(), want)
	}
	type holder struct {
		Tok   Token
		tok   Token
		Ptr   *Token
		Slice []Token
	}
	hd := holder{Tok: tok, tok: tok, Ptr: &tok, Slice: []Token{tok}}
	js, err := json.Marshal(hd)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := tok.MarshalText()
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("bind", "token", tok, "holder", hd)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("bind", "token", tok, slog.Any("ptr", &tok))
	outs := []string{
		string(js), string(txt), logBuf.String(), tok.GoString(),
		fmt.Sprint(tok), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%10.3s|%T", tok, tok, tok, tok, tok, tok, tok, tok, tok, tok),
		printAll(hd), printAll(&hd),
		fmt.Sprintln(tok, &tok, []Token{tok}, map[string]Token{"k": tok}),
	}
	for _, out := range outs {
		if strings.Contains(out, secret) || strings.Contains(out, secret[:10]) {
			t.Errorf("output shows the secret: %s", out)
		}
	}
	if got := fmt.Sprintf("%q", tok); got != `"`+want+`"` {
		t.Errorf("%%q = %s", got)
	}
	if got := fmt.Sprintf("%#v", tok); got != "credential.Token("+want+")" {
		t.Errorf("%%#v = %s", got)
	}
	if !strings.Contains(string(js), `"Tok":"`+want+`"`) {
		t.Errorf("json = %s", js)
	}
}

func TestZeroAllocs(t *testing.T) {
	good := mustToken(t, store.Authtoken, testAuthtokenID, 9)
	bad := good[:TokenLen-1] + "x"
	peppered, err := NewHasher(WithPepper(make([]byte, MinPepperLen)))
	if err != nil {
		t.Fatal(err)
	}
	var plain Hasher
	var sink [32]byte
	for name, f := range map[string]func(){
		"accept": func() {
			if _, err := ParseToken(good); err != nil {
				t.Fatal(err)
			}
		},
		"reject checksum": func() {
			if _, err := ParseToken(bad); err != errTokenChecksum {
				t.Fatal(err)
			}
		},
		"reject kind": func() {
			if _, err := ParseToken("ghp_x"); !errors.Is(err, store.ErrInvalid) {
				t.Fatal(err)
			}
		},
		"parse and hash": func() {
			tok, _ := ParseToken(good)
			sink = HashSecret(tok)
		},
		"hasher": func() {
			tok, _ := ParseToken(good)
			sink = plain.Hash(tok)
		},
		"hasher with pepper": func() {
			tok, _ := ParseToken(good)
			sink = peppered.Hash(tok)
		},
		"matches credential": func() {
			tok, _ := ParseToken(good)
			if !tok.MatchesCredential(store.Authtoken, testAuthtokenID) || tok.ShardTag() == "" {
				t.Fatal("no match")
			}
		},
		"parse secret hash": func() {
			sink, _ = ParseSecretHash("6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b")
		},
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
	_ = sink
}

func FuzzParseToken(f *testing.F) {
	good := mustToken(f, store.Authtoken, testAuthtokenID, 10)
	f.Add(good)
	f.Add(mustToken(f, store.APIKey, testAPIKeyID, 11))
	f.Add(withChecksum(good[:secretStart] + maxSecret + good[secretEnd:]))
	f.Add(withChecksum(good[:secretStart] + strings.Repeat("0", SecretLen) + good[secretEnd:]))
	f.Add(good[:TokenLen-1])
	f.Add(good + "0")
	f.Add("iak" + good[3:])
	f.Add(good[:secretEnd] + "000000")
	f.Add("")
	f.Add("iat_")
	f.Add(testAuthtokenID)
	f.Fuzz(func(t *testing.T, s string) {
		checkParsedToken(t, s)
		if len(s) == TokenLen {
			// Random mutations almost never keep the checksum right: fix it, so that the
			// checks behind the checksum see the mutated string too.
			checkParsedToken(t, withChecksum(s))
		}
	})
}

// checkParsedToken checks ParseToken's promises for s: only invalid-argument errors with a
// token code, and an accepted token re-encodes, from its parts, to s.
func checkParsedToken(t *testing.T, s string) {
	tok, err := ParseToken(s)
	if err != nil {
		if c := store.CodeOf(err); !errors.Is(err, store.ErrInvalid) || (c != CodeMalformedToken && c != CodeTokenUnknownKind && c != CodeTokenChecksum) {
			t.Fatalf("error %v (code %s) is not a token error", err, c)
		}
		if !tok.IsZero() {
			t.Fatal("rejected token is not zero")
		}
		return
	}
	raw := decodeBase62(tok.SecretPart())
	if raw.BitLen() > 8*SecretBytes {
		t.Fatalf("secret %q is above 2^160", tok.SecretPart())
	}
	var src [SecretBytes]byte
	raw.FillBytes(src[:])
	sec, err := NewToken(tok.Kind(), tok.CredentialID(), bytes.NewReader(src[:]))
	if err != nil {
		t.Fatalf("NewToken from the parts of an accepted token: %v", err)
	}
	if sec.Reveal() != s {
		t.Fatalf("re-encoded %q as %q", s, sec.Reveal())
	}
	if !tok.MatchesCredential(tok.Kind(), tok.CredentialID()) {
		t.Fatal("token does not match its own credential")
	}
	if tok.String() != s[:secretStart]+"[REDACTED]" {
		t.Fatalf("String = %q", tok.String())
	}
}

func BenchmarkParseToken(b *testing.B) {
	s := mustToken(b, store.Authtoken, testAuthtokenID, 12)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseToken(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTokenMalformed(b *testing.B) {
	good := mustToken(b, store.Authtoken, testAuthtokenID, 13)
	for _, bc := range []struct{ name, in string }{
		{"checksum", good[:TokenLen-1] + "x"},
		{"length", good[:TokenLen-1]},
		{"kind", "ghp_" + good[4:]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseToken(bc.in); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkSHA256Token is the reference cost: one SHA-256 of a whole token string.
func BenchmarkSHA256Token(b *testing.B) {
	s := mustToken(b, store.Authtoken, testAuthtokenID, 14)
	b.ReportAllocs()
	for b.Loop() {
		_ = sha256.Sum256(bytesOf(s))
	}
}

// BenchmarkParseAndHash is the verifier's hot path before its cache lookup.
func BenchmarkParseAndHash(b *testing.B) {
	s := mustToken(b, store.Authtoken, testAuthtokenID, 15)
	peppered, err := NewHasher(WithPepper(make([]byte, MinPepperLen)))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    *Hasher
	}{{"sha256", &Hasher{}}, {"hmac", peppered}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tok, err := ParseToken(s)
				if err != nil {
					b.Fatal(err)
				}
				_ = bc.h.Hash(tok)
			}
		})
	}
}

// leaks reports whether the rendered error contains s: a redaction check (an error must not
// repeat its input), never a way to tell errors apart.
func leaks(err error, s string) bool { return strings.Contains(fmt.Sprint(err), s) }

// TestTestTokens: NewTestToken makes tokens of every token kind that parse, that TokenPattern
// matches, whose credential ID is reserved (no Generator makes one) and that IsTestToken
// tells apart; tokens of live credentials are not test tokens.
func TestTestTokens(t *testing.T) {
	pattern := regexp.MustCompile("^" + TokenPattern + "$")
	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken} {
		t.Run(string(kind), func(t *testing.T) {
			seen := map[string]bool{}
			for range 50 {
				s, err := NewTestToken(kind, seededReader(byte(len(seen))))
				if err != nil {
					t.Fatal(err)
				}
				tok, err := ParseToken(s)
				if err != nil {
					t.Fatalf("ParseToken(%q): %v", s, err)
				}
				if tok.Kind() != kind || !pattern.MatchString(s) || !IsTestToken(tok) || !id.Reserved(tok.CredentialID()) {
					t.Fatalf("test token %q: kind %s, pattern %v, IsTestToken %v", s, tok.Kind(), pattern.MatchString(s), IsTestToken(tok))
				}
				seen[s] = true
			}
			if len(seen) < 50 {
				t.Fatalf("%d distinct test tokens of 50", len(seen))
			}
			live, err := NewToken(kind, map[store.CredentialKind]string{
				store.Authtoken: testAuthtokenID, store.APIKey: testAPIKeyID, store.AccessToken: testAccessTokenID}[kind], seededReader(1))
			if err != nil {
				t.Fatal(err)
			}
			if IsTestToken(live.Token()) {
				t.Fatal("a live credential's token is a test token")
			}
		})
	}
	if _, err := NewTestToken(store.SSHCredential, seededReader(1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("NewTestToken(ssh_key): %v", err)
	}
	if IsTestToken(Token{}) {
		t.Fatal("the zero Token is a test token")
	}
}
