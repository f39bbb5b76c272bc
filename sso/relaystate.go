package sso

import (
	"strings"

	"github.com/iamkit/iamkit/store"
)

// maxRelayStatePath bounds the paths RelayStatePath accepts. The SAML bindings limit
// RelayState to 80 bytes, but IdPs' "default RelayState" settings are often longer.
const maxRelayStatePath = 1024

// RelayStatePath checks a RelayState received with an IdP-initiated response, which nobody
// on our side created and which the IdP does not sign, before the embedder redirects to it.
// Only a path relative to our own origin is accepted: it must start with "/", must not
// start with "//" or "/\" (protocol-relative URLs to another host), and must contain no
// backslash, whitespace or control characters (browsers drop tabs and newlines, turning
// "/\t/evil" into "//evil"). It returns the path unchanged, or an error matching
// store.ErrInvalid with code CodeRelayStateUnsafe. For SP-initiated logins the RelayState
// should be an opaque key the embedder created, so this function is not needed there.
func RelayStatePath(relayState string) (string, error) {
	if !safeRelayState(relayState) {
		return "", store.Invalid("relay_state", CodeRelayStateUnsafe, maxRelayStatePath, "not a path on this site (at most %d bytes)", maxRelayStatePath)
	}
	return relayState, nil
}

// safeRelayState applies RelayStatePath's rules.
func safeRelayState(relayState string) bool {
	switch {
	case relayState == "":
		return false
	case len(relayState) > maxRelayStatePath:
		return false
	case relayState[0] != '/':
		return false
	case strings.HasPrefix(relayState, "//"):
		return false
	case strings.ContainsFunc(relayState, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '\\' || r == '\u2028' || r == '\u2029' || r == 0xfffd
	}):
		return false
	}
	return true
}
