package sso

import "strings"

// maxRelayStatePath bounds the paths RelayStatePath accepts. The SAML bindings limit
// RelayState to 80 bytes, but IdPs' "default RelayState" settings are often longer.
const maxRelayStatePath = 1024

// RelayStatePath checks a RelayState received with an IdP-initiated response, which nobody
// on our side created and which the IdP does not sign, before the embedder redirects to it.
// Only a path relative to our own origin is accepted: it must start with "/", must not
// start with "//" or "/\" (protocol-relative URLs to another host), and must contain no
// backslash, whitespace or control characters (browsers drop tabs and newlines, turning
// "/\t/evil" into "//evil"). It returns the path unchanged, or an error matching
// ErrUnsafeRelayState. For SP-initiated logins the RelayState should be an opaque key the
// embedder created, so this function is not needed there.
func RelayStatePath(relayState string) (string, error) {
	switch {
	case relayState == "":
		return "", ErrUnsafeRelayState
	case len(relayState) > maxRelayStatePath:
		return "", ErrUnsafeRelayState
	case relayState[0] != '/':
		return "", ErrUnsafeRelayState
	case strings.HasPrefix(relayState, "//"):
		return "", ErrUnsafeRelayState
	case strings.ContainsFunc(relayState, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '\\' || r == '\u2028' || r == '\u2029' || r == 0xfffd
	}):
		return "", ErrUnsafeRelayState
	}
	return relayState, nil
}
