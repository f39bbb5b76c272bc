// Package credential issues and verifies credentials: tunnel authtokens, API keys and SSH
// keys, with their ACL rules and the high-throughput Verifier.
//
// # Tokens
//
// Authtokens and API keys are bearer tokens of one fixed shape, TokenLen characters of
// [A-Za-z0-9_] (a double-click selects a whole token; it is safe in headers and URLs):
//
//	iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_4sRL18d676oum8AOvEiEdfXPdAs3RoCnf
//
// A per-kind prefix ("iat" authtoken, "iak" API key) lets secret scanners (TokenPattern) and
// the Verifier tell the kinds apart. Then comes the credential's ID without its cr_ or ak_
// prefix, so logs can name a credential without its secret; its last four characters are the
// account's shard tag, so a token routes to its account's shard without a lookup. Last come
// 160 random bits in base62 and a base62 CRC-32 of everything before it, which rejects
// mistyped, truncated or made-up tokens offline. NewToken generates a token; ParseToken
// checks one without allocating, on both its accept and reject paths.
//
// # Hashing and storage
//
// The store never holds a token, only a digest of its secret part, in hex, in
// store.Credential.SecretHash: plain SHA-256 (HashSecret, the zero Hasher) or HMAC-SHA-256
// with a server-side pepper (NewHasher with WithPepper). Hashing does not allocate. The
// digest covers the secret part only: whoever finds a credential by digest must also check
// Token.MatchesCredential, so that a secret is good only with its own credential ID and kind.
//
// # Secrets
//
// NewToken returns a Secret, the token shown once to its owner. A Secret prints, logs and
// marshals as "[REDACTED]"; only Secret.Reveal gives the token out. A parsed Token redacts its
// secret part the same way. No error of this package contains a secret.
//
// # ACL rules
//
// ParseACL validates an authtoken's or SSH credential's ACL once, when it is written, with
// ngrok's syntax ("*", "bind:<hostname>", "bind:*.<suffix>", "bind:<host>:<port>",
// "bind:<key>=<value>"; see ACL); ACL.AllowsBind matches a hostname, address or label at bind
// time without allocating. An empty ACL allows everything.
//
// # SSH keys
//
// ParseSSHPublicKey accepts one OpenSSH authorized_keys line and returns the key in the
// normalised form and with the SHA-256 fingerprint the store keeps. It rejects weak and
// unsupported keys (DSA, RSA under 2048 bits), certificates and more than one key.
//
// # Service, Verifier and Purger
//
// Service issues, reads, updates and deletes credentials for an acting principal, in its
// account (identity.Principal.AccountID), with one call shape: Create(ctx, by, req),
// Get/Update/Delete(ctx, by, id) (the kind is the ID's: cr_, ak_ or sshcr_) and List(ctx,
// by, kind, page). Reads need rbac.CredentialsRead, changes rbac.CredentialsWrite.
//
// Verifier checks tokens and SSH keys at a high rate from a cache that the store's change
// feed keeps coherent. Verify takes one kind (a tunnel edge takes authtokens), VerifyToken
// any kind (its prefix says which). A Result tells whose credential it is, whether the owner
// is a bot user and what events name it by (Result.Principal builds the acting principal
// with no store read). A cache hit makes no allocation.
//
// Purger deletes the credentials of removed owners. Deleting a bot user or removing a member
// writes a store.Tombstone in the deletion's commit, which makes every credential of the
// owner gone at once for every read and for the Verifier; a Purger (Purge, or Run in the
// background) deletes them in batches, recording their *_deleted events attributed to whoever
// removed the owner.
//
// # Errors
//
// Every error is a *store.Error (or wraps one), except the two that must not allocate:
// ParseToken's errors and the Verifier's Reason. Both carry a code (store.CodeOf) and match
// a store sentinel with errors.Is: ParseToken's errors store.ErrInvalid, a Reason
// store.ErrUnauthenticated (ReasonUnavailable: store.ErrUnavailable). This package's codes
// are:
//
//   - CodeMalformedToken, CodeTokenUnknownKind and CodeTokenChecksum (a token that does not
//     parse);
//   - CodeInvalidACL (Field "acl" or "acl[i]", Limit for a size limit), CodeSSHKeyInvalid and
//     CodeSSHKeyMissing (Field "public_key"), CodeUnknownOwner (Field "owner_id": no member
//     or bot user of the account), CodeNoChanges (store.ErrInvalid);
//   - CodeSSHKeyInUse and CodeSSHKeyInUseElsewhere (an SSH key already registered, in this
//     account or another, store.ErrConflict, Field "public_key"), CodeOwnerInactive (a new
//     credential for an inactive owner, store.ErrConflict);
//   - the Reasons' codes: CodeMalformedToken, CodeWrongKind, CodeUnknown, CodeRevoked,
//     CodeExpired, CodeOwnerInactive and CodeVerifierUnavailable.
//
// Other invalid arguments are store.ErrInvalid with the store's codes, naming the field;
// denials are rbac's (store.ErrDenied) and plan features identity's
// (store.ErrFeatureUnavailable).
//
// # Concurrency
//
// Token, Secret, Hasher, ACL and SSHPublicKey are immutable once made and safe for
// concurrent use.
package credential
