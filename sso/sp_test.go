package sso

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/beevik/etree"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
)

func TestNewServiceProvider(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://dash.example.com", "https://dash.example.com/", "https://dash.example.com/app/", "http://127.0.0.1:8080"} {
		sp, err := NewServiceProvider(base, "ac_1", "idp_2")
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		prefix := strings.TrimRight(base, "/") + "/sso/ac_1/idp_2"
		if sp.EntityID != prefix+"/metadata" || sp.MetadataURL != sp.EntityID || sp.ACSURL != prefix+"/acs" ||
			sp.AccountID != "ac_1" || sp.IdPID != "idp_2" || sp.NameIDFormat != NameIDFormatEmail {
			t.Fatalf("%s: %+v", base, sp)
		}
	}
	bad := []struct{ base, account, idp string }{
		{"http://dash.example.com", "ac_1", "idp_2"},
		{"ftp://dash.example.com", "ac_1", "idp_2"},
		{"dash.example.com", "ac_1", "idp_2"},
		{"https://dash.example.com?x=1", "ac_1", "idp_2"},
		{"https://dash.example.com/#x", "ac_1", "idp_2"},
		{"https://dash.example.com", "", "idp_2"},
		{"https://dash.example.com", "ac/1", "idp_2"},
		{"https://dash.example.com", "ac_1", "../x"},
		{"https://dash.example.com", "ac_1", strings.Repeat("x", 65)},
	}
	for _, b := range bad {
		if _, err := NewServiceProvider(b.base, b.account, b.idp); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: got %v, want ErrInvalidConfig", b, err)
		}
	}
}

func TestSPMetadataXML(t *testing.T) {
	t.Parallel()
	sp, err := NewServiceProvider("https://dash.example.com", "ac_1", "idp_2")
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(sp.SPMetadataXML()); err != nil {
		t.Fatal(err)
	}
	ed := doc.Root()
	if !isEl(ed, nsMetadata, "EntityDescriptor") || attrOr(ed, "entityID") != sp.EntityID {
		t.Fatalf("bad root")
	}
	d, n := oneChild(ed, nsMetadata, "SPSSODescriptor")
	if n != 1 || attrOr(d, "WantAssertionsSigned") != "true" || attrOr(d, "AuthnRequestsSigned") != "false" {
		t.Fatalf("bad SPSSODescriptor")
	}
	acs, n := oneChild(d, nsMetadata, "AssertionConsumerService")
	if n != 1 || attrOr(acs, "Location") != sp.ACSURL || attrOr(acs, "Binding") != BindingHTTPPost {
		t.Fatalf("bad ACS")
	}
	if len(childrenNS(d, nsMetadata, "KeyDescriptor")) != 0 {
		t.Fatalf("SP metadata must not offer a key (no encryption)")
	}
}

// fixedReader yields the same byte forever.
type fixedReader byte

func (r fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func newTestRequest(t *testing.T, md *IdPMetadata) (*ServiceProvider, *AuthnRequest) {
	t.Helper()
	sp, err := NewServiceProvider("https://dash.example.com", "ac_1", "idp_2")
	if err != nil {
		t.Fatal(err)
	}
	req, err := sp.NewAuthnRequest(fixedReader(0xab), clock.NewFake(t0), md)
	if err != nil {
		t.Fatal(err)
	}
	return sp, req
}

func parseRequestXML(t *testing.T, x []byte) *etree.Element {
	t.Helper()
	doc, err := parseUntrustedXML(x, responseLimits(4096, 100))
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func checkRequest(t *testing.T, sp *ServiceProvider, req *AuthnRequest, root *etree.Element, dest string) {
	t.Helper()
	if !isEl(root, nsProtocol, "AuthnRequest") || attrOr(root, "ID") != req.ID || attrOr(root, "Version") != "2.0" ||
		attrOr(root, "Destination") != dest || attrOr(root, "AssertionConsumerServiceURL") != sp.ACSURL ||
		attrOr(root, "ProtocolBinding") != BindingHTTPPost || attrOr(root, "IssueInstant") != "2027-03-01T12:00:00.000Z" {
		t.Fatalf("bad AuthnRequest attributes: %v", root.Attr)
	}
	iss, _ := oneChild(root, nsAssertion, "Issuer")
	if txt, _ := textOf(iss); txt != sp.EntityID {
		t.Fatalf("Issuer %q", txt)
	}
	pol, _ := oneChild(root, nsProtocol, "NameIDPolicy")
	if attrOr(pol, "Format") != NameIDFormatEmail {
		t.Fatalf("NameIDPolicy %v", pol)
	}
}

func TestAuthnRequestRedirect(t *testing.T) {
	t.Parallel()
	md := &IdPMetadata{EntityID: "x", SSORedirectURL: "https://accounts.google.com/o/saml2/idp?idpid=C03iamkit7"}
	sp, req := newTestRequest(t, md)
	if req.ID != "_"+strings.Repeat("ab", 20) || !req.IssueInstant.Equal(t0) || req.IdPID != "idp_2" {
		t.Fatalf("request %+v", req)
	}
	u, err := req.RedirectURL("k3y")
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	if pu.Host != "accounts.google.com" || q.Get("idpid") != "C03iamkit7" || q.Get("RelayState") != "k3y" {
		t.Fatalf("url %s", u)
	}
	z, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, sp, req, parseRequestXML(t, x), md.SSORedirectURL)

	if _, _, err := req.PostForm(""); store.CodeOf(err) != CodeBindingUnsupported {
		t.Fatalf("PostForm without a POST URL: %v", err)
	}
	if _, err := req.RedirectURL(strings.Repeat("r", MaxRelayStateSize+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("long RelayState: %v", err)
	}
	u2, err := req.RedirectURL("")
	if err != nil || strings.Contains(u2, "RelayState") {
		t.Fatalf("empty RelayState: %s %v", u2, err)
	}
}

func TestAuthnRequestPost(t *testing.T) {
	t.Parallel()
	md := &IdPMetadata{EntityID: "x", SSOPostURL: "https://idp.example.com/sso/post"}
	sp, req := newTestRequest(t, md)
	action, fields, err := req.PostForm("k3y")
	if err != nil {
		t.Fatal(err)
	}
	x, err := base64.StdEncoding.DecodeString(fields.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	if action != md.SSOPostURL || fields.Get("RelayState") != "k3y" {
		t.Fatalf("form %s %v", action, fields)
	}
	checkRequest(t, sp, req, parseRequestXML(t, x), md.SSOPostURL)

	page, err := req.PostFormHTML(`"><script>alert(1)</script>`, "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`action="https://idp.example.com/sso/post"`, `nonce="n0nce"`, `&#34;&gt;&lt;script&gt;`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Fatalf("page lacks %s:\n%s", want, page)
		}
	}
	m := regexp.MustCompile(`name="SAMLRequest" value="([^"]*)"`).FindSubmatch(page)
	if m == nil || html.UnescapeString(string(m[1])) != fields.Get("SAMLRequest") {
		t.Fatalf("SAMLRequest field wrong:\n%s", page)
	}
	if bytes.Contains(page, []byte(`"><script>alert`)) {
		t.Fatalf("RelayState not escaped:\n%s", page)
	}
	if _, err := req.RedirectURL(""); store.CodeOf(err) != CodeBindingUnsupported {
		t.Fatalf("RedirectURL without a redirect URL: %v", err)
	}
}

func TestAuthnRequestIDs(t *testing.T) {
	t.Parallel()
	sp, _ := NewServiceProvider("https://dash.example.com", "ac_1", "idp_2")
	md := &IdPMetadata{SSOPostURL: "https://idp.example.com/sso"}
	clk := clock.NewFake(t0)
	if _, err := sp.NewAuthnRequest(iotest.ErrReader(io.ErrUnexpectedEOF), clk, md); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("random failure not reported: %v", err)
	}
	if _, err := sp.NewAuthnRequest(nil, clk, md); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("nil random: %v", err)
	}
	if _, err := sp.NewAuthnRequest(fixedReader(1), clk, &IdPMetadata{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no SSO URL: %v", err)
	}
	seen := map[string]bool{}
	for range 100 {
		r, err := sp.NewAuthnRequest(cryptoRand(), clk, md)
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.ID] || len(r.ID) != 41 {
			t.Fatalf("bad or repeated ID %q", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestRelayStatePath(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"/", "/dashboard", "/a/b?c=d#e", "/%2F%2Fevil.example"} {
		if got, err := RelayStatePath(ok); err != nil || got != ok {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
		"javascript:alert(1)", "dashboard", "/\t/evil.example", "/\n/evil.example", "/a\\b", " /x", "/x y",
		"/" + strings.Repeat("a", 1024)} {
		if _, err := RelayStatePath(bad); store.CodeOf(err) != CodeRelayStateUnsafe {
			t.Errorf("%q accepted", bad)
		}
	}
}
