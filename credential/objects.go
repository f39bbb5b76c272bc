package credential

import (
	"net/netip"
	"slices"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// TokenCredentialObject is an authtoken (ngrok's Credential), an API key (ngrok's APIKey) or
// an access token as audit events record it and an API serves it: "token" is always present
// and null (the library never has the token after creation; an API's create response sets
// it); API keys have no "acl"; only access tokens have "scopes". The fields after owner_id
// are iamkit's, each omitted when empty: expires_at (never expires), allowed_ips (any
// address), rotated_from and rotated_to (no rotation), last_used_at and last_used_ip (never
// used, or address unknown; audit events leave them out: they are not changes).
type TokenCredentialObject struct {
	ID          string    `json:"id"`
	CreatedAt   string    `json:"created_at"`
	Description string    `json:"description,omitempty"`
	Metadata    string    `json:"metadata,omitempty"`
	Token       *string   `json:"token"`
	ACL         *[]string `json:"acl,omitempty"`
	Scopes      *[]string `json:"scopes,omitempty"`
	OwnerID     string    `json:"owner_id"`
	ExpiresAt   string    `json:"expires_at,omitempty"`
	AllowedIPs  []string  `json:"allowed_ips,omitempty"`
	RotatedFrom string    `json:"rotated_from,omitempty"`
	RotatedTo   string    `json:"rotated_to,omitempty"`
	LastUsedAt  string    `json:"last_used_at,omitempty"`
	LastUsedIP  string    `json:"last_used_ip,omitempty"`

	kind identity.Resource // set by TokenCredentialObjectOf
}

// Resource returns identity.ResourceTunnelCredential for an authtoken,
// identity.ResourceAccessToken for an access token and identity.ResourceAPIKey for an API
// key.
func (o TokenCredentialObject) Resource() identity.Resource {
	if o.kind == "" {
		return identity.ResourceAPIKey
	}
	return o.kind
}

// TokenCredentialObjectOf returns the object of an authtoken, API key or access token,
// without its secret.
func TokenCredentialObjectOf(c Credential) TokenCredentialObject {
	out := TokenCredentialObject{
		ID: c.ID, CreatedAt: identity.Timestamp(c.CreatedAt), Description: c.Description, Metadata: c.Metadata,
		OwnerID: c.OwnerID, ExpiresAt: timestampOrEmpty(c.ExpiresAt), AllowedIPs: slices.Clone(c.AllowedIPs),
		RotatedFrom: c.RotatedFrom, RotatedTo: c.RotatedTo,
		LastUsedAt: timestampOrEmpty(c.LastUsedAt), LastUsedIP: addrOrEmpty(c.LastUsedIP),
		kind: identity.ResourceAPIKey,
	}
	switch c.Kind {
	case store.Authtoken:
		acl := list(c.ACL)
		out.ACL, out.kind = &acl, identity.ResourceTunnelCredential
	case store.AccessToken:
		acl, scopes := list(c.ACL), list(c.Scopes)
		out.ACL, out.Scopes, out.kind = &acl, &scopes, identity.ResourceAccessToken
	}
	return out
}

// SSHCredentialObject is an SSH credential (ngrok's SSHCredential) as audit events record
// it and an API serves it; the fields after owner_id as for TokenCredentialObject.
type SSHCredentialObject struct {
	ID          string   `json:"id"`
	CreatedAt   string   `json:"created_at"`
	Description string   `json:"description,omitempty"`
	Metadata    string   `json:"metadata,omitempty"`
	PublicKey   string   `json:"public_key"`
	ACL         []string `json:"acl"`
	OwnerID     string   `json:"owner_id"`
	ExpiresAt   string   `json:"expires_at,omitempty"`
	AllowedIPs  []string `json:"allowed_ips,omitempty"`
	LastUsedAt  string   `json:"last_used_at,omitempty"`
	LastUsedIP  string   `json:"last_used_ip,omitempty"`
}

// Resource returns identity.ResourceSSHPublicKey.
func (SSHCredentialObject) Resource() identity.Resource { return identity.ResourceSSHPublicKey }

// SSHCredentialObjectOf returns the object of an SSH credential.
func SSHCredentialObjectOf(c Credential) SSHCredentialObject {
	return SSHCredentialObject{
		ID: c.ID, CreatedAt: identity.Timestamp(c.CreatedAt), Description: c.Description, Metadata: c.Metadata,
		PublicKey: c.PublicKey, ACL: list(c.ACL), OwnerID: c.OwnerID, ExpiresAt: timestampOrEmpty(c.ExpiresAt),
		AllowedIPs: slices.Clone(c.AllowedIPs),
		LastUsedAt: timestampOrEmpty(c.LastUsedAt), LastUsedIP: addrOrEmpty(c.LastUsedIP),
	}
}

// Object returns c's public representation: an SSHCredentialObject for an SSH key, a
// TokenCredentialObject otherwise.
func (c Credential) Object() identity.Object {
	if c.Kind == store.SSHCredential {
		return SSHCredentialObjectOf(c)
	}
	return TokenCredentialObjectOf(c)
}

// objectOf returns the public representation of a stored credential as audit events record
// it: without its last use, which is no change of the credential.
func objectOf(c store.Credential) identity.Object {
	c.LastUsedAt, c.LastUsedIP = time.Time{}, netip.Addr{}
	return fromStore(c).Object()
}

// addrOrEmpty is a's text, or "" (omitted) for the zero Addr.
func addrOrEmpty(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// timestampOrEmpty is identity.Timestamp, or "" (omitted) for the zero time.
func timestampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return identity.Timestamp(t)
}

// list returns a copy of s that marshals as [] rather than null when empty.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
