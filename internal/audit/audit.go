package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Type is an event type: "<object>_<verb>.v<version>".
type Type string

// The event types iamkit writes. Credential types are ngrok's own names.
const (
	AccountCreated Type = "account_created.v0"
	AccountUpdated Type = "account_updated.v0" // name or plan changed

	MemberCreated Type = "member_created.v0" // a user joined the account (invitation, provisioning or direct add)
	MemberUpdated Type = "member_updated.v0" // roles or status changed
	MemberDeleted Type = "member_deleted.v0" // removed from the account; its credentials there are deleted

	InvitationCreated  Type = "invitation_created.v0"
	InvitationAccepted Type = "invitation_accepted.v0"
	InvitationDeleted  Type = "invitation_deleted.v0" // revoked, or replaced after expiry

	RoleCreated Type = "role_created.v0"
	RoleUpdated Type = "role_updated.v0"
	RoleDeleted Type = "role_deleted.v0"

	BotUserCreated Type = "bot_user_created.v0"
	BotUserUpdated Type = "bot_user_updated.v0"
	BotUserDeleted Type = "bot_user_deleted.v0"

	TunnelCredentialCreated Type = "tunnel_credential_created.v0"
	TunnelCredentialUpdated Type = "tunnel_credential_updated.v0"
	TunnelCredentialDeleted Type = "tunnel_credential_deleted.v0"
	APIKeyCreated           Type = "api_key_created.v0"
	APIKeyUpdated           Type = "api_key_updated.v0"
	APIKeyDeleted           Type = "api_key_deleted.v0"
	SSHPublicKeyCreated     Type = "ssh_public_key_created.v0"
	SSHPublicKeyUpdated     Type = "ssh_public_key_updated.v0"
	SSHPublicKeyDeleted     Type = "ssh_public_key_deleted.v0"

	IdentityProviderCreated Type = "identity_provider_created.v0"
	IdentityProviderUpdated Type = "identity_provider_updated.v0"
	IdentityProviderDeleted Type = "identity_provider_deleted.v0"
	SSOSettingsUpdated      Type = "sso_settings_updated.v0"
)

// Types returns every event type iamkit writes, in the order above.
func Types() []Type {
	return []Type{
		AccountCreated, AccountUpdated,
		MemberCreated, MemberUpdated, MemberDeleted,
		InvitationCreated, InvitationAccepted, InvitationDeleted,
		RoleCreated, RoleUpdated, RoleDeleted,
		BotUserCreated, BotUserUpdated, BotUserDeleted,
		TunnelCredentialCreated, TunnelCredentialUpdated, TunnelCredentialDeleted,
		APIKeyCreated, APIKeyUpdated, APIKeyDeleted,
		SSHPublicKeyCreated, SSHPublicKeyUpdated, SSHPublicKeyDeleted,
		IdentityProviderCreated, IdentityProviderUpdated, IdentityProviderDeleted,
		SSOSettingsUpdated,
	}
}

// Resource is what an event is about: it decides the event's object and, in package rbac,
// who may read the event.
type Resource string

// The resources events are about, named as the event types name them.
const (
	ResourceAccount          Resource = "account"
	ResourceMember           Resource = "member"
	ResourceInvitation       Resource = "invitation"
	ResourceRole             Resource = "role"
	ResourceBotUser          Resource = "bot_user"
	ResourceTunnelCredential Resource = "tunnel_credential"
	ResourceAPIKey           Resource = "api_key"
	ResourceSSHPublicKey     Resource = "ssh_public_key"
	ResourceIdentityProvider Resource = "identity_provider"
	ResourceSSOSettings      Resource = "sso_settings"
)

// Resource returns what events of type t are about, or "" if t is not a type iamkit writes.
func (t Type) Resource() Resource {
	switch t {
	case AccountCreated, AccountUpdated:
		return ResourceAccount
	case MemberCreated, MemberUpdated, MemberDeleted:
		return ResourceMember
	case InvitationCreated, InvitationAccepted, InvitationDeleted:
		return ResourceInvitation
	case RoleCreated, RoleUpdated, RoleDeleted:
		return ResourceRole
	case BotUserCreated, BotUserUpdated, BotUserDeleted:
		return ResourceBotUser
	case TunnelCredentialCreated, TunnelCredentialUpdated, TunnelCredentialDeleted:
		return ResourceTunnelCredential
	case APIKeyCreated, APIKeyUpdated, APIKeyDeleted:
		return ResourceAPIKey
	case SSHPublicKeyCreated, SSHPublicKeyUpdated, SSHPublicKeyDeleted:
		return ResourceSSHPublicKey
	case IdentityProviderCreated, IdentityProviderUpdated, IdentityProviderDeleted:
		return ResourceIdentityProvider
	case SSOSettingsUpdated:
		return ResourceSSOSettings
	}
	return ""
}

// CredentialTypes returns the created, updated and deleted event types of a credential
// kind, by ngrok's names.
func CredentialTypes(k store.CredentialKind) (created, updated, deleted Type) {
	switch k {
	case store.APIKey:
		return APIKeyCreated, APIKeyUpdated, APIKeyDeleted
	case store.SSHCredential:
		return SSHPublicKeyCreated, SSHPublicKeyUpdated, SSHPublicKeyDeleted
	}
	return TunnelCredentialCreated, TunnelCredentialUpdated, TunnelCredentialDeleted
}

// Recorder writes events. The zero value is not usable; both fields are required. It is safe
// for concurrent use (the Generator and Clock are).
type Recorder struct {
	IDs   *id.Generator
	Clock clock.Clock
}

// Record appends one event of type t to accountID's log inside tx, attributed to by. Its
// object is the record after the change in the representation the API shows for it (see
// Object): pass the store record (store.Account, store.Membership, store.Invitation,
// store.Role, store.BotUser or store.Credential) or an Object built by this package
// (IdentityProvider, SSOSettings). A membership's user is read through tx for the member's
// email and name. Record fails, aborting the transaction, for any other object, for an
// object about another resource than t's, and on the store's errors.
func (r Recorder) Record(ctx context.Context, tx store.Tx, accountID string, t Type, by store.Principal, object any) error {
	obj, err := objectOf(ctx, tx, object)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", t, err)
	}
	if got := obj.resource(); got != t.Resource() {
		return fmt.Errorf("audit: %s: the object is a %s", t, got)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", t, err)
	}
	eid, err := r.IDs.NewIn(id.Event, accountID)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", t, err)
	}
	return tx.AppendEvent(ctx, store.Event{
		ID:        eid,
		AccountID: accountID,
		Type:      string(t),
		Principal: by,
		Object:    raw,
		CreatedAt: r.Clock.Now().UTC(),
	})
}

// RecordOwnerCredentialsDeleted records one *_deleted event for each credential ownerID
// owns in accountID, inside tx and attributed to by. Call it just before deleting the owner
// (tx.DeleteBotUser, tx.DeleteMembership), whose deletion deletes those credentials with it.
func (r Recorder) RecordOwnerCredentialsDeleted(ctx context.Context, tx store.Tx, accountID, ownerID string, by store.Principal) error {
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		cs, err := tx.CredentialsByOwner(ctx, accountID, ownerID, p)
		if err != nil {
			return fmt.Errorf("audit: credentials of %s: %w", ownerID, err)
		}
		for _, c := range cs {
			_, _, deleted := CredentialTypes(c.Kind)
			if err := r.Record(ctx, tx, accountID, deleted, by, c); err != nil {
				return err
			}
		}
		if len(cs) < p.Limit {
			return nil
		}
		p.BeforeID = cs[len(cs)-1].ID
	}
}
