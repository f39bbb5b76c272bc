package sso

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"io"
	"net/url"
	"time"

	"github.com/beevik/etree"

	"github.com/iamkit/iamkit/store"
)

// MaxRelayStateSize is the longest RelayState the SAML bindings allow (80 bytes). For
// SP-initiated logins, send an opaque random key and keep the return path server-side.
const MaxRelayStateSize = 80

// requestIDBytes of randomness make a request ID (160 bits).
const requestIDBytes = 20

// AuthnRequest is one SP-initiated login request to one IdP. Its ID must be recorded with
// Validator.TrackRequest before the user is sent to the IdP: the response is accepted only
// if its InResponseTo names a tracked, unused request of the same IdP.
//
// An AuthnRequest is immutable after NewAuthnRequest and safe for concurrent use.
type AuthnRequest struct {
	// ID is the fresh random request ID ("_" and 40 hex digits).
	ID string
	// IssueInstant is the clock's time when the request was made, in UTC.
	IssueInstant time.Time
	// IdPID is the iamkit ID of the IdP the request is for.
	IdPID string

	sp          ServiceProvider
	redirectURL string
	postURL     string
}

// NewAuthnRequest makes a request to the IdP described by idp, with an ID made of 160 bits
// read from random (pass crypto/rand.Reader) and an IssueInstant from clock. An idp whose
// certificates ValidateResponse would refuse (more than eight, or a key outside the key
// policy) is refused now, with store.ErrInvalid (code CodeKeyPolicy for a key,
// CodeConfigInvalid otherwise). A nil random, clock or idp is store.ErrInvalid naming it.
func (sp *ServiceProvider) NewAuthnRequest(random io.Reader, clock store.Clock, idp *IdPMetadata) (*AuthnRequest, error) {
	switch {
	case random == nil:
		return nil, required("random")
	case clock == nil:
		return nil, required("clock")
	case idp == nil:
		return nil, required("idp")
	}
	if idp.SSORedirectURL == "" && idp.SSOPostURL == "" {
		return nil, configErr("idp", "metadata has no SSO URL", nil)
	}
	if err := checkCertificates(idp.Certificates); err != nil {
		return nil, err // refuse now rather than when the response comes back
	}
	var buf [requestIDBytes]byte
	if _, err := io.ReadFull(random, buf[:]); err != nil {
		return nil, err
	}
	return &AuthnRequest{
		ID:           "_" + hex.EncodeToString(buf[:]),
		IssueInstant: clock.Now().UTC(),
		IdPID:        sp.IdPID,
		sp:           *sp,
		redirectURL:  idp.SSORedirectURL,
		postURL:      idp.SSOPostURL,
	}, nil
}

// XML returns the AuthnRequest document addressed (Destination) to the IdP's SSO URL for
// binding, BindingHTTPRedirect or BindingHTTPPost. It asks for the response by HTTP-POST at
// the ACS URL, and for a NameID in the ServiceProvider's NameIDFormat.
func (r *AuthnRequest) XML(binding string) ([]byte, error) {
	dest, err := r.destination(binding)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	req := doc.CreateElement("samlp:AuthnRequest")
	req.CreateAttr("xmlns:samlp", nsProtocol)
	req.CreateAttr("xmlns:saml", nsAssertion)
	req.CreateAttr("ID", r.ID)
	req.CreateAttr("Version", "2.0")
	req.CreateAttr("IssueInstant", r.IssueInstant.Format(samlTimeFormat))
	req.CreateAttr("Destination", dest)
	req.CreateAttr("AssertionConsumerServiceURL", r.sp.ACSURL)
	req.CreateAttr("ProtocolBinding", BindingHTTPPost)
	req.CreateElement("saml:Issuer").SetText(r.sp.EntityID)
	p := req.CreateElement("samlp:NameIDPolicy")
	p.CreateAttr("Format", r.sp.nameIDFormat())
	p.CreateAttr("AllowCreate", "true")
	return doc.WriteToBytes()
}

const samlTimeFormat = "2006-01-02T15:04:05.000Z"

func (r *AuthnRequest) destination(binding string) (string, error) {
	var dest string
	switch binding {
	case BindingHTTPRedirect:
		dest = r.redirectURL
	case BindingHTTPPost:
		dest = r.postURL
	}
	if dest == "" {
		return "", store.NewError(store.ErrInvalid, CodeBindingUnsupported, "the IdP does not support this binding")
	}
	return dest, nil
}

func checkRelayState(rs string) error {
	if len(rs) > MaxRelayStateSize {
		return configErr("relay_state", "longer than 80 bytes", nil)
	}
	return nil
}

// RedirectURL returns the URL to send the browser to for the HTTP-Redirect binding: the
// IdP's SSO URL with SAMLRequest (DEFLATE, then base64, then URL-encoded) and, if not empty,
// RelayState (at most MaxRelayStateSize bytes) appended to any query it already has. The
// request is not signed. It fails with an error with code CodeBindingUnsupported if the IdP has no
// HTTP-Redirect SSO URL.
func (r *AuthnRequest) RedirectURL(relayState string) (string, error) {
	if err := checkRelayState(relayState); err != nil {
		return "", err
	}
	x, err := r.XML(BindingHTTPRedirect)
	if err != nil {
		return "", err
	}
	var z bytes.Buffer
	fw, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := fw.Write(x); err != nil {
		return "", err
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(z.Bytes())}}
	if relayState != "" {
		q.Set("RelayState", relayState)
	}
	u, err := url.Parse(r.redirectURL)
	if err != nil {
		return "", err
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + q.Encode()
	} else {
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// PostForm returns the form for the HTTP-POST binding: the action URL (the IdP's HTTP-POST
// SSO URL) and the fields SAMLRequest (base64, not deflated) and, if not empty, RelayState.
// Use it with your own page template, or use PostFormHTML. It fails with
// an error with code CodeBindingUnsupported if the IdP has no HTTP-POST SSO URL.
func (r *AuthnRequest) PostForm(relayState string) (action string, fields url.Values, err error) {
	if err := checkRelayState(relayState); err != nil {
		return "", nil, err
	}
	x, err := r.XML(BindingHTTPPost)
	if err != nil {
		return "", nil, err
	}
	fields = url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}}
	if relayState != "" {
		fields.Set("RelayState", relayState)
	}
	return r.postURL, fields, nil
}

var postFormTemplate = template.Must(template.New("post").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Signing in</title></head>
<body>
<form id="saml-post" method="post" action="{{.Action}}">
<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">
{{- if .RelayState}}
<input type="hidden" name="RelayState" value="{{.RelayState}}">
{{- end}}
<noscript><p>JavaScript is off. Press Continue to sign in.</p><button type="submit">Continue</button></noscript>
</form>
<script{{if .Nonce}} nonce="{{.Nonce}}"{{end}}>document.getElementById("saml-post").submit();</script>
</body></html>
`))

// PostFormHTML returns a complete HTML page that posts the PostForm to the IdP as soon as it
// loads (with a Continue button when JavaScript is off). scriptNonce, if not empty, is put
// on the inline script for a Content-Security-Policy script-src 'nonce-...'. All values are
// HTML-escaped.
func (r *AuthnRequest) PostFormHTML(relayState, scriptNonce string) ([]byte, error) {
	action, fields, err := r.PostForm(relayState)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = postFormTemplate.Execute(&b, struct {
		Action                         string
		SAMLRequest, RelayState, Nonce string
	}{action, fields.Get("SAMLRequest"), fields.Get("RelayState"), scriptNonce})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
