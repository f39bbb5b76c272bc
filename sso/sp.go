package sso

import (
	"net/url"
	"strings"

	"github.com/beevik/etree"
)

// NameID formats.
const (
	NameIDFormatEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDFormatPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDFormatEntity      = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// ServiceProvider is iamkit's SAML service provider as one IdP of one account sees it. Every
// (account, IdP) pair gets its own entity ID and ACS URL, derived from the embedder's base
// URL:
//
//	entity ID and metadata URL:  <base>/sso/<account_id>/<idp_id>/metadata
//	assertion consumer service:  <base>/sso/<account_id>/<idp_id>/acs
//
// so that an unsolicited response is routed to its IdP by the URL it was posted to, never by
// its unverified Issuer, and so that an assertion meant for one account's SP can never be
// used at another's (audience and recipient differ). The embedder serves SPMetadataXML at
// MetadataURL and hands the form posted to ACSURL to Validator.ValidateResponse.
//
// A ServiceProvider is a plain value, safe for concurrent reads; copying it copies it fully.
type ServiceProvider struct {
	AccountID   string
	IdPID       string
	EntityID    string // equal to MetadataURL
	MetadataURL string
	ACSURL      string
	// NameIDFormat is requested in AuthnRequests and listed in SPMetadataXML. It defaults
	// to NameIDFormatEmail: iamkit needs an email address, from the NameID or a mapped
	// attribute. Set it to NameIDFormatUnspecified or NameIDFormatPersistent for an IdP whose
	// NameID is not an email but which sends an email attribute.
	NameIDFormat string
}

// NewServiceProvider derives the ServiceProvider for one IdP of one account. baseURL is
// the absolute URL under which the embedder mounts iamkit's SSO endpoints, without a query
// or fragment; it must be https, or http on a loopback host for tests. A path prefix is
// allowed and a trailing slash is ignored. accountID and idpID must be 1 to 64 characters
// from [A-Za-z0-9_-], as iamkit's IDs are.
func NewServiceProvider(baseURL, accountID, idpID string) (*ServiceProvider, error) {
	if err := checkURL(baseURL); err != nil {
		return nil, configErr("base_url", err.Msg, nil)
	}
	u, _ := url.Parse(baseURL) // checked above
	if u.RawQuery != "" || u.ForceQuery {
		return nil, configErr("base_url", "must not carry a query", nil)
	}
	if !pathSafeID(accountID) {
		return nil, configErr("account_id", "must be 1-64 characters of [A-Za-z0-9_-]", nil)
	}
	if !pathSafeID(idpID) {
		return nil, configErr("idp_id", "must be 1-64 characters of [A-Za-z0-9_-]", nil)
	}
	prefix := strings.TrimRight(baseURL, "/") + "/sso/" + accountID + "/" + idpID
	return &ServiceProvider{
		AccountID:    accountID,
		IdPID:        idpID,
		EntityID:     prefix + "/metadata",
		MetadataURL:  prefix + "/metadata",
		ACSURL:       prefix + "/acs",
		NameIDFormat: NameIDFormatEmail,
	}, nil
}

func pathSafeID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (sp *ServiceProvider) nameIDFormat() string {
	if sp.NameIDFormat == "" {
		return NameIDFormatEmail
	}
	return sp.NameIDFormat
}

// SPMetadataXML returns the SAML metadata an account administrator pastes into (or points)
// the IdP at: an EntityDescriptor with the entity ID, one HTTP-POST AssertionConsumerService
// at ACSURL, the NameID format, WantAssertionsSigned="true" and AuthnRequestsSigned="false".
// It lists no KeyDescriptor: iamkit neither signs requests nor accepts encrypted assertions,
// so an IdP has no reason to encrypt to it.
func (sp *ServiceProvider) SPMetadataXML() []byte {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("entityID", sp.EntityID)
	d := ed.CreateElement("md:SPSSODescriptor")
	d.CreateAttr("AuthnRequestsSigned", "false")
	d.CreateAttr("WantAssertionsSigned", "true")
	d.CreateAttr("protocolSupportEnumeration", nsProtocol)
	d.CreateElement("md:NameIDFormat").SetText(sp.nameIDFormat())
	acs := d.CreateElement("md:AssertionConsumerService")
	acs.CreateAttr("Binding", BindingHTTPPost)
	acs.CreateAttr("Location", sp.ACSURL)
	acs.CreateAttr("index", "0")
	acs.CreateAttr("isDefault", "true")
	doc.Indent(2)
	b, _ := doc.WriteToBytes() // writing to memory does not fail
	return b
}
