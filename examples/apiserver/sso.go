package main

import (
	"net/http"
	"net/url"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// loggedIn finishes an SSO login: it issues the dashboard session in a cookie, as a dashboard
// would, and, this server having no dashboard, shows who signed in instead of redirecting.
func loggedIn(sessions *sso.Sessions) sso.LoginFunc {
	return func(w http.ResponseWriter, r *http.Request, l *sso.Login) {
		token, sess, err := sessions.IssueLoginSession(r.Context(), l)
		if err != nil {
			http.Error(w, "could not start a session", http.StatusForbidden)
			return
		}
		http.SetCookie(w, sessions.SessionCookie(token, sess)) // __Host-, Secure, HttpOnly, SameSite=Lax
		w.Header().Set("Cache-Control", "no-store")
		_ = writeJSON(w, http.StatusOK, map[string]any{
			"account_id": l.AccountID, "user_id": l.UserID, "email": l.Email, "idp_id": l.IdPID,
			"user_created": l.UserCreated, "joined": l.Joined, "session_expires_at": timestamp(sess.ExpiresAt),
		})
	}
}

func (s *server) ssoRoutes() {
	s.mux.Handle(s.sso.Pattern(), s.sso)

	s.handle("POST /identity_providers", "identity_providers.create", rbac.SSOManage, s.createIdP)
	s.handle("GET /identity_providers", "identity_providers.list", rbac.SSORead, s.listIdPs)
	s.handle("GET /identity_providers/{id}", "identity_providers.get", rbac.SSORead, s.getIdP)
	s.handle("PATCH /identity_providers/{id}", "identity_providers.update", rbac.SSOManage, s.updateIdP)
	s.handle("DELETE /identity_providers/{id}", "identity_providers.delete", rbac.SSOManage, s.deleteIdP)
	s.handle("PUT /identity_providers/{id}/role_rules", "identity_providers.set_role_rules", rbac.SSOManage, s.setRoleRules)
	s.handle("GET /sso_settings", "sso_settings.get", rbac.SSORead, s.getSSOSettings)
	s.handle("PATCH /sso_settings", "sso_settings.update", rbac.SSOManage, s.updateSSOSettings)
}

// identityProviderJSON is an identity provider (sso.IdentityProviderObject, its event
// object) with its metadata document
// and the service provider side an administrator gives the IdP: the entity ID (metadata
// URL), the ACS URL, and the URL that starts a login.
type identityProviderJSON struct {
	sso.IdentityProviderObject
	URI           string `json:"uri"`
	MetadataXML   string `json:"metadata_xml,omitempty"`
	SPEntityID    string `json:"sp_entity_id,omitempty"`
	SPMetadataURL string `json:"sp_metadata_url,omitempty"`
	ACSURL        string `json:"acs_url,omitempty"`
	RedirectURI   string `json:"redirect_uri,omitempty"` // OIDC: what to register at the provider
	LoginURL      string `json:"login_url"`
}

func (s *server) idpOut(c *call, p store.IdentityProvider) (identityProviderJSON, error) {
	login := s.SSOBaseURL + "/sso/" + url.PathEscape(p.AccountID) + "/" + url.PathEscape(p.ID) + "/login"
	if p.Protocol == sso.ProtocolOIDC {
		return identityProviderJSON{
			IdentityProviderObject: sso.IdentityProviderObjectOf(p), URI: c.base + "/identity_providers/" + p.ID,
			RedirectURI: s.IAM.SSO().OIDCRedirectURL(p.AccountID, p.ID), LoginURL: login,
		}, nil
	}
	sp, err := sso.NewServiceProvider(s.SSOBaseURL, p.AccountID, p.ID)
	if err != nil {
		return identityProviderJSON{}, err
	}
	return identityProviderJSON{
		IdentityProviderObject: sso.IdentityProviderObjectOf(p),
		URI:                    c.base + "/identity_providers/" + p.ID, MetadataXML: p.MetadataXML,
		SPEntityID: sp.EntityID, SPMetadataURL: sp.MetadataURL, ACSURL: sp.ACSURL,
		LoginURL: s.SSOBaseURL + "/sso/" + url.PathEscape(p.AccountID) + "/" + url.PathEscape(p.ID) + "/login",
	}, nil
}

func (s *server) writeIdP(w http.ResponseWriter, c *call, status int, p store.IdentityProvider) error {
	out, err := s.idpOut(c, p)
	if err != nil {
		return err
	}
	return writeJSON(w, status, out)
}

type idpCreate struct {
	// Protocol is "saml" (the default) or "oidc"; Issuer, ClientID, ClientSecret and Scopes
	// are an OIDC provider's, and the *_attribute fields name its claims.
	Protocol          string   `json:"protocol"`
	Issuer            string   `json:"issuer"`
	ClientID          string   `json:"client_id"`
	ClientSecret      string   `json:"client_secret"`
	Scopes            []string `json:"scopes"`
	Description       string   `json:"description"`
	MetadataXML       string   `json:"metadata_xml"`
	AllowIDPInitiated bool     `json:"allow_idp_initiated"`
	DefaultRoles      []string `json:"default_roles"`
	EmailAttribute    string   `json:"email_attribute"`
	NameAttribute     string   `json:"name_attribute"`
	GroupsAttribute   string   `json:"groups_attribute"`
	Domains           []string `json:"domains"`
}

type idpUpdate struct {
	ID                string    `json:"id"`
	Description       *string   `json:"description"`
	MetadataXML       *string   `json:"metadata_xml"`
	AllowIDPInitiated *bool     `json:"allow_idp_initiated"`
	DefaultRoles      *[]string `json:"default_roles"`
	EmailAttribute    *string   `json:"email_attribute"`
	NameAttribute     *string   `json:"name_attribute"`
	GroupsAttribute   *string   `json:"groups_attribute"`
	Domains           *[]string `json:"domains"`
	ClientID          *string   `json:"client_id"`
	ClientSecret      *string   `json:"client_secret"`
	Scopes            *[]string `json:"scopes"`
}

func (s *server) createIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	var in idpCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	switch in.Protocol {
	case sso.ProtocolOIDC:
		return s.createOIDC(w, r, c, in)
	case "", sso.ProtocolSAML:
	default:
		return newError(http.StatusBadRequest, codeInvalidValue, "The value provided for the request parameter protocol is invalid: it is saml or oidc.")
	}
	if err := checkMetadataSize(in.MetadataXML); err != nil {
		return err
	}
	p, err := s.IAM.SSO().CreateIdentityProvider(r.Context(), c.principal, sso.IdPParams{
		Description: in.Description, MetadataXML: in.MetadataXML, AllowIdPInitiated: in.AllowIDPInitiated,
		DefaultRoles: in.DefaultRoles, EmailAttribute: in.EmailAttribute, NameAttribute: in.NameAttribute,
		GroupsAttribute: in.GroupsAttribute, Domains: in.Domains,
	})
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "default_roles", in.DefaultRoles, err)
	}
	return s.writeIdP(w, c, http.StatusCreated, p)
}

// createOIDC creates an OpenID Connect provider (iamkit's, beside ngrok's SAML IdPs).
func (s *server) createOIDC(w http.ResponseWriter, r *http.Request, c *call, in idpCreate) error {
	if in.MetadataXML != "" || in.AllowIDPInitiated {
		return newError(http.StatusBadRequest, codeInvalidValue, "An OIDC identity provider takes no metadata_xml and no IdP-initiated sign-in.")
	}
	p, err := s.IAM.SSO().CreateOIDCProvider(r.Context(), c.principal, sso.OIDCParams{
		Description: in.Description, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: sso.NewSecret(in.ClientSecret),
		Scopes: in.Scopes, EmailClaim: in.EmailAttribute, NameClaim: in.NameAttribute, GroupsClaim: in.GroupsAttribute,
		DefaultRoles: in.DefaultRoles, Domains: in.Domains,
	})
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "default_roles", in.DefaultRoles, err)
	}
	return s.writeIdP(w, c, http.StatusCreated, p)
}

func (s *server) listIdPs(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	idps, err := s.IAM.SSO().IdentityProviders(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	out := make([]identityProviderJSON, 0, len(idps))
	for _, idp := range idps[:min(len(idps), p.Limit)] {
		j, err := s.idpOut(c, idp)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return list(w, r, c, p, idps, func(p store.IdentityProvider) string { return p.ID }, func(page []store.IdentityProvider, next *string) any {
		return map[string]any{"identity_providers": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	p, err := s.IAM.SSO().IdentityProvider(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	return s.writeIdP(w, c, http.StatusOK, p)
}

func (s *server) updateIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	id := pathID(r)
	var in idpUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
	}
	u := sso.IdPUpdate{
		Description: in.Description, MetadataXML: in.MetadataXML, AllowIdPInitiated: in.AllowIDPInitiated,
		DefaultRoles: in.DefaultRoles, EmailAttribute: in.EmailAttribute, NameAttribute: in.NameAttribute,
		GroupsAttribute: in.GroupsAttribute, Domains: in.Domains, ClientID: in.ClientID, Scopes: in.Scopes,
	}
	if in.ClientSecret != nil {
		secret := sso.NewSecret(*in.ClientSecret)
		u.ClientSecret = &secret
	}
	if u == (sso.IdPUpdate{}) {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
	}
	if in.MetadataXML != nil {
		if err := checkMetadataSize(*in.MetadataXML); err != nil {
			return err
		}
	}
	p, err := s.IAM.SSO().UpdateIdentityProvider(r.Context(), c.principal, id, u)
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "default_roles", deref(in.DefaultRoles), err)
	}
	return s.writeIdP(w, c, http.StatusOK, p)
}

// roleRulesIn is the body of PUT /identity_providers/{id}/role_rules: the whole list of
// rules, [] to remove the mapping.
type roleRulesIn struct {
	RoleRules *[]store.RoleRule `json:"role_rules"`
}

func (s *server) setRoleRules(w http.ResponseWriter, r *http.Request, c *call) error {
	var in roleRulesIn
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.RoleRules == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify role_rules ([] removes them).")
	}
	p, err := s.IAM.SSO().SetRoleRules(r.Context(), c.principal, pathID(r), *in.RoleRules)
	if err != nil {
		return err
	}
	return s.writeIdP(w, c, http.StatusOK, p)
}

func (s *server) deleteIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	if err := s.IAM.SSO().DeleteIdentityProvider(r.Context(), c.principal, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type ssoSettingsJSON struct {
	sso.SettingsObject
	URI string `json:"uri"`
}

type ssoSettingsUpdate struct {
	Provisioning *sso.Provisioning `json:"provisioning"`
	Enforcement  *sso.Enforcement  `json:"enforcement"`
}

func settingsOut(c *call, st sso.Settings) ssoSettingsJSON {
	return ssoSettingsJSON{
		SettingsObject: sso.SettingsObjectOf(st),
		URI:            c.base + "/sso_settings",
	}
}

func (s *server) getSSOSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	st, err := s.IAM.SSO().Settings(r.Context(), c.principal)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsOut(c, st))
}

func (s *server) updateSSOSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ssoSettingsUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Provisioning == nil && in.Enforcement == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
	}
	st, err := s.IAM.SSO().UpdateSettings(r.Context(), c.principal, sso.SettingsUpdate{
		Provisioning: in.Provisioning, Enforcement: in.Enforcement,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsOut(c, st))
}

// checkMetadataSize gives ngrok's code for IdP metadata over sso.MaxMetadataSize (10031);
// the library refuses what does not parse (10027).
func checkMetadataSize(xml string) error {
	if len(xml) > sso.MaxMetadataSize {
		return paramError(http.StatusBadRequest, codeIdPMetadataSize, "metadata_xml", "The IdP metadata must be smaller than 16 KB: %d bytes at most, got %d.", sso.MaxMetadataSize, len(xml))
	}
	return nil
}
