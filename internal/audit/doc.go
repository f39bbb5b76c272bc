// Package audit appends iamkit's audit events. Every domain package (identity, rbac,
// botuser, credential, sso) records each mutation through a Recorder, inside the same
// store.Tx as the mutation, so an event exists if and only if the change committed.
//
// An event carries a type named like ngrok's ("bot_user_created.v0"), the object after the
// change marshalled to JSON with its secrets nulled, and the principal that caused it
// ({id, subject, source, credential_id}). The Type constants below are the complete list the
// library writes; a new field in an object does not change its version, any other change of
// shape does (".v0" -> ".v1"), as in ngrok's event log.
package audit
