// Package tunnel is a minimal tunnel edge: the part of an ngrok-like service that an agent
// dials, that authenticates the agent's authtoken with a credential.Verifier
// (VerifyAgent: an authtoken, or an access token whose scopes include tunnel:start, held by
// its owner, as ngrok's agent takes one), checks the credential's address allow-list against
// the agent's address, enforces the credential's bind ACL on the endpoint the agent asks for,
// and keeps the session only as long as the credential stays valid.
//
// # Protocol
//
// The agent opens a TCP connection and sends one JSON line, at most MaxRequestLen bytes,
// within the handshake timeout:
//
//	{"authtoken":"iat_...","bind":"app.example.com"}
//
// where "authtoken" may hold an access token (iap_...) too.
//
// bind is what the agent wants to serve: a hostname (app.example.com, or a wildcard endpoint
// *.example.com), a TCP address (1.tcp.example.com:20002) or a label (edge=blue). The edge
// answers one JSON line, either
//
//	{"ok":true,"account_id":"ac_...","credential_id":"cr_...","owner_id":"bot_..."}
//
// after which the session is open, or
//
//	{"ok":false,"error_code":"ERR_NGROK_107","msg":"..."}
//
// and closes the connection. An open session lasts until the agent hangs up, the edge shuts
// down, or the credential stops being good for the bind target: it is revoked, its owner is
// deactivated, it expires, or its ACL no longer allows the target. The edge re-verifies every
// open session at the check interval (WithCheckInterval, 200 ms by default: a Verifier cache
// hit, no store access) and, when one has gone bad, writes a last line with "closed":true
// saying why, then closes the connection:
//
//	{"ok":false,"closed":true,"error_code":"ERR_NGROK_300","msg":"..."}
//
// Anything the agent sends after its request line is read and discarded.
//
// # Error codes
//
// The edge answers with ngrok's codes where ngrok documents one for the same failure, and
// with iamkit's own (ERR_IAMKIT_*) where it does not, rather than borrow an ngrok number that
// means something else:
//
//	ERR_NGROK_4018  no authtoken in the request
//	ERR_NGROK_105   malformed authtoken (shape or checksum), or an API key given as an authtoken
//	ERR_NGROK_107   well-formed but unknown authtoken, or an expired one
//	ERR_NGROK_300   the authtoken was revoked
//	ERR_NGROK_636   the authtoken's owner is inactive (deactivated bot user, disabled member)
//	ERR_NGROK_308   the ACL does not allow binding this address (host:port)
//	ERR_NGROK_316   the ACL does not allow binding this hostname
//	ERR_NGROK_399   the ACL does not allow binding this label (key=value)
//	ERR_IAMKIT_BAD_REQUEST        the request line is not JSON, has no bind target or an invalid
//	                              one, or did not arrive within the handshake timeout
//	ERR_IAMKIT_REQUEST_TOO_LARGE  the request line is longer than MaxRequestLen
//	ERR_IAMKIT_UNAVAILABLE        the verifier could not reach the store (it fails closed)
//	ERR_IAMKIT_NOT_SCOPED         an access token without tunnel:start, or whose owner no
//	                              longer holds it (a session is closed when its owner is demoted)
//	ERR_IAMKIT_IP_NOT_ALLOWED     the credential's address allow-list does not admit the agent
//	ERR_IAMKIT_SHUTDOWN           the edge is shutting down (closing line only)
//
// Expiry shares ERR_NGROK_107 with unknown tokens (ngrok's text for it, "properly formed, but
// it is invalid", covers both); the message tells them apart.
//
// # Secrets
//
// Nothing the edge logs contains a token: log lines name a credential by its ID, which the
// token carries in its public part. Request redacts its authtoken when printed or logged.
package tunnel
