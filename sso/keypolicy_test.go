package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// p224Cert is a self-signed certificate with an ECDSA P-224 key, a curve the key policy
// does not allow.
func p224Cert(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "p224"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKeyPolicyEnforcedWhereSignaturesAreVerified: an IdPMetadata built by hand, not by
// ParseIdPMetadata, with a certificate outside the key policy (RSA-1024 here, which signs
// the response correctly) is refused wherever it enters: by ValidateResponse before the
// response is read, by NewAuthnRequest before the user is sent to the IdP, and by the
// signature check itself. The refusal is store.ErrInvalid with code CodeKeyPolicy: the
// embedder's configuration is at fault, not the response.
func TestKeyPolicyEnforcedWhereSignaturesAreVerified(t *testing.T) {
	t.Parallel()
	weak := readCert(t, "idp-rsa1024.crt")
	if weak.PublicKey.(interface{ Size() int }).Size() != 128 {
		t.Fatal("testdata/idp-rsa1024.crt is not an RSA-1024 certificate")
	}
	signedByWeak := func(t *testing.T, f *fixture) []byte {
		s := f.spec()
		s.Key = "idp-rsa1024"
		return s.signedXML(t)
	}
	cases := []struct {
		name  string
		certs func(t *testing.T) []*x509.Certificate
		run   func(t *testing.T, f *fixture) error
	}{
		{"ValidateResponseRSA1024",
			func(t *testing.T) []*x509.Certificate { return []*x509.Certificate{weak} },
			func(t *testing.T, f *fixture) error {
				a, err := f.validate(b64(signedByWeak(t, f)))
				if err == nil {
					t.Fatalf("accepted a response signed with RSA-1024 (NameID %q)", a.NameID)
				}
				return err
			}},
		{"ValidateResponseRSA1024BesideAGoodCertificate",
			func(t *testing.T) []*x509.Certificate { return []*x509.Certificate{readCert(t, "idp.crt"), weak} },
			func(t *testing.T, f *fixture) error {
				_, err := f.validate(b64(signedByWeak(t, f)))
				return err
			}},
		{"ValidateResponseP224",
			func(t *testing.T) []*x509.Certificate { return []*x509.Certificate{p224Cert(t)} },
			func(t *testing.T, f *fixture) error {
				_, err := f.validate(b64(f.spec().signedXML(t)))
				return err
			}},
		{"NewAuthnRequest",
			func(t *testing.T) []*x509.Certificate { return []*x509.Certificate{weak} },
			func(t *testing.T, f *fixture) error {
				_, err := f.sp.NewAuthnRequest(rand.Reader, f.clock, f.idp.Metadata)
				return err
			}},
		{"SignatureCheckItself",
			func(t *testing.T) []*x509.Certificate { return []*x509.Certificate{weak} },
			func(t *testing.T, f *fixture) error {
				doc, err := parseUntrustedXML(signedByWeak(t, f), f.v.lim)
				if err != nil {
					t.Fatal(err)
				}
				vr, err := verifyResponse(doc.Root(), f.idp.Metadata.Certificates, f.clock.Now())
				if err == nil {
					t.Fatalf("verified with RSA-1024: %s", vr.assertion.Tag)
				}
				return err
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.idp.Metadata.Certificates = tc.certs(t)
			err := tc.run(t, f)
			if store.CodeOf(err) != CodeKeyPolicy || !errors.Is(err, store.ErrInvalid) || !strings.HasPrefix(invalidField(err), "idp_metadata.certificates[") {
				t.Fatalf("error %v, want an invalid-argument error with code %s on a certificate", err, CodeKeyPolicy)
			}
			if isResponseErr(err) {
				t.Fatalf("error %v blames the response for the configuration", err)
			}
		})
	}
}

// TestKeyPolicyInMetadata: ParseIdPMetadata applies the same policy, and says so.
func TestKeyPolicyInMetadata(t *testing.T) {
	t.Parallel()
	post := sso("HTTP-POST", "https://idp.example.com/sso")
	for name, der := range map[string][]byte{
		"RSA1024": readCert(t, "idp-rsa1024.crt").Raw,
		"P224":    p224Cert(t).Raw,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseIdPMetadata([]byte(mdDoc(keyDesc("signing", der) + post)))
			if !isMetadataErr(err) || store.CodeOf(err) != CodeKeyPolicy || invalidField(err) != "metadata_xml.KeyDescriptor" {
				t.Fatalf("error %v, want a KeyDescriptor metadata error with code %s", err, CodeKeyPolicy)
			}
		})
	}
}
