package credential

import (
	"slices"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// TokenCredentialObject is an authtoken (ngrok's Credential) or an API key (ngrok's
// APIKey) as audit events record it and an API serves it: "token" is always present and
// null (the library never has the token after creation; an API's create response sets it);
// API keys have no "acl". expires_at is iamkit's, omitted when the credential does not
// expire.
type TokenCredentialObject struct {
	ID          string    `json:"id"`
	CreatedAt   string    `json:"created_at"`
	Description string    `json:"description,omitempty"`
	Metadata    string    `json:"metadata,omitempty"`
	Token       *string   `json:"token"`
	ACL         *[]string `json:"acl,omitempty"`
	OwnerID     string    `json:"owner_id"`
	ExpiresAt   string    `json:"expires_at,omitempty"`

	kind identity.Resource // set by TokenCredentialObjectOf
}

// Resource returns identity.ResourceTunnelCredential for an authtoken and
// identity.ResourceAPIKey for an API key.
func (o TokenCredentialObject) Resource() identity.Resource {
	if o.kind == "" {
		return identity.ResourceAPIKey
	}
	return o.kind
}

// TokenCredentialObjectOf returns the object of an authtoken or API key, without its secret.
func TokenCredentialObjectOf(c Credential) TokenCredentialObject {
	out := TokenCredentialObject{
		ID: c.ID, CreatedAt: identity.Timestamp(c.CreatedAt), Description: c.Description, Metadata: c.Metadata,
		OwnerID: c.OwnerID, ExpiresAt: timestampOrEmpty(c.ExpiresAt), kind: identity.ResourceAPIKey,
	}
	if c.Kind == store.Authtoken {
		acl := list(c.ACL)
		out.ACL, out.kind = &acl, identity.ResourceTunnelCredential
	}
	return out
}

// SSHCredentialObject is an SSH credential (ngrok's SSHCredential) as audit events record
// it and an API serves it; expires_at as for TokenCredentialObject.
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

// Resource returns identity.ResourceSSHPublicKey.
func (SSHCredentialObject) Resource() identity.Resource { return identity.ResourceSSHPublicKey }

// SSHCredentialObjectOf returns the object of an SSH credential.
func SSHCredentialObjectOf(c Credential) SSHCredentialObject {
	return SSHCredentialObject{
		ID: c.ID, CreatedAt: identity.Timestamp(c.CreatedAt), Description: c.Description, Metadata: c.Metadata,
		PublicKey: c.PublicKey, ACL: list(c.ACL), OwnerID: c.OwnerID, ExpiresAt: timestampOrEmpty(c.ExpiresAt),
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

// objectOf returns the public representation of a stored credential.
func objectOf(c store.Credential) identity.Object { return fromStore(c).Object() }

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
