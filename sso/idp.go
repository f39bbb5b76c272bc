package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Limits on identity provider configuration.
const (
	// MaxIdentityProviders is the most identity providers one account may have.
	MaxIdentityProviders = 20
	// MaxDescriptionLen is the longest description, in bytes.
	MaxDescriptionLen = store.MaxDescriptionLen
	// MaxDomains is the most email domains one IdP may be trusted for.
	MaxDomains = 50
	// MaxAttributeNameLen is the longest SAML attribute name in a mapping, in bytes.
	MaxAttributeNameLen = 255
)

// IdPParams describes a new identity provider, as an account administrator configures it.
type IdPParams struct {
	// Description is shown on the IdP chooser (at most MaxDescriptionLen bytes).
	Description string
	// MetadataXML is the IdP's SAML metadata (at most MaxMetadataSize bytes), parsed and
	// checked with ParseIdPMetadata. Its entity ID must be unique within the account.
	MetadataXML string
	// AllowIdPInitiated accepts logins started at the IdP's dashboard. Off by default:
	// IdP-initiated logins cannot be protected against login CSRF.
	AllowIdPInitiated bool
	// DefaultRoles are the roles of members this IdP provisions just in time (empty: the
	// account's defaults, rbac.DefaultMemberRoles).
	DefaultRoles []string
	// EmailAttribute, NameAttribute and GroupsAttribute name the SAML attributes that carry
	// the user's email, display name and groups; empty uses the common names of Okta,
	// Microsoft Entra ID, Google, OneLogin and Keycloak (DefaultAttributeMapping). With no
	// email attribute the NameID must be the email address.
	EmailAttribute, NameAttribute, GroupsAttribute string
	// Domains are the email domains this IdP is trusted to assert (at least one, at most
	// MaxDomains, exact names such as "example.com"; subdomains are not implied), each one
	// the account has verified (ClaimDomain, VerifyDomain; CodeDomainNotVerified
	// otherwise). A login whose email is outside them is refused: it could otherwise claim
	// another person's user.
	Domains []string
}

// IdPUpdate changes an identity provider: nil fields are left alone.
type IdPUpdate struct {
	Description       *string
	MetadataXML       *string
	AllowIdPInitiated *bool
	DefaultRoles      *[]string
	EmailAttribute    *string
	NameAttribute     *string
	GroupsAttribute   *string
	Domains           *[]string
	// ClientID, ClientSecret and Scopes change an OIDC provider's client (rotating its
	// secret, say); they are invalid for a SAML IdP.
	ClientID     *string
	ClientSecret *Secret
	Scopes       *[]string
}

// CreateIdentityProvider adds an identity provider to by's account; by needs rbac.SSOManage
// and the plan identity.FeatureSSO. The metadata is parsed and checked (https endpoints,
// acceptable certificates), default roles are checked as the account's role rules require,
// and an identity_provider_created event is recorded in the same transaction. Invalid
// parameters give an error matching store.ErrInvalid naming the field; invalid metadata has
// code CodeMetadataInvalid (or CodeKeyPolicy), with a Field such as
// "metadata_xml.KeyDescriptor".
func (s *Service) CreateIdentityProvider(ctx context.Context, by identity.Principal, p IdPParams) (store.IdentityProvider, error) {
	if err := by.Validate(); err != nil {
		return store.IdentityProvider{}, err
	}
	accountID := by.AccountID
	rec := store.IdentityProvider{
		AccountID: accountID, Protocol: ProtocolSAML, AllowIDPInitiated: p.AllowIdPInitiated,
		EmailAttribute: p.EmailAttribute, NameAttribute: p.NameAttribute, GroupsAttribute: p.GroupsAttribute,
	}
	var err error
	if rec.Description, err = checkDescription(p.Description); err != nil {
		return store.IdentityProvider{}, err
	}
	if rec.EntityID, err = checkMetadata(p.MetadataXML); err != nil {
		return store.IdentityProvider{}, err
	}
	rec.MetadataXML = p.MetadataXML
	if err := checkAttributes(rec); err != nil {
		return store.IdentityProvider{}, err
	}
	if rec.Domains, err = normalizeDomains(p.Domains); err != nil {
		return store.IdentityProvider{}, err
	}
	return s.insertIdP(ctx, by, rec, p.DefaultRoles)
}

// insertIdP writes a new identity provider of by's account, SAML or OIDC, with its checks in
// the transaction (permission, count, default roles, verified domains) and its event.
func (s *Service) insertIdP(ctx context.Context, by identity.Principal, rec store.IdentityProvider, roles []string) (store.IdentityProvider, error) {
	accountID := by.AccountID
	var err error
	if rec.ID, err = s.ids.NewIn(id.IdentityProvider, accountID); err != nil {
		return store.IdentityProvider{}, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.SSOManage)
		if err != nil {
			return err
		}
		n, err := countIdPs(ctx, tx, accountID, MaxIdentityProviders)
		if err != nil {
			return err
		}
		if n >= MaxIdentityProviders {
			return store.Invalid("identity_providers", store.CodeOutOfRange, MaxIdentityProviders, "an account may have at most %d", MaxIdentityProviders)
		}
		if rec.DefaultRoles, err = s.defaultRoles(ctx, tx, acct, roles); err != nil {
			return err
		}
		if err := checkVerified(ctx, tx, accountID, rec.Domains); err != nil {
			return err
		}
		rec.CreatedAt = s.now()
		if err := putIdP(ctx, tx, rec); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, accountID, identity.EventIdentityProviderCreated, by.Audit(), IdentityProviderObjectOf(rec))
	})
	if err != nil {
		return store.IdentityProvider{}, err
	}
	return rec.Clone(), nil
}

// IdentityProvider returns an identity provider of by's account; by needs rbac.SSORead and
// the plan identity.FeatureSSO.
func (s *Service) IdentityProvider(ctx context.Context, by identity.Principal, idpID string) (store.IdentityProvider, error) {
	if err := id.CheckArg("idp_id", idpID, id.IdentityProvider); err != nil {
		return store.IdentityProvider{}, err
	}
	return readSSO(ctx, s, by, func(r store.Reader) (store.IdentityProvider, error) {
		return idpIn(ctx, r, by.AccountID, idpID)
	})
}

// IdentityProviders returns a page of the identity providers of by's account, newest first:
// at most p.Limit of them created before p.BeforeID (from the newest when empty). The next
// page's BeforeID is the last ID returned, when the page is full. by needs rbac.SSORead and
// the plan identity.FeatureSSO.
func (s *Service) IdentityProviders(ctx context.Context, by identity.Principal, p store.Page) ([]store.IdentityProvider, error) {
	if err := id.CheckPage(p, id.IdentityProvider); err != nil {
		return nil, err
	}
	return readSSO(ctx, s, by, func(r store.Reader) ([]store.IdentityProvider, error) {
		return r.IdentityProviders(ctx, by.AccountID, p)
	})
}

// UpdateIdentityProvider changes an identity provider; by needs rbac.SSOManage and the plan
// identity.FeatureSSO. New metadata is parsed and checked as on creation. A change records
// an identity_provider_updated event; an update that changes nothing records none.
func (s *Service) UpdateIdentityProvider(ctx context.Context, by identity.Principal, idpID string, u IdPUpdate) (store.IdentityProvider, error) {
	if err := by.Validate(); err != nil {
		return store.IdentityProvider{}, err
	}
	if err := id.CheckArg("idp_id", idpID, id.IdentityProvider); err != nil {
		return store.IdentityProvider{}, err
	}
	accountID := by.AccountID
	var (
		desc, entityID string
		domains        []string
		err            error
	)
	if u.Description != nil {
		if desc, err = checkDescription(*u.Description); err != nil {
			return store.IdentityProvider{}, err
		}
	}
	if u.MetadataXML != nil {
		if entityID, err = checkMetadata(*u.MetadataXML); err != nil {
			return store.IdentityProvider{}, err
		}
	}
	if u.Domains != nil {
		if domains, err = normalizeDomains(*u.Domains); err != nil {
			return store.IdentityProvider{}, err
		}
	}
	var rec store.IdentityProvider
	err = s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.SSOManage)
		if err != nil {
			return err
		}
		if rec, err = idpIn(ctx, tx, accountID, idpID); err != nil {
			return err
		}
		before := rec.Clone()
		if u.Description != nil {
			rec.Description = desc
		}
		if u.MetadataXML != nil {
			if isOIDC(rec) {
				return store.Invalid("metadata_xml", store.CodeInvalidValue, 0, "an OIDC identity provider has no SAML metadata")
			}
			rec.MetadataXML, rec.EntityID = *u.MetadataXML, entityID
		}
		if u.AllowIdPInitiated != nil {
			rec.AllowIDPInitiated = *u.AllowIdPInitiated
		}
		if u.DefaultRoles != nil {
			if rec.DefaultRoles, err = s.defaultRoles(ctx, tx, acct, *u.DefaultRoles); err != nil {
				return err
			}
		}
		if u.EmailAttribute != nil {
			rec.EmailAttribute = *u.EmailAttribute
		}
		if u.NameAttribute != nil {
			rec.NameAttribute = *u.NameAttribute
		}
		if u.GroupsAttribute != nil {
			rec.GroupsAttribute = *u.GroupsAttribute
		}
		if err := checkAttributes(rec); err != nil {
			return err
		}
		if u.Domains != nil {
			if err := checkVerified(ctx, tx, accountID, domains); err != nil {
				return err
			}
			rec.Domains = domains
		}
		if err := updateClient(&rec, u); err != nil {
			return err
		}
		if idpEqual(before, rec) {
			return nil
		}
		if err := putIdP(ctx, tx, rec); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, accountID, identity.EventIdentityProviderUpdated, by.Audit(), IdentityProviderObjectOf(rec))
	})
	if err != nil {
		return store.IdentityProvider{}, err
	}
	return rec.Clone(), nil
}

// DeleteIdentityProvider deletes an identity provider of by's account; by needs
// rbac.SSOManage and the plan identity.FeatureSSO. While the account's enforcement is
// "enforced", its last identity provider cannot be deleted (a conflict, code
// CodeLastIdentityProvider). Sessions that came from the deleted IdP end with its commit:
// they stop verifying, and the first idpSessionBatch of its server-side sessions are deleted
// in the same transaction (the rest when presented, or when their members sign in again). It
// records an identity_provider_deleted event.
func (s *Service) DeleteIdentityProvider(ctx context.Context, by identity.Principal, idpID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	if err := id.CheckArg("idp_id", idpID, id.IdentityProvider); err != nil {
		return err
	}
	accountID := by.AccountID
	return s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.SSOManage)
		if err != nil {
			return err
		}
		rec, err := idpIn(ctx, tx, accountID, idpID)
		if err != nil {
			return err
		}
		if settingsOf(acct.SSO).Enforcement == EnforcementEnforced {
			n, err := countIdPs(ctx, tx, accountID, 2)
			if err != nil {
				return err
			}
			if n < 2 {
				return store.NewError(store.ErrConflict, CodeLastIdentityProvider, "cannot delete the last identity provider while SSO is enforced")
			}
		}
		if err := tx.DeleteIdentityProvider(ctx, idpID); err != nil {
			return err
		}
		if err := deleteIdPSessions(ctx, tx, accountID, idpID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, accountID, identity.EventIdentityProviderDeleted, by.Audit(), IdentityProviderObjectOf(rec))
	})
}

// idpSessionBatch bounds the sessions DeleteIdentityProvider deletes in its transaction.
const idpSessionBatch = 100

// deleteIdPSessions deletes up to idpSessionBatch server-side sessions that came through
// idpID: a bounded write, whatever the number of its sessions.
func deleteIdPSessions(ctx context.Context, tx store.Tx, accountID, idpID string) error {
	ss, err := tx.SessionsByIdP(ctx, accountID, idpID, store.Page{Limit: idpSessionBatch})
	if err != nil {
		return err
	}
	for _, x := range ss {
		if err := tx.DeleteSession(ctx, x.ID); err != nil {
			return err
		}
	}
	return nil
}

// defaultRoles checks the roles JIT provisioning will grant, as rbac checks a member's roles
// (built-in names or custom role IDs of the account, per the plan). Empty stays empty: the
// account's default member roles apply at provisioning time.
func (s *Service) defaultRoles(ctx context.Context, r store.Reader, acct store.Account, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	out, err := s.authz.MemberRoles(ctx, r, acct, roles)
	if err != nil {
		return nil, fmt.Errorf("sso: default_roles: %w", err)
	}
	return out, nil
}

func putIdP(ctx context.Context, tx store.Tx, rec store.IdentityProvider) error {
	err := tx.PutIdentityProvider(ctx, rec)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("sso: metadata_xml: another identity provider of the account has this entity ID: %w", err)
	}
	return err
}

// SSOURL returns where an identity provider's logins are sent: the SingleSignOnService
// location its metadata gives for the HTTP-Redirect binding, or else for HTTP-POST (the
// order the Handler tries them in). It is "" if the stored metadata no longer parses.
func SSOURL(p store.IdentityProvider) string {
	if isOIDC(p) {
		return p.EntityID // the issuer
	}
	md, err := ParseIdPMetadata([]byte(p.MetadataXML))
	switch {
	case err != nil:
		return ""
	case md.SSORedirectURL != "":
		return md.SSORedirectURL
	}
	return md.SSOPostURL
}

// IdentityProviderObject is an identity provider as audit events record it and an API serves
// it: its metadata document is represented by its entity ID and the SSO URL logins are sent
// to. For an OIDC provider, entity ID and SSO URL are the issuer, and its client ID and
// scopes are given; its client secret never is.
type IdentityProviderObject struct {
	ID                string   `json:"id"`
	Protocol          string   `json:"protocol"`
	Description       string   `json:"description,omitempty"`
	EntityID          string   `json:"entity_id"`
	SSOURL            string   `json:"sso_url"`
	AllowIDPInitiated bool     `json:"allow_idp_initiated"`
	DefaultRoles      []string `json:"default_roles"`
	EmailAttribute    string   `json:"email_attribute,omitempty"`
	NameAttribute     string   `json:"name_attribute,omitempty"`
	GroupsAttribute   string   `json:"groups_attribute,omitempty"`
	Domains           []string `json:"domains"`
	// RoleRules map the IdP's groups to roles (SetRoleRules); RoleRulesBy set them.
	RoleRules   []store.RoleRule `json:"role_rules"`
	RoleRulesBy string           `json:"role_rules_by,omitempty"`
	ClientID    string           `json:"client_id,omitempty"`
	Scopes      []string         `json:"scopes,omitempty"`
	CreatedAt   string           `json:"created_at"`
}

// Resource returns identity.ResourceIdentityProvider.
func (IdentityProviderObject) Resource() identity.Resource { return identity.ResourceIdentityProvider }

// IdentityProviderObjectOf returns the object of an identity provider, without its metadata
// document (its SSO URL is read from it, SSOURL).
func IdentityProviderObjectOf(p store.IdentityProvider) IdentityProviderObject {
	proto := ProtocolSAML
	if isOIDC(p) {
		proto = ProtocolOIDC
	}
	return IdentityProviderObject{
		ID: p.ID, Protocol: proto, ClientID: p.ClientID, Scopes: slices.Clone(p.Scopes), Description: p.Description, EntityID: p.EntityID, SSOURL: SSOURL(p),
		AllowIDPInitiated: p.AllowIDPInitiated, DefaultRoles: list(p.DefaultRoles),
		EmailAttribute: p.EmailAttribute, NameAttribute: p.NameAttribute, GroupsAttribute: p.GroupsAttribute,
		Domains: list(p.Domains), RoleRules: rulesList(p.RoleRules), RoleRulesBy: p.RoleRulesBy,
		CreatedAt: identity.Timestamp(p.CreatedAt),
	}
}

// rulesList returns a copy of rules that marshals as [] rather than null when empty.
func rulesList(rules []store.RoleRule) []store.RoleRule {
	out := make([]store.RoleRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, store.RoleRule{Group: r.Group, Roles: list(r.Roles)})
	}
	return out
}

// list returns a copy of s that marshals as [] rather than null when empty.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func idpIn(ctx context.Context, r store.Reader, accountID, idpID string) (store.IdentityProvider, error) {
	p, err := r.IdentityProvider(ctx, idpID)
	if err == nil && p.AccountID != accountID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.IdentityProvider{}, fmt.Errorf("sso: identity provider %s: %w", idpID, err)
	}
	return p, nil
}

// updateClient applies an update's OIDC client fields to an OIDC provider.
func updateClient(rec *store.IdentityProvider, u IdPUpdate) error {
	if u.ClientID == nil && u.ClientSecret == nil && u.Scopes == nil {
		return nil
	}
	if !isOIDC(*rec) {
		return store.Invalid("client_id", store.CodeInvalidValue, 0, "a SAML identity provider has no OIDC client")
	}
	if u.ClientID != nil {
		rec.ClientID = strings.TrimSpace(*u.ClientID)
	}
	if u.ClientSecret != nil {
		rec.ClientSecret = u.ClientSecret.Reveal()
	}
	if err := checkClient(rec.ClientID, rec.ClientSecret); err != nil {
		return err
	}
	if u.Scopes != nil {
		scopes, err := checkScopes(*u.Scopes)
		if err != nil {
			return err
		}
		rec.Scopes = scopes
	}
	return nil
}

func idpEqual(a, b store.IdentityProvider) bool {
	return a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret && slices.Equal(a.Scopes, b.Scopes) &&
		a.Description == b.Description && a.MetadataXML == b.MetadataXML && a.EntityID == b.EntityID &&
		a.AllowIDPInitiated == b.AllowIDPInitiated && slices.Equal(a.DefaultRoles, b.DefaultRoles) &&
		a.EmailAttribute == b.EmailAttribute && a.NameAttribute == b.NameAttribute &&
		a.GroupsAttribute == b.GroupsAttribute && slices.Equal(a.Domains, b.Domains)
}

func checkIdPIDs(accountID, idpID string) error {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return err
	}
	return id.CheckArg("idp_id", idpID, id.IdentityProvider)
}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if len(d) > MaxDescriptionLen {
		return "", store.Invalid("description", store.CodeTooLong, MaxDescriptionLen, "%d bytes at most, got %d", MaxDescriptionLen, len(d))
	}
	if strings.ContainsFunc(d, isControl) {
		return "", store.Invalid("description", store.CodeInvalidValue, 0, "must not contain control characters")
	}
	return d, nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// checkMetadata parses metadata XML and returns its entity ID. Errors match store.ErrInvalid
// with a Field "metadata_xml" (required, too long) or in it (ParseIdPMetadata's:
// CodeMetadataInvalid, CodeKeyPolicy).
func checkMetadata(x string) (string, error) {
	if x == "" {
		return "", store.Invalid("metadata_xml", store.CodeRequired, 0, "required")
	}
	if len(x) > MaxMetadataSize {
		return "", store.Invalid("metadata_xml", store.CodeTooLong, MaxMetadataSize, "%d bytes at most, got %d", MaxMetadataSize, len(x))
	}
	md, err := ParseIdPMetadata([]byte(x))
	if err != nil {
		return "", err
	}
	return md.EntityID, nil
}

func checkAttributes(p store.IdentityProvider) error {
	for _, f := range [...]struct{ field, v string }{
		{"email_attribute", p.EmailAttribute}, {"name_attribute", p.NameAttribute}, {"groups_attribute", p.GroupsAttribute},
	} {
		if len(f.v) > MaxAttributeNameLen {
			return store.Invalid(f.field, store.CodeTooLong, MaxAttributeNameLen, "%d bytes at most, got %d", MaxAttributeNameLen, len(f.v))
		}
		if strings.ContainsFunc(f.v, isControl) || strings.TrimSpace(f.v) != f.v {
			return store.Invalid(f.field, store.CodeInvalidValue, 0, "must not contain control characters or surrounding space")
		}
	}
	return nil
}

// normalizeDomains checks, lower-cases (identity.NormalizeDomain: ASCII only, IDNs in
// punycode, never folded), deduplicates and sorts email domains. Each must have two labels
// or more.
func normalizeDomains(ds []string) ([]string, error) {
	if len(ds) == 0 {
		return nil, store.Invalid("domains", store.CodeInvalidValue, 0, "at least one email domain the IdP is trusted for is required")
	}
	if len(ds) > MaxDomains {
		return nil, store.Invalid("domains", store.CodeTooLong, MaxDomains, "%d domains at most, got %d", MaxDomains, len(ds))
	}
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		d, err := identity.NormalizeDomain(strings.TrimSpace(d))
		if err != nil || !strings.Contains(d, ".") {
			return nil, store.Invalid("domains", store.CodeInvalidValue, 0, "each must be an ASCII domain name such as example.com, IDNs in punycode (at most 253 bytes, no wildcard)")
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// trustedFor reports whether email's domain is one of domains. Both are canonical
// (identity.NormalizeEmail, identity.NormalizeDomain), so bytes compare.
func trustedFor(domains []string, email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	return slices.Contains(domains, email[at+1:])
}

// config turns a stored IdP into what the Validator needs.
func validatorIdP(p store.IdentityProvider) (*IdentityProvider, error) {
	md, err := ParseIdPMetadata([]byte(p.MetadataXML))
	if err != nil {
		return nil, fmt.Errorf("sso: stored metadata of identity provider %s: %w", p.ID, err)
	}
	var m AttributeMapping
	if p.EmailAttribute != "" {
		m.Email = []string{p.EmailAttribute}
	}
	if p.NameAttribute != "" {
		m.DisplayName = []string{p.NameAttribute}
	}
	if p.GroupsAttribute != "" {
		m.Groups = []string{p.GroupsAttribute}
	}
	return &IdentityProvider{ID: p.ID, Metadata: md, AllowIdPInitiated: p.AllowIDPInitiated, Attributes: m}, nil
}
