package sso_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"time"

	"github.com/iamkit/iamkit/sso"
)

func ExampleParseIdPMetadata() {
	data, err := os.ReadFile("testdata/metadata-okta.xml")
	if err != nil {
		log.Fatal(err)
	}
	md, err := sso.ParseIdPMetadata(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("entity ID:", md.EntityID)
	fmt.Println("redirect: ", md.SSORedirectURL)
	fmt.Println("certs:    ", len(md.Certificates), md.Certificates[0].Subject.CommonName)

	_, err = sso.ParseIdPMetadata([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`))
	fmt.Println(err)
	// Output:
	// entity ID: http://www.okta.com/exk9iamkitTest0h7
	// redirect:  https://iamkit-test.okta.com/app/iamkit-test_iamkit_1/exk9iamkitTest0h7/sso/saml
	// certs:     1 iamkit test IdP
	// metadata_xml.IDPSSODescriptor: want exactly one supporting SAML 2.0
}

// fixedClock is a Clock that always says the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// constReader stands in for crypto/rand.Reader so the output is stable.
type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func ExampleServiceProvider_NewAuthnRequest() {
	sp, err := sso.NewServiceProvider("https://dashboard.example.com", "ac_123", "idp_456")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("entity ID:", sp.EntityID)
	fmt.Println("ACS URL:  ", sp.ACSURL)

	idp := &sso.IdPMetadata{EntityID: "https://idp.example.com", SSORedirectURL: "https://idp.example.com/sso"}
	// In production: crypto/rand.Reader and a clock that reads time.Now.
	req, err := sp.NewAuthnRequest(constReader(7), fixedClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), idp)
	if err != nil {
		log.Fatal(err)
	}
	// Before redirecting: validator.TrackRequest(ctx, req).
	fmt.Println("request ID:", req.ID)

	u, err := req.RedirectURL("opaque-key")
	if err != nil {
		log.Fatal(err)
	}
	pu, _ := url.Parse(u)
	z, _ := base64.StdEncoding.DecodeString(pu.Query().Get("SAMLRequest"))
	x, _ := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	fmt.Println("redirect to:", pu.Scheme+"://"+pu.Host+pu.Path, "RelayState="+pu.Query().Get("RelayState"))
	fmt.Println(string(x))
	// Output:
	// entity ID: https://dashboard.example.com/sso/ac_123/idp_456/metadata
	// ACS URL:   https://dashboard.example.com/sso/ac_123/idp_456/acs
	// request ID: _0707070707070707070707070707070707070707
	// redirect to: https://idp.example.com/sso RelayState=opaque-key
	// <samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_0707070707070707070707070707070707070707" Version="2.0" IssueInstant="2030-01-02T03:04:05.000Z" Destination="https://idp.example.com/sso" AssertionConsumerServiceURL="https://dashboard.example.com/sso/ac_123/idp_456/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://dashboard.example.com/sso/ac_123/idp_456/metadata</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/></samlp:AuthnRequest>
}
