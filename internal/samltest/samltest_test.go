package samltest

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/net/html"
)

var ada = User{
	Username: "ada", Password: "analytical engine", Email: "ada@example.com",
	DisplayName: "Ada Lovelace", Groups: []string{"admins", "devs"},
	Attributes: map[string][]string{"eduPersonAffiliation": {"member", "staff"}},
}

const spEntityID = "https://sp.example.com/saml/metadata"

func TestMetadata(t *testing.T) {
	idp := Start(t, Options{Users: []User{ada}})
	md, err := get(t.Context(), idp.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	var ed struct {
		EntityID string `xml:"entityID,attr"`
		IDP      *struct {
			Certs []string `xml:"KeyDescriptor>KeyInfo>X509Data>X509Certificate"`
			SSO   []struct {
				Binding  string `xml:"Binding,attr"`
				Location string `xml:"Location,attr"`
			} `xml:"SingleSignOnService"`
		} `xml:"IDPSSODescriptor"`
	}
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if ed.EntityID != idp.EntityID || !bytes.Equal(md, idp.Metadata) {
		t.Errorf("entityID %q (IdP.EntityID %q); metadata equal to IdP.Metadata: %v", ed.EntityID, idp.EntityID, bytes.Equal(md, idp.Metadata))
	}
	if ed.IDP == nil {
		t.Fatal("no IDPSSODescriptor")
	}
	want := base64.StdEncoding.EncodeToString(idp.Certificate.Raw)
	if len(ed.IDP.Certs) == 0 || !slices.ContainsFunc(ed.IDP.Certs, func(c string) bool { return strings.Join(strings.Fields(c), "") == want }) {
		t.Errorf("the metadata's certificates do not include IdP.Certificate")
	}
	bindings := map[string]string{}
	for _, s := range ed.IDP.SSO {
		bindings[s.Binding] = s.Location
	}
	for _, b := range []string{"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"} {
		if bindings[b] != idp.SSOURL() {
			t.Errorf("SSO location for %s = %q, want %q", b, bindings[b], idp.SSOURL())
		}
	}
	if _, err := get(t.Context(), idp.BaseURL+"resources/post.js"); err != nil {
		t.Errorf("the script that submits the response form: %v", err)
	}
}

// TestSPInitiatedSignIn sends a real AuthnRequest, over each binding the metadata lists, signs
// in through the login form with Go's HTTP client and checks the SAMLResponse the IdP posts
// back.
func TestSPInitiatedSignIn(t *testing.T) {
	idp := Start(t, Options{Users: []User{ada}})
	acs := "http://127.0.0.1:9/saml/acs"
	if err := idp.RegisterSP(SP{EntityID: spEntityID, ACSURL: acs}); err != nil {
		t.Fatal(err)
	}
	bindings := []struct {
		name string
		send func(ctx context.Context, b *browser, request string) htmlForm
	}{
		{"HTTP-Redirect", func(ctx context.Context, b *browser, request string) htmlForm {
			return b.get(ctx, idp.SSOURL()+"?"+redirectQuery(t, request, "relay-42"))
		}},
		{"HTTP-POST", func(ctx context.Context, b *browser, request string) htmlForm {
			return b.post(ctx, htmlForm{action: idp.SSOURL(), values: url.Values{
				"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(request))},
				"RelayState":  {"relay-42"},
			}})
		}},
	}
	for _, binding := range bindings {
		t.Run(binding.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			b := newBrowser(t)
			requestID := "_req" + randomHex(8)
			login := binding.send(ctx, b, authnRequest(requestID, idp.SSOURL(), acs))
			for _, field := range []string{"username", "password", "AuthState"} {
				if _, ok := login.values[field]; !ok {
					t.Fatalf("the login form has no %s field: %v", field, login.values)
				}
			}
			for _, id := range []string{"username", "password", "submit_button"} {
				if !strings.Contains(login.page, `id="`+id+`"`) {
					t.Errorf("the login form has no element with the id %q the package documents", id)
				}
			}
			login.values.Set("username", ada.Username)
			login.values.Set("password", ada.Password)
			resp := b.post(ctx, login)
			if resp.action != acs || resp.values.Get("RelayState") != "relay-42" {
				t.Fatalf("response form posts to %q with RelayState %q, want %q and relay-42", resp.action, resp.values.Get("RelayState"), acs)
			}
			r := decodeResponse(t, idp, resp.values.Get("SAMLResponse"))
			if r.InResponseTo != requestID || r.Destination != acs {
				t.Errorf("InResponseTo %q, Destination %q; want %q, %q", r.InResponseTo, r.Destination, requestID, acs)
			}
			wantAssertion(t, r, acs)
		})
	}
}

// TestIdPInitiatedSignIn starts at IdPInitiatedURL: no AuthnRequest, so no InResponseTo.
func TestIdPInitiatedSignIn(t *testing.T) {
	idp := Start(t, Options{Users: []User{ada}})
	acs := "http://127.0.0.1:9/saml/acs"
	if err := idp.RegisterSP(SP{EntityID: spEntityID, ACSURL: acs}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBrowser(t)
	login := b.get(ctx, idp.IdPInitiatedURL(spEntityID))
	login.values.Set("username", ada.Username)
	login.values.Set("password", ada.Password)
	resp := b.post(ctx, login)
	if resp.action != acs {
		t.Fatalf("response form posts to %q, want %q", resp.action, acs)
	}
	r := decodeResponse(t, idp, resp.values.Get("SAMLResponse"))
	if r.InResponseTo != "" {
		t.Errorf("InResponseTo %q in an IdP-initiated response", r.InResponseTo)
	}
	wantAssertion(t, r, acs)
}

func TestWrongPasswordShowsTheFormAgain(t *testing.T) {
	idp := Start(t, Options{Users: []User{ada}})
	if err := idp.RegisterSP(SP{EntityID: spEntityID, ACSURL: "http://127.0.0.1:9/acs"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBrowser(t)
	login := b.get(ctx, idp.IdPInitiatedURL(spEntityID))
	login.values.Set("username", ada.Username)
	login.values.Set("password", "not the password")
	again := b.post(ctx, login)
	if _, ok := again.values["SAMLResponse"]; ok {
		t.Fatal("a wrong password got a SAMLResponse")
	}
	if _, ok := again.values["password"]; !ok || !strings.Contains(again.page, "<h2>") {
		t.Errorf("after a wrong password: want the login form with an error heading, got %.500s", again.page)
	}
}

// TestUnknownSPIsRefused sends an AuthnRequest from an entity the IdP does not know.
func TestUnknownSPIsRefused(t *testing.T) {
	idp := Start(t, Options{Users: []User{ada}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBrowser(t)
	resp, page := b.getRaw(ctx, idp.SSOURL()+"?"+redirectQuery(t, authnRequest("_x", idp.SSOURL(), "http://127.0.0.1:9/acs"), ""))
	// SimpleSAMLphp answers 200 with an error page, not the login form.
	if strings.Contains(page, `name="password"`) || strings.Contains(page, "SAMLResponse") || !strings.Contains(page, "<title>Metadata not found</title>") {
		t.Errorf("an unknown SP got %s and not the metadata error page: %.500s", resp.Status, page)
	}
}

// TestTwoIdPsKeepTheirSessions signs in at two IdPs with one cookie jar, which, like a
// browser, does not tell ports apart: each IdP keeps its own session.
func TestTwoIdPsKeepTheirSessions(t *testing.T) {
	a := Start(t, Options{Users: []User{ada}})
	bob := User{Username: "bob", Password: "pw-b", Email: "bob@example.org"}
	bIdP := Start(t, Options{Users: []User{bob}})
	for _, idp := range []*IdP{a, bIdP} {
		if err := idp.RegisterSP(SP{EntityID: spEntityID, ACSURL: "http://127.0.0.1:9/acs"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	br := newBrowser(t)
	signIn := func(idp *IdP, u User) {
		t.Helper()
		login := br.get(ctx, idp.IdPInitiatedURL(spEntityID))
		login.values.Set("username", u.Username)
		login.values.Set("password", u.Password)
		if r := br.post(ctx, login); r.values.Get("SAMLResponse") == "" {
			t.Fatalf("signing in at %s: no SAMLResponse", idp.BaseURL)
		}
	}
	signIn(a, ada)
	signIn(bIdP, bob)
	again := br.get(ctx, a.IdPInitiatedURL(spEntityID))
	if again.values.Get("SAMLResponse") == "" {
		t.Fatalf("after signing in at the second IdP, the first asked for a password again: %v", again.values)
	}
	r := decodeResponse(t, a, again.values.Get("SAMLResponse"))
	if r.Assertion.NameID.Value != ada.Email {
		t.Errorf("the first IdP's session is %q's, want %q's", r.Assertion.NameID.Value, ada.Email)
	}
}

func TestInvalid(t *testing.T) {
	users := []struct {
		name string
		u    User
	}{
		{"no username", User{Password: "p", Email: "e@x"}},
		{"colon in username", User{Username: "a:b", Password: "p", Email: "e@x"}},
		{"no password", User{Username: "a", Email: "e@x"}},
		{"no email", User{Username: "a", Password: "p"}},
	}
	for _, tt := range users {
		t.Run("user/"+tt.name, func(t *testing.T) {
			if _, err := Launch(Options{Users: []User{tt.u}}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Launch = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("user/twice", func(t *testing.T) {
		if _, err := Launch(Options{Users: []User{ada, ada}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Launch = %v, want ErrInvalid", err)
		}
	})
	idp := Start(t, Options{Users: []User{ada}})
	for name, u := range map[string]User{"unknown username": {Username: "nobody", Password: "p", Email: "e@x"}, "no email": {Username: ada.Username, Password: "p"}} {
		if err := idp.SetUser(u); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetUser (%s) = %v, want ErrInvalid", name, err)
		}
	}
	sps := []struct {
		name string
		sp   SP
	}{
		{"no entity ID", SP{ACSURL: "http://127.0.0.1/acs"}},
		{"no ACS URL", SP{EntityID: "e"}},
		{"relative ACS URL", SP{EntityID: "e", ACSURL: "/acs"}},
	}
	for _, tt := range sps {
		t.Run("sp/"+tt.name, func(t *testing.T) {
			if err := idp.RegisterSP(tt.sp); !errors.Is(err, ErrInvalid) {
				t.Errorf("RegisterSP = %v, want ErrInvalid", err)
			}
		})
	}
	if s := fmt.Sprintf("%v %+v %s", ada, ada, ada); strings.Contains(s, ada.Password) {
		t.Errorf("formatting a User shows the password: %s", s)
	}
}

// TestClose checks that Close stops php and removes the files.
func TestClose(t *testing.T) {
	idp, err := Launch(Options{})
	Require(t, err)
	idp.Close()
	if _, err := get(t.Context(), idp.MetadataURL()); err == nil {
		t.Error("the IdP still answers after Close")
	}
	if _, err := os.Stat(idp.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the IdP's directory is still there: %v", err)
	}
}

// authnRequest is a minimal SP-initiated request, as an SP would send it.
func authnRequest(id, destination, acs string) string {
	return fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s" AssertionConsumerServiceURL="%s" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>%s</saml:Issuer><samlp:NameIDPolicy Format="%s" AllowCreate="true"/></samlp:AuthnRequest>`,
		id, time.Now().UTC().Format(time.RFC3339), destination, acs, spEntityID, NameIDFormatEmail)
}

// redirectQuery encodes a request for the HTTP-Redirect binding: DEFLATE, base64, URL-encode.
func redirectQuery(t *testing.T, request, relayState string) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, request)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}}
	if relayState != "" {
		q.Set("RelayState", relayState)
	}
	return q.Encode()
}

// samlResponse is what the tests read of a Response.
type samlResponse struct {
	InResponseTo string `xml:"InResponseTo,attr"`
	Destination  string `xml:"Destination,attr"`
	Status       struct {
		Code struct {
			Value string `xml:"Value,attr"`
		} `xml:"StatusCode"`
	} `xml:"Status"`
	Signature *struct{} `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
	Assertion struct {
		Signature *struct{} `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
		NameID    struct {
			Value  string `xml:",chardata"`
			Format string `xml:"Format,attr"`
		} `xml:"Subject>NameID"`
		Audience     string `xml:"Conditions>AudienceRestriction>Audience"`
		Confirmation struct {
			Recipient string `xml:"Recipient,attr"`
		} `xml:"Subject>SubjectConfirmation>SubjectConfirmationData"`
		Attributes []struct {
			Name   string   `xml:"Name,attr"`
			Values []string `xml:"AttributeValue"`
		} `xml:"AttributeStatement>Attribute"`
	} `xml:"Assertion"`
}

// decodeResponse decodes a SAMLResponse, checks its signature against the IdP's certificate
// with goxmldsig and returns what the tests read of it.
func decodeResponse(t *testing.T, idp *IdP, encoded string) samlResponse {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("SAMLResponse is not XML: %v", err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idp.Certificate}})
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Errorf("the Response's signature does not verify with the IdP's certificate: %v", err)
	}
	var r samlResponse
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// wantAssertion checks what every response to ada must carry.
func wantAssertion(t *testing.T, r samlResponse, acs string) {
	t.Helper()
	a := r.Assertion
	if r.Status.Code.Value != "urn:oasis:names:tc:SAML:2.0:status:Success" {
		t.Errorf("status %q", r.Status.Code.Value)
	}
	if r.Signature == nil || a.Signature == nil {
		t.Errorf("Response signed: %v, Assertion signed: %v; want both", r.Signature != nil, a.Signature != nil)
	}
	if a.NameID.Value != ada.Email || a.NameID.Format != NameIDFormatEmail {
		t.Errorf("NameID %q (%s), want %q (%s)", a.NameID.Value, a.NameID.Format, ada.Email, NameIDFormatEmail)
	}
	if a.Audience != spEntityID || a.Confirmation.Recipient != acs {
		t.Errorf("Audience %q, Recipient %q; want %q, %q", a.Audience, a.Confirmation.Recipient, spEntityID, acs)
	}
	got := map[string][]string{}
	for _, at := range a.Attributes {
		got[at.Name] = at.Values
	}
	want := ada.attributes()
	if len(got) != len(want) {
		t.Errorf("attributes %q, want %q", got, want)
	}
	for name, vals := range want {
		if !slices.Equal(got[name], vals) {
			t.Errorf("attribute %s = %q, want %q", name, got[name], vals)
		}
	}
}

// browser is Go's HTTP client with a cookie jar, following redirects, and a form reader.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// htmlForm is the first form of a page: its absolute action and its fields' values.
type htmlForm struct {
	page   string
	action string
	values url.Values
}

func (b *browser) get(ctx context.Context, u string) htmlForm {
	b.t.Helper()
	resp, body := b.getRaw(ctx, u)
	return b.form(resp, body)
}

func (b *browser) getRaw(ctx context.Context, u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(ctx context.Context, f htmlForm) htmlForm {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.action, strings.NewReader(f.values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := b.do(req)
	return b.form(resp, body)
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

func (b *browser) form(resp *http.Response, page string) htmlForm {
	b.t.Helper()
	f, ok := firstForm(resp.Request.URL, page)
	if !ok {
		b.t.Fatalf("%s %s: %s, no form in %.1000q", resp.Request.Method, resp.Request.URL, resp.Status, page)
	}
	return f
}

// firstForm finds the first form of an HTML page with golang.org/x/net/html.
func firstForm(base *url.URL, page string) (htmlForm, bool) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return htmlForm{}, false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			form = n
			break
		}
	}
	if form == nil {
		return htmlForm{}, false
	}
	action, err := base.Parse(attr(form, "action"))
	if err != nil {
		return htmlForm{}, false
	}
	f := htmlForm{page: page, action: action.String(), values: url.Values{}}
	for n := range form.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			f.values.Set(attr(n, "name"), attr(n, "value"))
		}
	}
	return f, true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestUnavailable points EnvDir at a directory without SimpleSAMLphp: Launch says so with
// ErrUnavailable, which Require turns into a skip (or, in CI, a failure).
func TestUnavailable(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	if _, err := Launch(Options{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Launch without SimpleSAMLphp = %v, want ErrUnavailable", err)
	}
}
