package sso

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/beevik/etree"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// t0 is the fixed "now" of the xmlsec1-signed tests; the testdata certificates are valid
// from 2026-11-23 to 2126.
var t0 = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testIdPEntityID = "https://idp.example.com/saml/metadata"
	testBaseURL     = "https://sp.example.com"
	testAccountID   = "ac_test"
	testIdPID       = "idp_test1"

	algRSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	algRSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algECSHA256  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	algSHA1      = "http://www.w3.org/2000/09/xmldsig#sha1"
)

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// needXMLSec1 skips the test when xmlsec1 is missing, unless CI is set.
func needXMLSec1(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("xmlsec1"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmlsec1 is required in CI: apt-get install -y xmlsec1")
		}
		t.Skip("xmlsec1 not installed (apt-get install -y xmlsec1); skipping signed-response test")
	}
}

// xmlsecSign signs the ds:Signature templates of doc with xmlsec1: the Assertion's first,
// then the Response's, so that the Response signature covers the signed Assertion.
func xmlsecSign(t testing.TB, doc []byte, keyName string, assertion, response bool) []byte {
	t.Helper()
	needXMLSec1(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.xml")
	if err := os.WriteFile(in, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join("testdata", keyName+".key") + "," + filepath.Join("testdata", keyName+".crt")
	pass := func(xpath string) {
		out := filepath.Join(dir, "out.xml")
		cmd := exec.Command("xmlsec1", "--sign", "--privkey-pem", key,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
			"--node-xpath", xpath, "--output", out, in)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xmlsec1: %v\n%s\n%s", err, b, doc)
		}
		if err := os.Rename(out, in); err != nil {
			t.Fatal(err)
		}
	}
	if assertion {
		pass("/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']")
	}
	if response {
		pass("/*[local-name()='Response']/*[local-name()='Signature']")
	}
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type attrSpec struct {
	Name, FriendlyName string
	Values             []string
}

// respSpec describes a response template. Empty strings omit optional attributes.
type respSpec struct {
	RespID, AssertionID                 string
	Version, AssertionVersion           string
	IssueInstant, AssertionIssueInstant string
	Destination                         string
	InResponseTo, SCDInResponseTo       string
	RespIssuer, Issuer                  string
	Status                              string
	NameIDRaw, NameIDFormat             string // NameIDRaw is inserted unescaped
	Method, Recipient, SCDNotOnOrAfter  string
	NotBefore, NotOnOrAfter             string
	Audiences                           [][]string // one AudienceRestriction per entry
	ExtraConditions                     string
	AuthnInstant, SessionNotOnOrAfter   string
	Attrs                               []attrSpec
	SignResponse, SignAssertion         bool
	SigAlg, DigestAlg                   string
	Key                                 string // testdata key name, "idp" by default
	OmitConditions, OmitSubjectConfirm  bool
	OmitStatus                          bool
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

var respTemplate = template.Must(template.New("r").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{{.RespID}}" Version="{{.Version}}" IssueInstant="{{.IssueInstant}}"{{if .Destination}} Destination="{{.Destination}}"{{end}}{{if .InResponseTo}} InResponseTo="{{.InResponseTo}}"{{end}}>
{{- if .RespIssuer}}
  <saml:Issuer>{{.RespIssuer}}</saml:Issuer>{{end}}
{{- if .SignResponse}}
  {{.RespSig}}{{end}}
{{- if not .OmitStatus}}
  <samlp:Status><samlp:StatusCode Value="{{.Status}}"/></samlp:Status>{{end}}
  <saml:Assertion ID="{{.AssertionID}}" Version="{{.AssertionVersion}}" IssueInstant="{{.AssertionIssueInstant}}">
    <saml:Issuer>{{.Issuer}}</saml:Issuer>
{{- if .SignAssertion}}
    {{.AssertSig}}{{end}}
    <saml:Subject>
      <saml:NameID Format="{{.NameIDFormat}}">{{.NameIDRaw}}</saml:NameID>
{{- if not .OmitSubjectConfirm}}
      <saml:SubjectConfirmation Method="{{.Method}}">
        <saml:SubjectConfirmationData{{if .SCDInResponseTo}} InResponseTo="{{.SCDInResponseTo}}"{{end}}{{if .SCDNotOnOrAfter}} NotOnOrAfter="{{.SCDNotOnOrAfter}}"{{end}} Recipient="{{.Recipient}}"/>
      </saml:SubjectConfirmation>{{end}}
    </saml:Subject>
{{- if not .OmitConditions}}
    <saml:Conditions{{if .NotBefore}} NotBefore="{{.NotBefore}}"{{end}}{{if .NotOnOrAfter}} NotOnOrAfter="{{.NotOnOrAfter}}"{{end}}>
{{- range .Audiences}}
      <saml:AudienceRestriction>{{range .}}<saml:Audience>{{.}}</saml:Audience>{{end}}</saml:AudienceRestriction>{{end}}{{.ExtraConditions}}
    </saml:Conditions>{{end}}
    <saml:AuthnStatement AuthnInstant="{{.AuthnInstant}}" SessionIndex="_session1"{{if .SessionNotOnOrAfter}} SessionNotOnOrAfter="{{.SessionNotOnOrAfter}}"{{end}}>
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
{{- if .Attrs}}
    <saml:AttributeStatement>
{{- range .Attrs}}
      <saml:Attribute Name="{{.Name}}"{{if .FriendlyName}} FriendlyName="{{.FriendlyName}}"{{end}}>{{range .Values}}<saml:AttributeValue>{{.}}</saml:AttributeValue>{{end}}</saml:Attribute>{{end}}
    </saml:AttributeStatement>{{end}}
  </saml:Assertion>
</samlp:Response>
`))

// sigTemplate returns an empty enveloped ds:Signature for xmlsec1 to fill in.
func sigTemplate(id, alg, digest string) string {
	r := strings.NewReplacer("{{.Alg}}", alg, "{{.Digest}}", digest, "{{.ID}}", id)
	return r.Replace(`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{{.Alg}}"/><ds:Reference URI="#{{.ID}}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{{.Digest}}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>`)
}

// fixture is one SP + IdP + store + clock, fresh per test so tests run in parallel.
type fixture struct {
	t     testing.TB
	clock *clock.Fake
	store store.Store
	v     *Validator
	sp    *ServiceProvider
	idp   *IdentityProvider
	reqID string // a tracked, outstanding request ID
}

func newFixture(t testing.TB, opts ...ValidatorOption) *fixture {
	t.Helper()
	clk := clock.NewFake(t0)
	st := memT(t, clk)
	v, err := NewValidator(st, clk, opts...)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := NewServiceProvider(testBaseURL, testAccountID, testIdPID)
	if err != nil {
		t.Fatal(err)
	}
	idp := &IdentityProvider{
		ID: testIdPID,
		Metadata: &IdPMetadata{
			EntityID:       testIdPEntityID,
			SSORedirectURL: "https://idp.example.com/saml/sso",
			SSOPostURL:     "https://idp.example.com/saml/sso",
			Certificates:   []*x509.Certificate{readCert(t, "idp.crt")},
		},
	}
	f := &fixture{t: t, clock: clk, store: st, v: v, sp: sp, idp: idp}
	f.reqID = f.track()
	return f
}

// track issues and tracks a new AuthnRequest for the fixture's IdP.
func (f *fixture) track() string {
	f.t.Helper()
	req, err := f.sp.NewAuthnRequest(rand.Reader, f.clock, f.idp.Metadata)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.v.TrackRequest(context.Background(), req); err != nil {
		f.t.Fatal(err)
	}
	return req.ID
}

// spec returns a valid response spec answering f.reqID, the Assertion signed.
func (f *fixture) spec() *respSpec {
	now := f.clock.Now()
	return &respSpec{
		RespID: "_resp" + f.reqID[1:13], AssertionID: "_assert" + f.reqID[1:13],
		Version: "2.0", AssertionVersion: "2.0",
		IssueInstant: ts(now.Add(-5 * time.Second)), AssertionIssueInstant: ts(now.Add(-5 * time.Second)),
		Destination:  f.sp.ACSURL,
		InResponseTo: f.reqID, SCDInResponseTo: f.reqID,
		RespIssuer: testIdPEntityID, Issuer: testIdPEntityID,
		Status:    "urn:oasis:names:tc:SAML:2.0:status:Success",
		NameIDRaw: "alice@example.com", NameIDFormat: NameIDFormatEmail,
		Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer", Recipient: f.sp.ACSURL,
		SCDNotOnOrAfter: ts(now.Add(5 * time.Minute)),
		NotBefore:       ts(now.Add(-time.Minute)), NotOnOrAfter: ts(now.Add(5 * time.Minute)),
		Audiences:    [][]string{{f.sp.EntityID}},
		AuthnInstant: ts(now.Add(-30 * time.Second)),
		Attrs: []attrSpec{
			{Name: "http://schemas.microsoft.com/identity/claims/displayname", Values: []string{"Alice Example"}},
			{Name: "groups", Values: []string{"admins", "devs"}},
		},
		SignAssertion: true,
		SigAlg:        algRSASHA256, DigestAlg: "http://www.w3.org/2001/04/xmlenc#sha256",
	}
}

// unsignedXML renders s with empty signature templates.
func (s *respSpec) unsignedXML(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	data := struct {
		*respSpec
		RespSig, AssertSig string
	}{s, sigTemplate(s.RespID, s.SigAlg, s.DigestAlg), sigTemplate(s.AssertionID, s.SigAlg, s.DigestAlg)}
	if err := respTemplate.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// signedXML renders and signs s with xmlsec1.
func (s *respSpec) signedXML(t testing.TB) []byte {
	t.Helper()
	key := s.Key
	if key == "" {
		key = "idp"
	}
	return xmlsecSign(t, s.unsignedXML(t), key, s.SignAssertion, s.SignResponse)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func (f *fixture) validate(samlResponse string) (*Assertion, error) {
	return f.v.ValidateResponse(context.Background(), f.sp, f.idp, samlResponse)
}

// mutate parses signed XML with etree, applies fn and serializes it again.
func mutate(t testing.TB, signed []byte, fn func(doc *etree.Document)) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(signed); err != nil {
		t.Fatal(err)
	}
	fn(doc)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantKind fails unless err is a rejected SAML response with code ("": any).
func wantKind(t testing.TB, a *Assertion, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted (NameID %q), want %v", a.NameID, code)
	}
	if a != nil {
		t.Fatalf("returned an assertion with an error")
	}
	if !isResponseErr(err) {
		t.Fatalf("error %v is not a rejected SAML response", err)
	}
	if code != "" && store.CodeOf(err) != code {
		t.Fatalf("error %v (code %s), want code %s", err, store.CodeOf(err), code)
	}
}

// isResponseErr reports whether err is a rejected SAML response: store.ErrUnauthenticated
// with the code of a failed check.
func isResponseErr(err error) bool {
	return errors.Is(err, store.ErrUnauthenticated) && isResponseCode(store.CodeOf(err))
}

// isMetadataErr reports whether err is rejected IdP metadata: store.ErrInvalid on a part of
// metadata_xml.
func isMetadataErr(err error) bool {
	return errors.Is(err, store.ErrInvalid) && strings.HasPrefix(invalidField(err), "metadata_xml.")
}

func cryptoRand() io.Reader { return rand.Reader }

// memT returns an empty memstore on clk (the system clock when nil), closed when the test
// ends.
func memT(tb testing.TB, clk store.Clock) store.Store {
	tb.Helper()
	var opts []memstore.Option
	if clk != nil {
		opts = append(opts, memstore.WithClock(clk))
	}
	st, err := memstore.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
