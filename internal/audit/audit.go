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

// Redactor is implemented by objects that must not be logged as they are: Record marshals
// AuditObject() instead of the value itself. A credential resource that holds its token
// implements it and returns a copy with the token nulled.
type Redactor interface {
	AuditObject() any
}

// Recorder writes events. The zero value is not usable; both fields are required. It is safe
// for concurrent use (the Generator and Clock are).
type Recorder struct {
	IDs   *id.Generator
	Clock clock.Clock
}

// Record appends one event of type t to accountID's log inside tx, attributed to by, with
// object (the record after the change) marshalled to JSON. A store.Credential is written
// with secret_hash removed and "token": null; any other secret-bearing value must implement
// Redactor. The error, if any, is the marshalling or the store's, and aborts the transaction.
func (r Recorder) Record(ctx context.Context, tx store.Tx, accountID string, t Type, by store.Principal, object any) error {
	raw, err := Marshal(object)
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

// Marshal returns the JSON of an event object, with secrets nulled as Record describes.
func Marshal(object any) (json.RawMessage, error) {
	switch o := object.(type) {
	case Redactor:
		object = o.AuditObject()
	case store.Credential:
		object = credentialObject{Credential: o}
	case *store.Credential:
		object = credentialObject{Credential: *o}
	}
	return json.Marshal(object)
}

// credentialObject is a store.Credential as an event shows it: the shallower SecretHash
// shadows the embedded one and is always omitted, and Token is always null (ngrok's event
// objects carry the API resource, whose token field is null after creation).
type credentialObject struct {
	store.Credential
	SecretHash *string `json:"secret_hash,omitempty"`
	Token      *string `json:"token"`
}
