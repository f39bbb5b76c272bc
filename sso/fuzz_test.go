package sso

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func FuzzParseMetadata(f *testing.F) {
	for _, name := range []string{"metadata-okta.xml", "metadata-entra.xml", "metadata-google.xml", "metadata-onelogin.xml", "metadata-keycloak.xml"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(mdDoc(keyDesc("", readCert(f, "idp-ec.crt").Raw) + sso("HTTP-Redirect", "http://[::1]:9/sso"))))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := ParseIdPMetadata(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("error %v does not match ErrInvalidMetadata", err)
			}
			return
		}
		if md.EntityID == "" || len(md.Certificates) == 0 || (md.SSOPostURL == "" && md.SSORedirectURL == "") {
			t.Fatalf("accepted incomplete metadata %+v", md)
		}
		for _, u := range []string{md.SSOPostURL, md.SSORedirectURL} {
			if u != "" && checkURL(u) != nil {
				t.Fatalf("accepted bad URL %q", u)
			}
		}
	})
}

func FuzzValidateResponse(f *testing.F) {
	for _, c := range committedResponses {
		x := readFixture(f, c.file)
		f.Add(x)
		f.Add(bytes.Replace(x, []byte("alice@example.com"), []byte("alice@example.com<!---->.evil"), 1))
		f.Add(deflate(f, x))
	}
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/><ds:SignedInfo/></ds:Signature></saml:Assertion></samlp:Response>`))
	fx := newFixture(f)
	fx.trackID(fixtureRequestID)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := fx.v.ValidateResponse(context.Background(), fx.sp, fx.idp, b64(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("error %v does not match ErrInvalidResponse", err)
			}
			return
		}
		// Only an untouched committed response can pass (once: the replay cache holds).
		if a.Email != "alice@example.com" || a.IdPEntityID != testIdPEntityID {
			t.Fatalf("accepted %+v", a)
		}
	})
}
