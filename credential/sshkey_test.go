package credential

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/store"
)

// authorizedKey returns the authorized_keys line of pub, without a newline.
func authorizedKey(t testing.TB, pub any) string {
	t.Helper()
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(key)), "\n")
}

func ed25519Line(t testing.TB, seed byte) string {
	t.Helper()
	return authorizedKey(t, ed25519.NewKeyFromSeed(make32(seed)).Public())
}

func make32(b byte) []byte {
	s := make([]byte, ed25519.SeedSize)
	s[0] = b
	return s
}

// wireKeyLine builds an authorized_keys line from a key's wire fields, for key types the
// standard library cannot generate (DSA) or that need hardware (security keys).
func wireKeyLine(t testing.TB, fields any) string {
	t.Helper()
	key, err := ssh.ParsePublicKey(ssh.Marshal(fields))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(key)), "\n")
}

func dsaLine(t testing.TB) string {
	one := big.NewInt(1)
	return wireKeyLine(t, struct {
		Name       string
		P, Q, G, Y *big.Int
	}{ssh.InsecureKeyAlgoDSA, new(big.Int).Add(new(big.Int).Lsh(one, 1023), big.NewInt(1234567)),
		new(big.Int).Add(new(big.Int).Lsh(one, 159), big.NewInt(89)), big.NewInt(2), big.NewInt(12345)})
}

func skEd25519Line(t testing.TB) string {
	return wireKeyLine(t, struct {
		Name string
		Key  []byte
		App  string
	}{ssh.KeyAlgoSKED25519, ed25519.NewKeyFromSeed(make32(9)).Public().(ed25519.PublicKey), "ssh:"})
}

func certLine(t testing.TB) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make32(10)).Public())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make32(11)))
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: pub, CertType: ssh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(seededReader(12), ca); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(cert)), "\n")
}

func TestParseSSHPublicKey(t *testing.T) {
	ed := ed25519Line(t, 1)
	var accepted, rejected []struct{ name, in string }
	accept := func(name, in string) { accepted = append(accepted, struct{ name, in string }{name, in}) }
	reject := func(name, in string) { rejected = append(rejected, struct{ name, in string }{name, in}) }

	accept("ed25519", ed)
	accept("ed25519 with comment", ed+" alice@laptop")
	accept("comment with spaces", ed+" Alice's work laptop (2026)")
	accept("surrounding whitespace and CRLF", "  \t"+ed+" alice@laptop\r\n")
	accept("tab separated", strings.Replace(ed, " ", "\t", 1))
	accept("comment and blank lines around", "# my key\n\n"+ed+"\n# end\n")
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, seededReader(2))
		if err != nil {
			t.Fatal(err)
		}
		accept("ecdsa "+c.Params().Name, authorizedKey(t, &k.PublicKey)+" bob@host")
	}
	accept("security key ed25519", skEd25519Line(t))
	rsa2048, err := rsa.GenerateKey(seededReader(3), 2048)
	if err != nil {
		t.Fatal(err)
	}
	accept("rsa 2048", authorizedKey(t, &rsa2048.PublicKey)+" carol@host")
	rsa1024, err := rsa.GenerateKey(seededReader(4), 1024)
	if err != nil {
		t.Fatal(err)
	}
	reject("rsa 1024", authorizedKey(t, &rsa1024.PublicKey))

	reject("dsa", dsaLine(t)+" old@host")
	reject("certificate", certLine(t))
	reject("two keys", ed+"\n"+ed25519Line(t, 2))
	reject("key and garbage", ed+"\nsomething else")
	reject("from option", `from="10.0.0.1" `+ed)
	reject("command option", `command="/bin/true",no-pty `+ed)
	reject("type only", "ssh-ed25519")
	reject("bad base64", "ssh-ed25519 AAAA!!!notbase64 alice")
	reject("wrong type for blob", "ssh-rsa"+ed[len("ssh-ed25519"):])
	reject("truncated blob", ed[:len(ed)-10])
	reject("unknown type", "ssh-foo AAAAB3NzaC1yc2EAAAADAQABAAABAQC")
	reject("not a key", "hello world, this is not a key")
	reject("rfc 4716", "---- BEGIN SSH2 PUBLIC KEY ----\nAAAAC3NzaC1lZDI1NTE5AAAAIGx\n---- END SSH2 PUBLIC KEY ----")
	reject("too long", ed+" "+strings.Repeat("c", MaxSSHPublicKeyLen))
	priv, err := ssh.MarshalPrivateKey(ed25519.NewKeyFromSeed(make32(5)), "laptop")
	if err != nil {
		t.Fatal(err)
	}
	reject("private key", string(pem.EncodeToMemory(priv)))

	for _, tc := range accepted {
		t.Run("accept/"+tc.name, func(t *testing.T) {
			k, err := ParseSSHPublicKey(tc.in)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if k.Key == nil || k.Fingerprint != ssh.FingerprintSHA256(k.Key) || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
				t.Errorf("Fingerprint = %q", k.Fingerprint)
			}
			if want := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k.Key)), "\n"); k.AuthorizedKey != want {
				t.Errorf("AuthorizedKey = %q, want %q", k.AuthorizedKey, want)
			}
			if strings.ContainsAny(k.AuthorizedKey, "\n\r\t") || strings.Count(k.AuthorizedKey, " ") != 1 {
				t.Errorf("AuthorizedKey %q is not <type> <base64>", k.AuthorizedKey)
			}
			again, err := ParseSSHPublicKey(k.AuthorizedKey)
			if err != nil || again.AuthorizedKey != k.AuthorizedKey || again.Fingerprint != k.Fingerprint || again.Comment != "" {
				t.Errorf("re-parsing AuthorizedKey: %+v, %v", again, err)
			}
		})
	}
	for _, tc := range rejected {
		t.Run("reject/"+tc.name, func(t *testing.T) {
			k, err := ParseSSHPublicKey(tc.in)
			checkSSHKeyError(t, tc.in, err)
			if k.Key != nil || k.AuthorizedKey != "" {
				t.Error("a rejected key was returned")
			}
		})
	}
}

// checkSSHKeyError checks that err is an invalid-argument error on public_key, with one of
// the SSH key codes, that repeats nothing of in but, at most, a known key type (a redaction
// check on the rendered error).
func checkSSHKeyError(t *testing.T, in string, err error) *store.Error {
	t.Helper()
	var se *store.Error
	if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Field != "public_key" {
		t.Fatalf("err = %v, want an invalid-argument error on public_key", err)
	}
	if (se.Code != CodeSSHKeyInvalid && se.Code != CodeSSHKeyMissing) || se.Msg == "" {
		t.Errorf("err = %#v: code %q or empty message", se, se.Code)
	}
	msg := fmt.Sprint(err)
	// The error may name the key type when it is a known algorithm (never anything else of
	// the input): the longest names first, so that no part of one is left behind.
	for _, typ := range []string{
		ssh.CertAlgoSKECDSA256v01, ssh.CertAlgoSKED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01,
		ssh.CertAlgoECDSA521v01, ssh.CertAlgoED25519v01, ssh.CertAlgoRSAv01, ssh.InsecureCertAlgoDSAv01,
		ssh.KeyAlgoSKECDSA256, ssh.KeyAlgoSKED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoED25519, ssh.KeyAlgoRSA, ssh.InsecureKeyAlgoDSA,
	} {
		msg = strings.ReplaceAll(msg, typ, "")
	}
	for _, field := range strings.FieldsFunc(in, func(r rune) bool { return strings.ContainsRune(" \t\r\n\"=,", r) }) {
		if len(field) >= 12 && strings.Contains(msg, field) {
			t.Errorf("error %q repeats the input %q", err, field)
		}
	}
	return se
}

func TestParseSSHPublicKeyDetails(t *testing.T) {
	ed := ed25519Line(t, 1)
	k1, err := ParseSSHPublicKey(ed + " alice@laptop")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseSSHPublicKey("\n\t" + ed + "   other comment  \n")
	if err != nil {
		t.Fatal(err)
	}
	if k1.AuthorizedKey != ed || k2.AuthorizedKey != ed || k1.Fingerprint != k2.Fingerprint {
		t.Errorf("the same key normalises differently: %q %q", k1.AuthorizedKey, k2.AuthorizedKey)
	}
	if k1.Comment != "alice@laptop" || k2.Comment != "other comment" {
		t.Errorf("comments %q, %q", k1.Comment, k2.Comment)
	}
	if k3, _ := ParseSSHPublicKey(ed25519Line(t, 2)); k3.Fingerprint == k1.Fingerprint {
		t.Error("different keys have the same fingerprint")
	}

	for _, tc := range []struct {
		in      string
		missing bool
	}{
		{"", true},
		{"   \n\t\r\n", true},
		{"# just a comment\n", true},
		{dsaLine(t), false},
		{certLine(t), false},
		{"ssh-ed25519 AAAA!!!", false},
		{"ssh-ed25519\tAAAA!!!", false},
		{"secret-looking-type AAAA", false},
		{`from="x" ` + ed, false},
	} {
		_, err := ParseSSHPublicKey(tc.in)
		se := checkSSHKeyError(t, tc.in, err)
		if (se.Code == CodeSSHKeyMissing) != tc.missing {
			t.Errorf("ParseSSHPublicKey(%.20q): code %s, want missing=%v", tc.in, se.Code, tc.missing)
		}
	}
}

func FuzzParseSSHPublicKey(f *testing.F) {
	ed := ed25519Line(f, 1)
	k, err := ecdsa.GenerateKey(elliptic.P256(), seededReader(6))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		ed, ed + " alice@laptop\n", "# c\n" + ed, authorizedKey(f, &k.PublicKey), skEd25519Line(f), dsaLine(f),
		certLine(f), ed + "\n" + ed, `from="x" ` + ed, "", "ssh-ed25519", "ssh-rsa AAAA", "---- BEGIN SSH2 PUBLIC KEY ----",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseSSHPublicKey(in)
		if err != nil {
			checkSSHKeyError(t, in, err)
			return
		}
		if checkKeyType(k.Key) != "" {
			t.Fatalf("accepted a %s key", k.Key.Type())
		}
		if k.Fingerprint != ssh.FingerprintSHA256(k.Key) {
			t.Fatal("Fingerprint is not the key's")
		}
		again, err := ParseSSHPublicKey(k.AuthorizedKey)
		if err != nil || again.AuthorizedKey != k.AuthorizedKey || again.Fingerprint != k.Fingerprint {
			t.Fatalf("AuthorizedKey %q does not round-trip: %v", k.AuthorizedKey, err)
		}
	})
}
