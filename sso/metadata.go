package sso

import (
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/iamkit/iamkit/store"
)

// MaxMetadataSize is the largest IdP metadata document ParseIdPMetadata accepts (16 KiB).
const MaxMetadataSize = 16 << 10

// metadataLimits bound the XML of IdP metadata, past MaxMetadataSize: the limits of a
// response (see DefaultMaxXMLTokens), with room to spare for real metadata (the largest
// testdata document, Entra's, has 129 tokens and nests 6 deep).
func metadataLimits() xmlLimits { return responseLimits(MaxMetadataSize, 1024) }

// maxSigningCerts bounds the certificates kept from one metadata document; each one costs a
// signature verification attempt on every response that fails to verify.
const maxSigningCerts = 8

// Binding URIs of the SAML 2.0 bindings this package uses.
const (
	BindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingHTTPPost     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// IdPMetadata is what iamkit takes from an identity provider's SAML metadata. It is a plain
// value: it is safe for concurrent reads, and Clone returns an independent copy. The
// certificates are shared by Clone and must not be modified.
type IdPMetadata struct {
	// EntityID is the IdP's entityID; responses must name it as their Issuer.
	EntityID string
	// SSORedirectURL is the SingleSignOnService location for the HTTP-Redirect binding, or
	// empty if the IdP does not offer it.
	SSORedirectURL string
	// SSOPostURL is the SingleSignOnService location for the HTTP-POST binding, or empty.
	SSOPostURL string
	// Certificates are the IdP's signing certificates (KeyDescriptor use="signing" or with no
	// use), in document order, without duplicates. Only these verify responses. An
	// IdPMetadata built by hand must hold at most eight, each within the key policy (see
	// CodeKeyPolicy): NewAuthnRequest and ValidateResponse refuse it otherwise.
	Certificates []*x509.Certificate
	// WantAuthnRequestsSigned reports the IdP's WantAuthnRequestsSigned flag. iamkit does not
	// sign AuthnRequests, so such an IdP must be configured to accept unsigned requests.
	WantAuthnRequestsSigned bool
}

// Clone returns a copy of m whose slice can be modified without affecting m.
func (m *IdPMetadata) Clone() *IdPMetadata {
	c := *m
	c.Certificates = slices.Clone(m.Certificates)
	return &c
}

// ParseIdPMetadata parses and checks an IdP's SAML 2.0 metadata: an EntityDescriptor, or an
// EntitiesDescriptor holding exactly one EntityDescriptor with an IDPSSODescriptor (the shape
// Keycloak serves). The document must be at most MaxMetadataSize bytes of UTF-8 XML without a
// DTD, and must survive an XML round trip unchanged. The result has an entity ID, at least
// one SingleSignOnService URL for the HTTP-Redirect or HTTP-POST binding (https, or http on
// a loopback host for tests), and one to eight signing certificates that parse and whose
// keys are within the key policy (an RSA key of at least 2048 bits or an ECDSA
// P-256/P-384/P-521 key; code CodeKeyPolicy otherwise).
//
// A signature on the metadata document itself is ignored: metadata is trusted because an
// account administrator uploaded it, not because it is signed. validUntil and cacheDuration
// are not enforced either.
//
// Errors match store.ErrInvalid, with code CodeMetadataInvalid (or CodeKeyPolicy) and a
// Field that names the part of the document that was rejected, such as
// "metadata_xml.KeyDescriptor".
func ParseIdPMetadata(data []byte) (*IdPMetadata, error) {
	if len(data) > MaxMetadataSize {
		return nil, metadataErr("document", "larger than 16 KiB", nil)
	}
	lim := metadataLimits()
	doc, err := parseUntrustedXML(data, lim)
	if err == nil {
		err = checkRoundTrip(data, lim)
	}
	if err != nil {
		return nil, metadataErr("document", "not acceptable XML", err)
	}
	ed, err := findEntityDescriptor(doc.Root())
	if err != nil {
		return nil, err
	}
	md := &IdPMetadata{}
	md.EntityID, _ = attrValue(ed, "entityID")
	if err := checkEntityID(md.EntityID); err != nil {
		return nil, metadataErr("entityID", err.Msg, nil)
	}

	var idps []*etree.Element
	for _, d := range childrenNS(ed, nsMetadata, "IDPSSODescriptor") {
		if slices.Contains(strings.Fields(attrOr(d, "protocolSupportEnumeration")), nsProtocol) {
			idps = append(idps, d)
		}
	}
	if len(idps) != 1 {
		return nil, metadataErr("IDPSSODescriptor", "want exactly one supporting SAML 2.0", nil)
	}
	idp := idps[0]
	md.WantAuthnRequestsSigned = attrOr(idp, "WantAuthnRequestsSigned") == "true" || attrOr(idp, "WantAuthnRequestsSigned") == "1"

	for _, s := range childrenNS(idp, nsMetadata, "SingleSignOnService") {
		binding := attrOr(s, "Binding")
		var dst *string
		switch binding {
		case BindingHTTPRedirect:
			dst = &md.SSORedirectURL
		case BindingHTTPPost:
			dst = &md.SSOPostURL
		default:
			continue // SOAP, Artifact, ...: not used, so not checked
		}
		loc := attrOr(s, "Location")
		if err := checkURL(loc); err != nil {
			return nil, metadataErr("SingleSignOnService", "Location "+err.Msg, nil)
		}
		if *dst == "" {
			*dst = loc
		}
	}
	if md.SSORedirectURL == "" && md.SSOPostURL == "" {
		return nil, metadataErr("SingleSignOnService", "no HTTP-Redirect or HTTP-POST binding", nil)
	}

	for _, kd := range childrenNS(idp, nsMetadata, "KeyDescriptor") {
		if use := attrOr(kd, "use"); use != "" && use != "signing" {
			continue
		}
		ki, n := oneChild(kd, nsDSig, "KeyInfo")
		if n != 1 {
			return nil, metadataErr("KeyDescriptor", "want exactly one ds:KeyInfo", nil)
		}
		var found bool
		for _, xd := range childrenNS(ki, nsDSig, "X509Data") {
			for _, xc := range childrenNS(xd, nsDSig, "X509Certificate") {
				cert, err := parseCertText(xc)
				if err != nil {
					return nil, err
				}
				found = true
				if !slices.ContainsFunc(md.Certificates, cert.Equal) {
					md.Certificates = append(md.Certificates, cert)
				}
			}
		}
		if !found {
			return nil, metadataErr("KeyDescriptor", "signing key has no X509Certificate", nil)
		}
	}
	if len(md.Certificates) == 0 {
		return nil, metadataErr("KeyDescriptor", "no signing certificate", nil)
	}
	if len(md.Certificates) > maxSigningCerts {
		return nil, metadataErr("KeyDescriptor", "more than 8 signing certificates", nil)
	}
	return md, nil
}

func findEntityDescriptor(root *etree.Element) (*etree.Element, error) {
	switch {
	case isEl(root, nsMetadata, "EntityDescriptor"):
		return root, nil
	case isEl(root, nsMetadata, "EntitiesDescriptor"):
		var found []*etree.Element
		for _, ed := range childrenNS(root, nsMetadata, "EntityDescriptor") {
			if len(childrenNS(ed, nsMetadata, "IDPSSODescriptor")) > 0 {
				found = append(found, ed)
			}
		}
		if len(found) != 1 {
			return nil, metadataErr("EntitiesDescriptor", "want exactly one IdP EntityDescriptor", nil)
		}
		return found[0], nil
	default:
		return nil, metadataErr("EntityDescriptor", "root is not a SAML metadata EntityDescriptor", nil)
	}
}

func parseCertText(el *etree.Element) (*x509.Certificate, error) {
	txt, ok := textOf(el)
	if !ok {
		return nil, metadataErr("KeyDescriptor", "X509Certificate is not text", nil)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(txt), ""))
	if err != nil {
		return nil, metadataErr("KeyDescriptor", "X509Certificate is not base64", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, metadataErr("KeyDescriptor", "X509Certificate does not parse", err)
	}
	if err := checkKeyPolicy(cert); err != nil {
		return nil, &store.Error{Kind: store.ErrInvalid, Code: CodeKeyPolicy, Field: metadataField + "KeyDescriptor", Msg: keyPolicyReason, Err: err}
	}
	return cert, nil
}

func checkEntityID(id string) *store.Error {
	switch {
	case id == "":
		return configErr("entity_id", "missing", nil)
	case len(id) > 1024:
		return configErr("entity_id", "longer than 1024 characters", nil)
	case strings.TrimSpace(id) != id || strings.ContainsFunc(id, isCtl):
		return configErr("entity_id", "has surrounding whitespace or control characters", nil)
	}
	return nil
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkURL accepts an absolute https URL, or an http URL whose host is loopback
// (127.0.0.1, ::1 or localhost) for tests. It rejects user info, fragments, whitespace and
// control characters (the CVE-2023-45683 class: javascript: and data: URLs end up in forms).
func checkURL(raw string) *store.Error {
	if raw == "" {
		return configErr("url", "is missing", nil)
	}
	if len(raw) > 2048 {
		return configErr("url", "is longer than 2048 bytes", nil)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return isCtl(r) || r == ' ' || r == '\\' }) {
		return configErr("url", "contains whitespace, backslashes or control characters", nil)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return configErr("url", "does not parse", nil)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return configErr("url", "must be https (http only on a loopback host)", nil)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return configErr("url", "has no host", nil)
	case u.User != nil:
		return configErr("url", "must not carry user info", nil)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return configErr("url", "must not carry a fragment", nil)
	case u.Opaque != "":
		return configErr("url", "is not hierarchical", nil)
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}
