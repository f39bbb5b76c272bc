// Package credential issues and verifies credentials: tunnel authtokens, API keys, access
// tokens and SSH keys, with their ACL rules, scopes, address allow-lists and lifetimes, the
// high-throughput Verifier, and the leak responder.
//
// # Tokens
//
// Authtokens, API keys and access tokens are bearer tokens of one fixed shape, TokenLen
// characters of [A-Za-z0-9_] (a double-click selects a whole token; it is safe in headers and
// URLs):
//
//	iat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ_4sRL18d676oum8AOvEiEdfXPdAs3RoCnf
//
// A per-kind prefix ("iat" authtoken, "iak" API key, "iap" access token) lets secret scanners
// (TokenPattern, one regular expression for every kind) and the Verifier tell the kinds
// apart. Then comes the credential's ID without its cr_, ak_ or pat_ prefix, so logs can name
// a credential without its secret; its last four characters are the account's shard tag, so
// a token routes to its account's shard without a lookup. Last come 160 random bits in base62
// and a base62 CRC-32C of everything before it, which rejects mistyped, truncated or made-up
// tokens offline. NewToken generates a token; ParseToken checks one without allocating, on
// both its accept and reject paths. NewTestToken makes tokens that parse but name no
// credential (their ID is reserved; everything refuses them before any lookup), for secret
// scanners' tests.
//
// # Access tokens
//
// An access token (store.AccessToken) is one credential for both the agent and the API, as
// ngrok's: it acts as its owner (a user or a bot user, that is a service user) and may do only
// what its scopes allow. Scopes are permission names of rbac's registry, built-in
// ("credentials:read", "tunnel:start", ngrok's agent scope) or the embedder's; creating a
// token with a scope its creator does not hold is refused. At use the grant is the scopes
// ANDed with the owner's permissions at that moment: Result.Scope carries the compiled scopes,
// Result.Principal puts them on the identity.Principal, and rbac's every check ANDs them, so a
// demoted owner's tokens shrink with it. An API takes them through VerifyToken (or
// iamkit.Authenticate); a tunnel edge through VerifyAgent, which also takes authtokens. API
// keys and authtokens keep working unscoped.
//
// # Lifetimes, rotation, last use, address allow-lists
//
// Every credential may expire (ExpiresAt). An account's credential policy
// (store.CredentialPolicy; Service.Policy and SetPolicy) bounds new credentials' lifetime per
// kind: a longer expiry is refused (CodeLifetimeExceedsPolicy, Limit the maximum in seconds)
// and a credential created without one expires at the maximum. The Verifier refuses a
// credential from the instant it expires: with an injected clock (WithClock), read on every
// call, exactly; with the system clock, which a running Verifier reads once a millisecond
// (the coarse clock: reading the system clock costs as much as hashing the token), within one
// millisecond. Expiry is checked on every verification, not cached with a time to live.
//
// Service.Rotate issues a token credential's successor, with the same settings, and keeps the
// old one valid until a chosen time, at most the policy's maximum overlap; both are linked
// (RotatedFrom, RotatedTo) and recorded. The Verifier records each credential's last use (time
// and client address) off the hot path, at most once per WithLastUsedInterval;
// Credential.LastUsedAt and LastUsedIP show it, and List(UnusedSince) finds credentials unused
// since a date. A credential may carry an address allow-list (IPv4 and IPv6 prefixes,
// NormalizeAllowedIPs): the Verifier's From variants check the client's address against it
// without allocating (ReasonIPNotAllowed), and refuse it when the address is unknown.
//
// # Leak response
//
// LeakResponder implements GitHub's secret-scanning partner contract: a report whose ECDSA
// P-256 signature over its raw body verifies with a key the embedder configures
// (ParseGitHubKeys) revokes at once every live credential it names, each with an audit event
// attributed to the leak responder and saying where the token was found; the owner is told
// through the embedder's LeakNotifier after the commit; a replayed report is refused; the
// answer is GitHub's false-positive feedback. Service.RevokeByToken revokes a credential on
// possession of its token alone, for a self-revoke endpoint.
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
// time without allocating. An empty ACL allows everything. An ACL is held as one compact
// string (its rules encoded with their parsed parts), so a Verifier keeps a credential's own
// ACL inline in its cache entry.
//
// # SSH keys
//
// ParseSSHPublicKey accepts one OpenSSH authorized_keys line and returns the key in the
// normalised form and with the SHA-256 fingerprint the store keeps. It rejects weak and
// unsupported keys (DSA, RSA under 2048 bits), certificates and more than one key.
//
// # Service, Verifier and Purger
//
// Service issues, reads, updates, rotates and deletes credentials for an acting principal,
// in its account (identity.Principal.AccountID), with one call shape: Create(ctx, by, req),
// Get/Update/Rotate/Delete(ctx, by, id) (the kind is the ID's: cr_, ak_, pat_ or sshcr_) and
// List(ctx, by, kind, page). Reads need rbac.CredentialsRead, changes
// rbac.CredentialsWrite; rotating another's credential rbac.CredentialsAssignOwner, since it
// hands over a new secret of the owner's.
//
// Verifier checks tokens and SSH keys at a high rate from a cache that the store's change
// feed keeps coherent. Verify takes one kind, VerifyToken any kind (its prefix says which),
// VerifyAgent what a tunnel edge takes (an authtoken, or an access token allowed to start
// agents, which needs WithAuthorizer); their From variants take the client's address. A
// Result tells whose credential it is, whether the owner is a bot user, what events name it
// by and an access token's scopes (Result.Principal builds the acting principal with no store
// read). A cache hit makes no allocation, allow-list and scopes included.
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
//     or bot user of the account), CodeNoChanges, CodeInvalidAllowedIP (Field
//     "allowed_ips[i]"), CodeLifetimeExceedsPolicy (Field "expires_at") and
//     CodeOverlapExceedsPolicy (Field "overlap_until"), both with the policy's maximum in
//     seconds as Limit, CodeScanMalformed and CodeInvalidScanKey (store.ErrInvalid);
//   - CodeSSHKeyInUse and CodeSSHKeyInUseElsewhere (an SSH key already registered, in this
//     account or another, store.ErrConflict, Field "public_key"), CodeOwnerInactive (a new
//     credential for an inactive owner, store.ErrConflict), CodeAlreadyRotated
//     (store.ErrConflict);
//   - CodeScanSignature and CodeScanReplayed (a secret-scanning report refused,
//     store.ErrUnauthenticated), CodeUnknown (RevokeByToken of a token held by no credential,
//     store.ErrUnauthenticated);
//   - the Reasons' codes: CodeMalformedToken, CodeWrongKind, CodeUnknown, CodeRevoked,
//     CodeExpired, CodeOwnerInactive, CodeIPNotAllowed, CodeNotScoped and
//     CodeVerifierUnavailable.
//
// Other invalid arguments are store.ErrInvalid with the store's codes (an unknown scope:
// rbac.CodeUnknownPermission), naming the field; denials are rbac's (store.ErrDenied; a scope
// its creator lacks: rbac.CodeExceedsGrantor naming it) and plan features identity's
// (store.ErrFeatureUnavailable).
//
// # Concurrency
//
// Token, Secret, Hasher, ACL, AllowList and SSHPublicKey are immutable once made and safe for
// concurrent use; Service, Verifier, Purger and LeakResponder are safe for concurrent use.
package credential
