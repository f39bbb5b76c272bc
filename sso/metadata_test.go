package sso

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseIdPMetadataFixtures(t *testing.T) {
	t.Parallel()
	idp, idp2 := readCert(t, "idp.crt"), readCert(t, "idp2.crt")
	const (
		entra = "https://login.microsoftonline.com/0f3c1d2e-4b5a-6978-8a9b-0c1d2e3f4a5b/saml2"
		kc    = "https://keycloak.example.com/realms/acme/protocol/saml"
	)
	cases := []struct {
		file       string
		entityID   string
		redirect   string
		post       string
		certs      []*x509.Certificate
		wantSigned bool
	}{
		{"metadata-okta.xml", "http://www.okta.com/exk9iamkitTest0h7",
			"https://iamkit-test.okta.com/app/iamkit-test_iamkit_1/exk9iamkitTest0h7/sso/saml",
			"https://iamkit-test.okta.com/app/iamkit-test_iamkit_1/exk9iamkitTest0h7/sso/saml",
			[]*x509.Certificate{idp}, false},
		{"metadata-entra.xml", "https://sts.windows.net/0f3c1d2e-4b5a-6978-8a9b-0c1d2e3f4a5b/", entra, entra,
			[]*x509.Certificate{idp}, false},
		{"metadata-google.xml", "https://accounts.google.com/o/saml2?idpid=C03iamkit7",
			"https://accounts.google.com/o/saml2/idp?idpid=C03iamkit7", "https://accounts.google.com/o/saml2/idp?idpid=C03iamkit7",
			[]*x509.Certificate{idp}, false},
		{"metadata-onelogin.xml", "https://app.onelogin.com/saml/metadata/7654321",
			"https://iamkit-test.onelogin.com/trust/saml2/http-redirect/sso/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
			"https://iamkit-test.onelogin.com/trust/saml2/http-post/sso/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
			[]*x509.Certificate{idp}, false},
		{"metadata-keycloak.xml", "https://keycloak.example.com/realms/acme", kc, kc,
			[]*x509.Certificate{idp, idp2}, true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			md, err := ParseIdPMetadata(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if md.EntityID != tc.entityID || md.SSORedirectURL != tc.redirect || md.SSOPostURL != tc.post ||
				md.WantAuthnRequestsSigned != tc.wantSigned {
				t.Fatalf("got %+v", md)
			}
			if len(md.Certificates) != len(tc.certs) {
				t.Fatalf("%d certificates, want %d", len(md.Certificates), len(tc.certs))
			}
			for i, c := range tc.certs {
				if !md.Certificates[i].Equal(c) {
					t.Fatalf("certificate %d differs", i)
				}
			}
			c := md.Clone()
			c.Certificates[0] = nil
			if md.Certificates[0] == nil {
				t.Fatal("Clone shares the certificate slice")
			}
		})
	}
}

// mdDoc builds a small EntityDescriptor around the given IDPSSODescriptor content.
func mdDoc(inner string) string {
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com/metadata">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + inner +
		`</md:IDPSSODescriptor></md:EntityDescriptor>`
}

func keyDesc(use string, der []byte) string {
	u := ""
	if use != "" {
		u = ` use="` + use + `"`
	}
	return `<md:KeyDescriptor` + u + `><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` +
		base64.StdEncoding.EncodeToString(der) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
}

func sso(binding, loc string) string {
	return `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:` + binding + `" Location="` + loc + `"/>`
}

func rsa1024Cert(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weak"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseIdPMetadataAccepts(t *testing.T) {
	t.Parallel()
	cert := readCert(t, "idp.crt").Raw
	for name, doc := range map[string]string{
		"KeyDescriptorWithoutUse":   mdDoc(keyDesc("", cert) + sso("HTTP-POST", "https://idp.example.com/sso")),
		"HTTPLoopback127":           mdDoc(keyDesc("signing", cert) + sso("HTTP-POST", "http://127.0.0.1:8080/sso")),
		"HTTPLoopbackLocalhost":     mdDoc(keyDesc("signing", cert) + sso("HTTP-Redirect", "http://localhost/sso")),
		"HTTPLoopbackIPv6":          mdDoc(keyDesc("signing", cert) + sso("HTTP-Redirect", "http://[::1]:9000/sso")),
		"RedirectOnly":              mdDoc(keyDesc("signing", cert) + sso("HTTP-Redirect", "https://idp.example.com/sso")),
		"DuplicateCertDeduplicated": mdDoc(keyDesc("signing", cert) + keyDesc("", cert) + sso("HTTP-POST", "https://idp.example.com/sso")),
		"ECDSACertificate":          mdDoc(keyDesc("signing", readCert(t, "idp-ec.crt").Raw) + sso("HTTP-POST", "https://idp.example.com/sso")),
		"UnusedBindingNotChecked":   mdDoc(keyDesc("signing", cert) + sso("SOAP", "javascript:alert(1)") + sso("HTTP-POST", "https://idp.example.com/sso")),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			md, err := ParseIdPMetadata([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Certificates) != 1 {
				t.Fatalf("%d certificates", len(md.Certificates))
			}
		})
	}
}

func TestParseIdPMetadataRejects(t *testing.T) {
	t.Parallel()
	cert := readCert(t, "idp.crt").Raw
	good := keyDesc("signing", cert)
	post := sso("HTTP-POST", "https://idp.example.com/sso")
	nineCerts := ""
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		nineCerts += keyDesc("signing", der)
	}
	cases := []struct {
		name, doc, field string
	}{
		{"TooLarge", mdDoc(good + post + "<!--" + strings.Repeat("x", MaxMetadataSize) + "-->"), "document"},
		{"DTD", `<!DOCTYPE md:EntityDescriptor [<!ENTITY e "https://idp.example.com/sso">]>` + mdDoc(good+sso("HTTP-POST", "&e;")), "document"},
		{"UndefinedEntity", mdDoc(good + sso("HTTP-POST", "&e;")), "document"},
		{"RoundTripUnstable", strings.Replace(mdDoc(good+post), "<md:EntityDescriptor ", "<md:EntityDescriptor ::x=\"y\" ", 1), "document"},
		{"NotXML", "this is not metadata", "document"},
		{"WrongRoot", `<x:Other xmlns:x="urn:x"/>`, "EntityDescriptor"},
		{"WrongNamespace", `<EntityDescriptor xmlns="urn:not-saml" entityID="x"/>`, "EntityDescriptor"},
		{"MissingEntityID", strings.Replace(mdDoc(good+post), ` entityID="https://idp.example.com/metadata"`, "", 1), "entityID"},
		{"NoIDPSSODescriptor", `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`, "IDPSSODescriptor"},
		{"NotSAML2", strings.Replace(mdDoc(good+post), "urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:1.1:protocol", 1), "IDPSSODescriptor"},
		{"TwoEntitiesInEntitiesDescriptor", `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` +
			strings.Replace(mdDoc(good+post), ` xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"`, "", 1) +
			strings.Replace(mdDoc(good+post), ` xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"`, "", 1) + `</md:EntitiesDescriptor>`, "EntitiesDescriptor"},
		{"NoSSOService", mdDoc(good), "SingleSignOnService"},
		{"OnlySOAPBinding", mdDoc(good + sso("SOAP", "https://idp.example.com/soap")), "SingleSignOnService"},
		{"HTTPNotLoopback", mdDoc(good + sso("HTTP-POST", "http://idp.example.com/sso")), "SingleSignOnService"},
		{"HTTPLoopbackLookalike", mdDoc(good + sso("HTTP-POST", "http://127.0.0.1.evil.example/sso")), "SingleSignOnService"},
		{"JavascriptURL", mdDoc(good + sso("HTTP-Redirect", "javascript:alert(document.domain)")), "SingleSignOnService"},
		{"DataURL", mdDoc(good + sso("HTTP-POST", "data:text/html,hi")), "SingleSignOnService"},
		{"RelativeURL", mdDoc(good + sso("HTTP-POST", "/sso")), "SingleSignOnService"},
		{"ProtocolRelativeURL", mdDoc(good + sso("HTTP-POST", "//idp.example.com/sso")), "SingleSignOnService"},
		{"UserInfoURL", mdDoc(good + sso("HTTP-POST", "https://user:pw@idp.example.com/sso")), "SingleSignOnService"},
		{"FragmentURL", mdDoc(good + sso("HTTP-POST", "https://idp.example.com/sso#x")), "SingleSignOnService"},
		{"WhitespaceURL", mdDoc(good + sso("HTTP-POST", "https://idp.example.com/s so")), "SingleSignOnService"},
		{"EmptyURL", mdDoc(good + sso("HTTP-POST", "")), "SingleSignOnService"},
		{"OnlyEncryptionKey", mdDoc(keyDesc("encryption", cert) + post), "KeyDescriptor"},
		{"NoKeyDescriptor", mdDoc(post), "KeyDescriptor"},
		{"KeyWithoutCertificate", mdDoc(`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:KeyName>k</ds:KeyName></ds:KeyInfo></md:KeyDescriptor>` + post), "KeyDescriptor"},
		{"CertificateNotBase64", mdDoc(`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>@@@</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` + post), "KeyDescriptor"},
		{"CertificateDoesNotParse", mdDoc(keyDesc("signing", []byte("not a certificate")) + post), "KeyDescriptor"},
		{"RSA1024", mdDoc(keyDesc("signing", rsa1024Cert(t)) + post), "KeyDescriptor"},
		{"TooManyCertificates", mdDoc(nineCerts + post), "KeyDescriptor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			md, err := ParseIdPMetadata([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", md)
			}
			if !isMetadataErr(err) {
				t.Fatalf("error %v is not a metadata error", err)
			}
			if got := strings.TrimPrefix(invalidField(err), "metadata_xml."); got != tc.field {
				t.Fatalf("field %q (%v), want %q", got, err, tc.field)
			}
		})
	}
}
