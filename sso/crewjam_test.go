package sso

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/logger"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/iamkit/iamkit/store"
)

// This file runs full SAML flows against crewjam/saml's IdentityProvider, an independent
// IdP implementation, on a loopback httptest server and the real clock. crewjam/saml is a
// test-only dependency.

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type oneSP struct{ md *saml.EntityDescriptor }

func (p oneSP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	if id != p.md.EntityID {
		return nil, os.ErrNotExist
	}
	return p.md, nil
}

type fixedSession struct{ s *saml.Session }

func (p fixedSession) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	return p.s
}

type crewjamEnv struct {
	srv   *httptest.Server
	idp   *saml.IdentityProvider
	sp    *ServiceProvider
	cfg   *IdentityProvider
	v     *Validator
	store store.Store
}

func newCrewjamEnv(t *testing.T, signatureMethod string) *crewjamEnv {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "idp.key"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := NewServiceProvider("https://sp.example.com", "ac_crewjam", "idp_crewjam")
	if err != nil {
		t.Fatal(err)
	}
	var spMD saml.EntityDescriptor
	if err := xml.Unmarshal(sp.SPMetadataXML(), &spMD); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	idp := &saml.IdentityProvider{
		Key:                     key.(crypto.Signer),
		Certificate:             readCert(t, "idp.crt"),
		Logger:                  logger.DefaultLogger,
		MetadataURL:             *base.JoinPath("/metadata"),
		SSOURL:                  *base.JoinPath("/sso"),
		SignatureMethod:         signatureMethod,
		ServiceProviderProvider: oneSP{&spMD},
		SessionProvider: fixedSession{&saml.Session{
			ID: "s1", CreateTime: time.Now(), ExpireTime: time.Now().Add(time.Hour), Index: "idx1",
			NameID: "alice@example.com", NameIDFormat: NameIDFormatEmail,
			UserEmail: "alice@example.com", UserCommonName: "Alice Example", Groups: []string{"admins", "devs"},
		}},
	}
	mux.HandleFunc("/metadata", idp.ServeMetadata)
	mux.HandleFunc("/sso", idp.ServeSSO)

	res, err := srv.Client().Get(srv.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseIdPMetadata(body)
	if err != nil {
		t.Fatalf("crewjam metadata rejected: %v\n%s", err, body)
	}
	if md.SSORedirectURL != srv.URL+"/sso" || md.SSOPostURL != srv.URL+"/sso" || len(md.Certificates) != 1 {
		t.Fatalf("metadata %+v", md)
	}
	st := memT(t, nil)
	v, err := NewValidator(st, wallClock{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &IdentityProvider{ID: "idp_crewjam", Metadata: md,
		// crewjam sends groups as eduPersonAffiliation; the email (mail OID) and name (cn
		// OID) are found by the default mapping.
		Attributes: AttributeMapping{Groups: []string{"eduPersonAffiliation"}}}
	return &crewjamEnv{srv: srv, idp: idp, sp: sp, cfg: cfg, v: v, store: st}
}

var formField = regexp.MustCompile(`name="(SAMLResponse|RelayState)" value="([^"]*)"`)

// postedForm extracts the auto-submit form an IdP answers with.
func postedForm(t *testing.T, page []byte) (samlResponse, relayState string) {
	t.Helper()
	for _, m := range formField.FindAllSubmatch(page, -1) {
		v := html.UnescapeString(string(m[2]))
		if string(m[1]) == "SAMLResponse" {
			samlResponse = v
		} else {
			relayState = v
		}
	}
	if samlResponse == "" {
		t.Fatalf("no SAMLResponse in IdP page:\n%s", page)
	}
	return samlResponse, relayState
}

func readPage(t *testing.T, res *http.Response, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("IdP answered %s:\n%s", res.Status, b)
	}
	return b
}

func checkCrewjamAssertion(t *testing.T, e *crewjamEnv, a *Assertion) {
	t.Helper()
	if a.Email != "alice@example.com" || a.NameID != "alice@example.com" || a.Name != "Alice Example" ||
		!slices.Equal(a.Groups, []string{"admins", "devs"}) || a.IdPEntityID != e.cfg.Metadata.EntityID ||
		a.SessionIndex != "idx1" || a.IdPID != "idp_crewjam" {
		t.Fatalf("assertion %+v", a)
	}
}

func TestCrewjamSPInitiated(t *testing.T) {
	t.Parallel()
	for _, binding := range []string{BindingHTTPRedirect, BindingHTTPPost} {
		t.Run(binding[len("urn:oasis:names:tc:SAML:2.0:bindings:"):], func(t *testing.T) {
			t.Parallel()
			e := newCrewjamEnv(t, dsig.RSASHA256SignatureMethod)
			ctx := context.Background()
			req, err := e.sp.NewAuthnRequest(rand.Reader, wallClock{}, e.cfg.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.v.TrackRequest(ctx, req); err != nil {
				t.Fatal(err)
			}
			var page []byte
			if binding == BindingHTTPRedirect {
				u, err := req.RedirectURL("k3y")
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.srv.Client().Get(u)
				page = readPage(t, res, err)
			} else {
				action, fields, err := req.PostForm("k3y")
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.srv.Client().PostForm(action, fields)
				page = readPage(t, res, err)
			}
			form, relay := postedForm(t, page)
			if relay != "k3y" {
				t.Fatalf("RelayState %q", relay)
			}
			a, err := e.v.ValidateResponse(ctx, e.sp, e.cfg, form)
			if err != nil {
				t.Fatal(err)
			}
			checkCrewjamAssertion(t, e, a)
			if a.InResponseTo != req.ID || a.IdPInitiated {
				t.Fatalf("assertion %+v", a)
			}
			_, err = e.v.ValidateResponse(ctx, e.sp, e.cfg, form)
			if store.CodeOf(err) != CodeReplay {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

func TestCrewjamIdPInitiated(t *testing.T) {
	t.Parallel()
	e := newCrewjamEnv(t, dsig.RSASHA256SignatureMethod)
	idpInitiated := func() (string, string) {
		rec := httptest.NewRecorder()
		e.idp.ServeIDPInitiated(rec, httptest.NewRequest(http.MethodGet, "/login", nil), e.sp.EntityID, "/dashboard/x")
		if rec.Code != http.StatusOK {
			t.Fatalf("IdP answered %d: %s", rec.Code, rec.Body)
		}
		return postedForm(t, rec.Body.Bytes())
	}
	ctx := context.Background()

	form, _ := idpInitiated()
	_, err := e.v.ValidateResponse(ctx, e.sp, e.cfg, form)
	if store.CodeOf(err) != CodeUnsolicited {
		t.Fatalf("IdP-initiated login to an IdP that disallows it: %v", err)
	}

	e.cfg.AllowIdPInitiated = true
	form, relay := idpInitiated()
	a, err := e.v.ValidateResponse(ctx, e.sp, e.cfg, form)
	if err != nil {
		t.Fatal(err)
	}
	checkCrewjamAssertion(t, e, a)
	if !a.IdPInitiated || a.InResponseTo != "" {
		t.Fatalf("assertion %+v", a)
	}
	if p, err := RelayStatePath(relay); err != nil || p != "/dashboard/x" {
		t.Fatalf("RelayState %q: %v", relay, err)
	}
	if _, err := e.v.ValidateResponse(ctx, e.sp, e.cfg, form); store.CodeOf(err) != CodeReplay {
		t.Fatalf("replay: %v", err)
	}
}

// TestCrewjamDefaultSHA1Rejected: crewjam's IdP signs with RSA-SHA1 unless told otherwise.
func TestCrewjamDefaultSHA1Rejected(t *testing.T) {
	t.Parallel()
	e := newCrewjamEnv(t, "")
	e.cfg.AllowIdPInitiated = true
	rec := httptest.NewRecorder()
	e.idp.ServeIDPInitiated(rec, httptest.NewRequest(http.MethodGet, "/login", nil), e.sp.EntityID, "")
	form, _ := postedForm(t, rec.Body.Bytes())
	a, err := e.v.ValidateResponse(context.Background(), e.sp, e.cfg, form)
	wantKind(t, a, err, CodeAlgorithm)
}
