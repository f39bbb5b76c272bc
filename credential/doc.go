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
// # Errors
//
// Match errors with errors.Is against the sentinels: ErrMalformedToken (with
// ErrUnknownTokenKind and ErrTokenChecksum), ErrInvalidACL and ErrInvalidSSHKey (with
// ErrMissingSSHKey); read details with errors.As from *ACLRuleError, *ACLLimitError and
// *SSHKeyError. Every validation error also matches identity.ErrInvalid.
//
// # Concurrency
//
// Token, Secret, Hasher, ACL and SSHPublicKey are immutable once made and safe for
// concurrent use.
package credential
