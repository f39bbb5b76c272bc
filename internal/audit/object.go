package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iamkit/iamkit/store"
)

// This file is the one definition of what an event's object looks like: for each resource,
// the fields (and JSON names) iamkit's API server shows for it, less its "uri", which only
// the server knows. The API server renders its resources from the same types, adding "uri"
// and whatever it computes when serving (seat usage, SAML endpoints), so an event's object
// and a GET of the resource cannot drift apart. Internal fields never appear: no account_id
// (the event has it), no secret hash or fingerprint, no raw IdP metadata.

// Object is an event object. Only this package's object types implement it.
type Object interface {
	resource() Resource
}

// Timestamp formats t as the API writes times (as ngrok's does): RFC 3339, UTC, whole
// seconds.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// timestampOrEmpty is Timestamp, or "" (omitted) for the zero time.
func timestampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return Timestamp(t)
}

// list returns a copy of s that marshals as [] rather than null when empty.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// AccountObject is an account.
type AccountObject struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Plan      string `json:"plan"`
	CreatedAt string `json:"created_at"`
}

func (AccountObject) resource() Resource { return ResourceAccount }

// Account returns the object of an account. Its SSO settings are a resource of their own.
func Account(a store.Account) AccountObject {
	return AccountObject{ID: a.ID, Name: a.Name, Plan: a.Plan, CreatedAt: Timestamp(a.CreatedAt)}
}

// MemberObject is a member: a membership with its user's email and name. ID is the user's.
type MemberObject struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Name      string   `json:"name,omitempty"`
	Roles     []string `json:"roles"`
	Status    string   `json:"status"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

func (MemberObject) resource() Resource { return ResourceMember }

// Member returns the object of membership m of user u.
func Member(m store.Membership, u store.User) MemberObject {
	return MemberObject{
		ID: m.UserID, Email: u.Email, Name: u.Name, Roles: list(m.Roles), Status: m.Status,
		CreatedAt: Timestamp(m.CreatedAt), UpdatedAt: Timestamp(m.UpdatedAt),
	}
}

// InvitationObject is an invitation.
type InvitationObject struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
	InvitedBy string   `json:"invited_by"`
	ExpiresAt string   `json:"expires_at"`
	CreatedAt string   `json:"created_at"`
}

func (InvitationObject) resource() Resource { return ResourceInvitation }

// Invitation returns the object of an invitation.
func Invitation(inv store.Invitation) InvitationObject {
	return InvitationObject{
		ID: inv.ID, Email: inv.Email, Roles: list(inv.Roles), InvitedBy: inv.InvitedBy,
		ExpiresAt: Timestamp(inv.ExpiresAt), CreatedAt: Timestamp(inv.CreatedAt),
	}
}

// RoleObject is a custom role.
type RoleObject struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
	CreatedAt   string   `json:"created_at"`
}

func (RoleObject) resource() Resource { return ResourceRole }

// Role returns the object of a custom role.
func Role(r store.Role) RoleObject {
	return RoleObject{
		ID: r.ID, Name: r.Name, Description: r.Description, Permissions: list(r.Permissions),
		CreatedAt: Timestamp(r.CreatedAt),
	}
}

// BotUserObject is ngrok's BotUser; roles is iamkit's extension (RBAC plans).
type BotUserObject struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	Roles     []string `json:"roles,omitempty"`
}

func (BotUserObject) resource() Resource { return ResourceBotUser }

// BotUser returns the object of a bot user.
func BotUser(b store.BotUser) BotUserObject {
	return BotUserObject{ID: b.ID, Name: b.Name, Active: b.Active, CreatedAt: Timestamp(b.CreatedAt), Roles: slices.Clone(b.Roles)}
}

// TokenCredentialObject is ngrok's Credential (an authtoken) or APIKey: "token" is always
// present and null (the library never has the token after creation; only the API server's
// create response sets it); API keys have no "acl". expires_at is iamkit's, omitted when the
// credential does not expire.
type TokenCredentialObject struct {
	ID          string    `json:"id"`
	CreatedAt   string    `json:"created_at"`
	Description string    `json:"description,omitempty"`
	Metadata    string    `json:"metadata,omitempty"`
	Token       *string   `json:"token"`
	ACL         *[]string `json:"acl,omitempty"`
	OwnerID     string    `json:"owner_id"`
	ExpiresAt   string    `json:"expires_at,omitempty"`

	kind Resource // set by TokenCredential
}

func (o TokenCredentialObject) resource() Resource { return o.kind }

// TokenCredential returns the object of an authtoken or API key, without its secret.
func TokenCredential(c store.Credential) TokenCredentialObject {
	out := TokenCredentialObject{
		ID: c.ID, CreatedAt: Timestamp(c.CreatedAt), Description: c.Description, Metadata: c.Metadata,
		OwnerID: c.OwnerID, ExpiresAt: timestampOrEmpty(c.ExpiresAt), kind: ResourceAPIKey,
	}
	if c.Kind == store.Authtoken {
		acl := list(c.ACL)
		out.ACL, out.kind = &acl, ResourceTunnelCredential
	}
	return out
}

// SSHCredentialObject is ngrok's SSHCredential; expires_at as for TokenCredentialObject.
type SSHCredentialObject struct {
	ID          string   `json:"id"`
	CreatedAt   string   `json:"created_at"`
	Description string   `json:"description,omitempty"`
	Metadata    string   `json:"metadata,omitempty"`
	PublicKey   string   `json:"public_key"`
	ACL         []string `json:"acl"`
	OwnerID     string   `json:"owner_id"`
	ExpiresAt   string   `json:"expires_at,omitempty"`
}

func (SSHCredentialObject) resource() Resource { return ResourceSSHPublicKey }

// SSHCredential returns the object of an SSH credential.
func SSHCredential(c store.Credential) SSHCredentialObject {
	return SSHCredentialObject{
		ID: c.ID, CreatedAt: Timestamp(c.CreatedAt), Description: c.Description, Metadata: c.Metadata,
		PublicKey: c.PublicKey, ACL: list(c.ACL), OwnerID: c.OwnerID, ExpiresAt: timestampOrEmpty(c.ExpiresAt),
	}
}

// Credential returns the object of a credential of any kind.
func Credential(c store.Credential) Object {
	if c.Kind == store.SSHCredential {
		return SSHCredential(c)
	}
	return TokenCredential(c)
}

// IdentityProviderObject is a SAML identity provider. Its metadata document is represented
// by its entity ID and the SSO URL logins are sent to.
type IdentityProviderObject struct {
	ID                string   `json:"id"`
	Description       string   `json:"description,omitempty"`
	EntityID          string   `json:"entity_id"`
	SSOURL            string   `json:"sso_url"`
	AllowIDPInitiated bool     `json:"allow_idp_initiated"`
	DefaultRoles      []string `json:"default_roles"`
	EmailAttribute    string   `json:"email_attribute,omitempty"`
	NameAttribute     string   `json:"name_attribute,omitempty"`
	GroupsAttribute   string   `json:"groups_attribute,omitempty"`
	Domains           []string `json:"domains"`
	CreatedAt         string   `json:"created_at"`
}

func (IdentityProviderObject) resource() Resource { return ResourceIdentityProvider }

// IdentityProvider returns the object of an identity provider whose metadata sends logins
// to ssoURL (package sso reads it from the metadata).
func IdentityProvider(p store.IdentityProvider, ssoURL string) IdentityProviderObject {
	return IdentityProviderObject{
		ID: p.ID, Description: p.Description, EntityID: p.EntityID, SSOURL: ssoURL,
		AllowIDPInitiated: p.AllowIDPInitiated, DefaultRoles: list(p.DefaultRoles),
		EmailAttribute: p.EmailAttribute, NameAttribute: p.NameAttribute, GroupsAttribute: p.GroupsAttribute,
		Domains: list(p.Domains), CreatedAt: Timestamp(p.CreatedAt),
	}
}

// SSOSettingsObject is an account's SSO settings. Since is null when enforcement never left
// "off".
type SSOSettingsObject struct {
	Provisioning string  `json:"provisioning"`
	Enforcement  string  `json:"enforcement"`
	Since        *string `json:"since"`
}

func (SSOSettingsObject) resource() Resource { return ResourceSSOSettings }

// SSOSettings returns the object of SSO settings, as package sso reads them (defaults
// applied).
func SSOSettings(provisioning, enforcement string, since time.Time) SSOSettingsObject {
	out := SSOSettingsObject{Provisioning: provisioning, Enforcement: enforcement}
	if !since.IsZero() {
		s := Timestamp(since)
		out.Since = &s
	}
	return out
}

// errNoObject is the error for a value Record has no event object for.
var errNoObject = errors.New("no event object for this value")

// objectOf turns what Record was given into its event object.
func objectOf(ctx context.Context, r store.Reader, v any) (Object, error) {
	switch o := v.(type) {
	case Object:
		return o, nil
	case store.Account:
		return Account(o), nil
	case store.Membership:
		u, err := r.User(ctx, o.UserID)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", o.UserID, err)
		}
		return Member(o, u), nil
	case store.Invitation:
		return Invitation(o), nil
	case store.Role:
		return Role(o), nil
	case store.BotUser:
		return BotUser(o), nil
	case store.Credential:
		return Credential(o), nil
	}
	return nil, fmt.Errorf("%w: %T", errNoObject, v)
}
