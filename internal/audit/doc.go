// Package audit appends iamkit's audit events. Every domain package (identity, rbac,
// botuser, credential, sso) records each mutation through a Recorder, inside the same
// store.Tx as the mutation, so an event exists if and only if the change committed.
//
// An event carries a type named like ngrok's ("bot_user_created.v0"; package identity lists
// them and the resource each is about), the object after the change, and the principal that
// caused it ({id, subject, source, credential_id}). The object is the resource's public
// representation, defined by the package that owns the resource (identity.MemberObject,
// rbac.RoleObject, botuser.BotUserObject, credential.TokenCredentialObject,
// sso.IdentityProviderObject, ...): never a store record with its internal fields (no
// account_id, secret hash, fingerprint or raw IdP metadata), and a token is always null.
// Record accepts only such objects (audit.Object), and only about the resource of the
// event's type.
//
// Deleting a bot user or a membership records its own event in the deletion commit; the
// credentials it owned are purged later, in batches, by credential's purger, which records
// their *_deleted events, attributed to whoever deleted the owner (store.Tombstone.By).
package audit
