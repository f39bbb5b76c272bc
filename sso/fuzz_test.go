package sso

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
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
			if !isMetadataErr(err) {
				t.Fatalf("error %v is not a metadata error", err)
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
			if !isResponseErr(err) {
				t.Fatalf("error %v is not a rejected response", err)
			}
			return
		}
		// Only an untouched committed response can pass (once: the replay cache holds).
		if a.Email != "alice@example.com" || a.IdPEntityID != testIdPEntityID {
			t.Fatalf("accepted %+v", a)
		}
	})
}

// FuzzParseUntrustedXML: the parser of untrusted XML never panics, refuses only with an
// *xmlParseError, and whatever it accepts is within its limits, as an independent count
// with encoding/xml's namespace-aware Token finds.
func FuzzParseUntrustedXML(f *testing.F) {
	for _, c := range committedResponses {
		f.Add(readFixture(f, c.file))
	}
	f.Add(readFixture(f, "metadata-entra.xml"))
	for _, s := range []string{
		`<a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a></a>`,
		`<a b="1" c="2" d="3" e="4" f="5" g="6" h="7" i="8" j="9"/>`,
		`<a xmlns:x="u"><x:b xmlns:y="v"><y:c x:d="1"/></x:b></a>`,
		`<a :b="1"/>`, `<x::a/>`, `<a/><b/>`, `text<a/>`, `<a>&xxe;</a>`, `<!DOCTYPE a><a/>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, `<a x="1" x="2"/>`, `<a xmlns:p="u" xmlns:q="u" p:x="1" q:x="2"/>`,
	} {
		f.Add([]byte(s))
	}
	lim := xmlLimits{maxBytes: 4096, maxTokens: 64, maxDepth: 6, maxAttrs: 8, maxNSInScope: 4, maxNameLen: 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := parseUntrustedXML(data, lim)
		if err != nil {
			var pe *xmlParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not an *xmlParseError", err)
			}
			return
		}
		if doc.Root() == nil {
			t.Fatal("accepted a document without a root")
		}
		if err := checkRoundTrip(data, lim); err != nil {
			var pe *xmlParseError
			if !errors.As(err, &pe) || !pe.unsafe {
				t.Fatalf("round trip: %v", err)
			}
		}
		tokens, depth, maxDepth := 0, 0, 0
		dec := xml.NewDecoder(bytes.NewReader(data))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("accepted a document encoding/xml refuses: %v", err)
			}
			tokens++
			switch el := tok.(type) {
			case xml.StartElement:
				tokens += len(el.Attr)
				depth++
				maxDepth = max(maxDepth, depth)
				for i, a := range el.Attr {
					for _, b := range el.Attr[:i] {
						if a.Name == b.Name {
							t.Fatalf("accepted duplicate attribute %v", a.Name)
						}
					}
				}
			case xml.EndElement:
				depth--
			}
		}
		if len(data) > lim.maxBytes || tokens > lim.maxTokens || maxDepth > lim.maxDepth {
			t.Fatalf("accepted %d bytes, %d tokens, depth %d: beyond %+v", len(data), tokens, maxDepth, lim)
		}
	})
}
