package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

type idpRow struct {
	ID, Description, EntityID string
	Domains                   []string
	IdPInitiated              bool
	DefaultRoles              []string // labels
	Created                   time.Time
}

type ssoSettingsData struct {
	Available bool // the plan has SSO
	IdPs      []idpRow
	Settings  sso.Settings
	CanManage bool
	// SSOSession: the member is signed in to the account through one of its identity
	// providers, which enforcing single sign-on needs.
	SSOSession bool
	SignInURL  string
}

// ssoSettingsPage is Settings > Account > Single sign-on: the identity providers, how
// members join (just in time or by invitation) and whether they may still use a password.
func (s *server) ssoSettingsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderSSOSettings(w, r, c, http.StatusOK, nil, nil)
}

func (s *server) renderSSOSettings(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	ctx := r.Context()
	d := ssoSettingsData{Available: true, CanManage: c.may(rbac.SSOManage), SignInURL: s.BaseURL + "/a/" + c.account.ID + "/sso"}
	settings, err := s.IAM.SSO().Settings(ctx, c.p)
	if errors.Is(err, store.ErrFeatureUnavailable) {
		d.Available = false
		s.render(w, r, c, status, "sso-settings", &view{Title: "Single sign-on", Data: d})
		return nil
	}
	if err != nil {
		return err
	}
	d.Settings = settings
	idps, err := s.IAM.SSO().IdentityProviders(ctx, c.p, store.Page{Limit: sso.MaxIdentityProviders})
	if err != nil {
		return err
	}
	rs, err := s.accountRoles(ctx, c, false)
	if err != nil {
		return err
	}
	for _, p := range idps {
		d.IdPs = append(d.IdPs, idpRow{ID: p.ID, Description: p.Description, EntityID: p.EntityID, Domains: p.Domains,
			IdPInitiated: p.AllowIDPInitiated, DefaultRoles: rs.labels(defaultRoles(p.DefaultRoles)), Created: p.CreatedAt})
	}
	if d.SSOSession, err = s.hasSSOSession(ctx, c); err != nil {
		return err
	}
	if form == nil {
		form = url.Values{"provisioning": {string(settings.Provisioning)}, "enforcement": {string(settings.Enforcement)}}
	}
	s.render(w, r, c, status, "sso-settings", &view{Title: "Single sign-on", Form: form, Errors: errs, Data: d})
	return nil
}

func defaultRoles(roles []string) []string {
	if len(roles) == 0 {
		return rbac.DefaultMemberRoles()
	}
	return roles
}

// hasSSOSession reports whether the member has a live session in the account that began
// with a login through one of its identity providers: this one, or another of theirs.
func (s *server) hasSSOSession(ctx context.Context, c *call) (bool, error) {
	if c.session.Method == sso.MethodSSO {
		return true, nil
	}
	ss, err := s.dash.Sessions(ctx, c.p, c.p.ID, store.Page{Limit: sso.MaxSessionsPerMember})
	if err != nil {
		return false, err
	}
	for _, x := range ss {
		if x.Method == sso.MethodSSO {
			return true, nil
		}
	}
	return false, nil
}

func (s *server) updateSSOSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	f := r.PostForm
	prov, enf := sso.Provisioning(f.Get("provisioning")), sso.Enforcement(f.Get("enforcement"))
	var errs []formError
	if !prov.Valid() {
		errs = append(errs, formError{"provisioning-jit", "Choose how people join the account."})
	}
	if !enf.Valid() {
		errs = append(errs, formError{"enforcement-off", "Choose who must use single sign-on."})
	}
	if len(errs) > 0 {
		return s.renderSSOSettings(w, r, c, http.StatusBadRequest, f, errs)
	}
	current, err := s.IAM.SSO().Settings(ctx, c.p)
	if err != nil {
		return err
	}
	if enf == sso.EnforcementEnforced && current.Enforcement != sso.EnforcementEnforced {
		ok, err := s.hasSSOSession(ctx, c)
		if err != nil {
			return err
		}
		if !ok {
			return s.renderSSOSettings(w, r, c, http.StatusConflict, f, []formError{{"enforcement-enforced",
				"Sign in to this account through one of its identity providers first, then enforce single sign-on. " +
					"You are signed in with a password: enforcing would end that session, and if the identity provider " +
					"does not work yet, nobody could sign in."}})
		}
	}
	if _, err := s.IAM.SSO().UpdateSettings(ctx, c.p, sso.SettingsUpdate{Provisioning: &prov, Enforcement: &enf}); err != nil {
		status, _ := statusOf(err)
		return s.renderSSOSettings(w, r, c, status, f, formErrors(err, map[string]string{"": "enforcement-off", "provisioning": "provisioning-jit", "enforcement": "enforcement-off"}))
	}
	s.sync(ctx)
	s.redirect(w, r, c.base()+"/settings/sso", "Single sign-on settings saved.")
	return nil
}

type idpFormData struct {
	Roles []roleOption
	// IdP and SP: an identity provider's page, with the service provider's side to copy
	// into the IdP; empty on the new IdP's form.
	IdP       *idpRow
	SP        *sso.ServiceProvider
	SignInURL string
	CanManage bool
	// OIDC: an OpenID Connect provider's form or page; RedirectURI is what to register at it.
	OIDC        bool
	RedirectURI string
	// RoleRules are the IdP's group-to-role rules, in order, and RulesBy who set them.
	RoleRules []ruleRow
	RulesBy   string
}

// newIdPPage is "+ New Identity Provider": the IdP's metadata, pasted or uploaded, its
// description, trusted domains, IdP-initiated logins and the roles of members it provisions.
func (s *server) newIdPPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.IAM.Require(r.Context(), c.p, rbac.SSOManage); err != nil {
		return err
	}
	form := url.Values{"default_roles": rbac.DefaultMemberRoles()}
	return s.renderNewIdP(w, r, c, http.StatusOK, form, nil)
}

func (s *server) renderNewIdP(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	rs, err := s.accountRoles(r.Context(), c, false)
	if err != nil {
		return err
	}
	s.render(w, r, c, status, "idp-new", &view{Title: "New identity provider", Form: form, Errors: errs,
		Data: idpFormData{Roles: rs.grantable, CanManage: true}})
	return nil
}

// maxMetadataForm bounds the IdP forms, which carry a metadata document.
const maxMetadataForm = 2*sso.MaxMetadataSize + maxFormBody

// readIdPForm reads the IdP form (multipart, for the metadata file) and returns its values
// with the metadata from the file when one was chosen, else from the text area.
func readIdPForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxMetadataForm)
	if err := r.ParseMultipartForm(maxMetadataForm); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return nil, store.Invalid("metadata_xml", store.CodeTooLong, sso.MaxMetadataSize, "the form is too large: metadata is at most 16 KiB")
	} else if errors.Is(err, http.ErrNotMultipart) {
		if err := r.ParseForm(); err != nil {
			return nil, store.Invalid("form", store.CodeInvalidValue, 0, "the form could not be read")
		}
	}
	f := url.Values{}
	for k, v := range r.PostForm {
		f[k] = v
	}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["metadata_file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			file, err := fhs[0].Open()
			if err != nil {
				return nil, err
			}
			defer file.Close()
			b, err := io.ReadAll(io.LimitReader(file, sso.MaxMetadataSize+1))
			if err != nil {
				return nil, err
			}
			f.Set("metadata_xml", string(b))
		}
	}
	return f, nil
}

// domainsOf splits the trusted domains as typed: by commas, spaces or lines.
func domainsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// idpFields maps the library's fields of an identity provider to the inputs of its form.
func idpFields() map[string]string {
	return map[string]string{
		"description": "description", "metadata_xml": "metadata_xml", "domains": "domains", "default_roles": "default_roles",
		"email_attribute": "description", "name_attribute": "description", "groups_attribute": "description",
	}
}

func (s *server) createIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := readIdPForm(w, r)
	if err != nil {
		return s.renderNewIdP(w, r, c, http.StatusBadRequest, url.Values{}, formErrors(err, idpFields()))
	}
	var errs []formError
	if strings.TrimSpace(f.Get("metadata_xml")) == "" {
		errs = append(errs, formError{"metadata_xml", "Paste your identity provider's SAML metadata XML, or choose its file."})
	}
	if len(domainsOf(f.Get("domains"))) == 0 {
		errs = append(errs, formError{"domains", "Enter at least one email domain this identity provider may sign people in for, such as example.com."})
	}
	if len(f["default_roles"]) == 0 {
		errs = append(errs, formError{"default_roles", "Choose at least one role for the members it adds."})
	}
	if len(errs) > 0 {
		return s.renderNewIdP(w, r, c, http.StatusBadRequest, f, errs)
	}
	p, err := s.IAM.SSO().CreateIdentityProvider(r.Context(), c.p, sso.IdPParams{
		Description: strings.TrimSpace(f.Get("description")), MetadataXML: f.Get("metadata_xml"),
		AllowIdPInitiated: f.Get("allow_idp_initiated") != "", DefaultRoles: f["default_roles"], Domains: domainsOf(f.Get("domains")),
	})
	if err != nil {
		status, _ := statusOf(err)
		return s.renderNewIdP(w, r, c, status, f, formErrors(err, idpFields()))
	}
	s.redirect(w, r, c.base()+"/settings/sso/"+p.ID, "Identity provider added. Give it the service provider details below, then sign in through it to test it.")
	return nil
}

// idpPage shows an identity provider: what to give the IdP (the service provider's entity
// ID, metadata and ACS URLs), and its settings to change.
func (s *server) idpPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderIdP(w, r, c, http.StatusOK, nil, nil)
}

func (s *server) renderIdP(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	ctx := r.Context()
	p, err := s.IAM.SSO().IdentityProvider(ctx, c.p, r.PathValue("idp"))
	if err != nil {
		return err
	}
	oidc := p.Protocol == sso.ProtocolOIDC
	var sp *sso.ServiceProvider
	if !oidc {
		if sp, err = s.IAM.SSO().ServiceProvider(ctx, c.account.ID, p.ID); err != nil {
			return err
		}
	}
	rs, err := s.accountRoles(ctx, c, false)
	if err != nil {
		return err
	}
	row := idpRow{ID: p.ID, Description: p.Description, EntityID: p.EntityID, Domains: p.Domains, IdPInitiated: p.AllowIDPInitiated,
		DefaultRoles: rs.labels(defaultRoles(p.DefaultRoles)), Created: p.CreatedAt}
	if form == nil {
		form = idpForm(p)
	} else if !form.Has("role_rules") {
		rulesForm(form, p)
	}
	title := p.Description
	if title == "" {
		title = p.EntityID
	}
	s.render(w, r, c, status, "idp", &view{Title: title, Form: form, Errors: errs, Data: idpFormData{
		Roles: rs.grantable, IdP: &row, SP: sp, SignInURL: s.BaseURL + "/a/" + c.account.ID + "/sso", CanManage: c.may(rbac.SSOManage),
		OIDC: oidc, RedirectURI: s.IAM.SSO().OIDCRedirectURL(c.account.ID, p.ID),
		RoleRules: ruleRows(p.RoleRules, rs), RulesBy: s.subjects(ctx, c, []string{p.RoleRulesBy})[p.RoleRulesBy]}})
	return nil
}

// idpForm fills the IdP's page's forms from its settings.
func idpForm(p store.IdentityProvider) url.Values {
	form := url.Values{"description": {p.Description}, "domains": {strings.Join(p.Domains, ", ")}, "default_roles": defaultRoles(p.DefaultRoles)}
	if p.AllowIDPInitiated {
		form.Set("allow_idp_initiated", "on")
	}
	rulesForm(form, p)
	return form
}

// newOIDCPage is "+ New OpenID Connect provider": its issuer, the client the account
// registered there and its secret, the trusted domains and the roles of members it adds.
func (s *server) newOIDCPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.IAM.Require(r.Context(), c.p, rbac.SSOManage); err != nil {
		return err
	}
	return s.renderNewOIDC(w, r, c, http.StatusOK, url.Values{"default_roles": rbac.DefaultMemberRoles()}, nil)
}

func (s *server) renderNewOIDC(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	rs, err := s.accountRoles(r.Context(), c, false)
	if err != nil {
		return err
	}
	form.Del("client_secret") // never shown back
	s.render(w, r, c, status, "idp-new-oidc", &view{Title: "New OpenID Connect provider", Form: form, Errors: errs,
		Data: idpFormData{Roles: rs.grantable, CanManage: true, OIDC: true}})
	return nil
}

func (s *server) createOIDC(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	var errs []formError
	for _, req := range []struct{ field, msg string }{
		{"issuer", "Enter the provider's issuer URL, such as https://login.example.com."},
		{"client_id", "Enter the client ID the provider gave this account."},
		{"client_secret", "Enter the client secret the provider gave this account."},
	} {
		if strings.TrimSpace(f.Get(req.field)) == "" {
			errs = append(errs, formError{req.field, req.msg})
		}
	}
	if len(domainsOf(f.Get("domains"))) == 0 {
		errs = append(errs, formError{"domains", "Enter at least one email domain this provider may sign people in for, such as example.com."})
	}
	if len(f["default_roles"]) == 0 {
		errs = append(errs, formError{"default_roles", "Choose at least one role for the members it adds."})
	}
	if len(errs) > 0 {
		return s.renderNewOIDC(w, r, c, http.StatusBadRequest, f, errs)
	}
	p, err := s.IAM.SSO().CreateOIDCProvider(r.Context(), c.p, sso.OIDCParams{
		Description: strings.TrimSpace(f.Get("description")), Issuer: f.Get("issuer"), ClientID: f.Get("client_id"),
		ClientSecret: sso.NewSecret(f.Get("client_secret")), Scopes: []string{"email", "profile", "groups"},
		DefaultRoles: f["default_roles"], Domains: domainsOf(f.Get("domains")),
	})
	if err != nil {
		status, _ := statusOf(err)
		fields := idpFields()
		fields["issuer"], fields["client_id"], fields["client_secret"], fields["scopes"] = "issuer", "client_id", "client_secret", "description"
		return s.renderNewOIDC(w, r, c, status, f, formErrors(err, fields))
	}
	s.redirect(w, r, c.base()+"/settings/sso/"+p.ID, "OpenID Connect provider added. Register the redirect URI below at the provider, then sign in through it to test it.")
	return nil
}

func (s *server) updateIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := readIdPForm(w, r)
	if err != nil {
		return s.renderIdP(w, r, c, http.StatusBadRequest, nil, formErrors(err, idpFields()))
	}
	desc, initiated := strings.TrimSpace(f.Get("description")), f.Get("allow_idp_initiated") != ""
	domains, roles := domainsOf(f.Get("domains")), f["default_roles"]
	u := sso.IdPUpdate{Description: &desc, AllowIdPInitiated: &initiated, Domains: &domains, DefaultRoles: &roles}
	if md := f.Get("metadata_xml"); strings.TrimSpace(md) != "" {
		u.MetadataXML = &md
	}
	var errs []formError
	if len(domains) == 0 {
		errs = append(errs, formError{"domains", "Enter at least one email domain this identity provider may sign people in for."})
	}
	if len(roles) == 0 {
		errs = append(errs, formError{"default_roles", "Choose at least one role for the members it adds."})
	}
	if len(errs) > 0 {
		return s.renderIdP(w, r, c, http.StatusBadRequest, f, errs)
	}
	p, err := s.IAM.SSO().UpdateIdentityProvider(r.Context(), c.p, r.PathValue("idp"), u)
	if err != nil {
		status, _ := statusOf(err)
		return s.renderIdP(w, r, c, status, f, formErrors(err, idpFields()))
	}
	s.redirect(w, r, c.base()+"/settings/sso/"+p.ID, "Identity provider saved.")
	return nil
}

// deleteIdPPage asks to confirm deleting an identity provider.
func (s *server) deleteIdPPage(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.IAM.SSO().IdentityProvider(r.Context(), c.p, r.PathValue("idp"))
	if err != nil {
		return err
	}
	row := idpRow{ID: p.ID, Description: p.Description, EntityID: p.EntityID}
	s.render(w, r, c, http.StatusOK, "idp-delete", &view{Title: "Delete identity provider", Data: row})
	return nil
}

func (s *server) deleteIdP(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.IAM.SSO().DeleteIdentityProvider(r.Context(), c.p, r.PathValue("idp")); err != nil {
		if errors.Is(err, store.ErrConflict) {
			status, _ := statusOf(err)
			return s.renderIdP(w, r, c, status, nil, formErrors(err, nil))
		}
		return err
	}
	s.sync(r.Context())
	s.redirect(w, r, c.base()+"/settings/sso", "Identity provider deleted; the sessions that came through it have ended.")
	return nil
}
