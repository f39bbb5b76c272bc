// Package audit appends iamkit's audit events. Every domain package (identity, rbac,
// botuser, credential, sso) records each mutation through a Recorder, inside the same
// store.Tx as the mutation, so an event exists if and only if the change committed.
//
// An event carries a type named like ngrok's ("bot_user_created.v0"), the object after the
// change, and the principal that caused it ({id, subject, source, credential_id}). The
// object is the resource as iamkit's API shows it, less its "uri" (object.go is the one
// definition of those representations, which the API server renders its resources from):
// never a store record with its internal fields (no account_id, secret hash, fingerprint or
// raw IdP metadata), and a token is always null. Record refuses any value it has no
// representation for.
//
// Each type is about one Resource (Type.Resource), which decides its object and, in package
// rbac, which permission reads the event. The Type constants are the complete list the
// library writes (Types); a new field in an object does not change its version, any other
// change of shape does (".v0" -> ".v1"), as in ngrok's event log.
//
// Deleting a bot user or a membership deletes the owner's credentials in the store; the
// domain package records their *_deleted events first, with RecordOwnerCredentialsDeleted,
// in the same transaction.
package audit
