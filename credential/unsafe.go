package credential

import "unsafe"

// bytesOf returns the bytes of s without copying them, so that hashing and checksumming a
// token do not allocate. The result aliases immutable memory: callers only read it, and only
// while s is alive (crc32 and sha256 neither write to nor retain their input).
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// tokenText is the text of a parsed token. A Token keeps a pointer to the first byte of the
// string it was parsed from instead of the string itself: the length is fixed (TokenLen), and
// a pointer is printed by fmt as an address when a Token sits in an unexported struct field,
// where fmt cannot call its redacting methods. A string field would print the secret there.
func tokenText(p *byte) string {
	if p == nil {
		return ""
	}
	return unsafe.String(p, TokenLen)
}

// tokenPointer is the inverse of tokenText for a string of length TokenLen.
func tokenPointer(s string) *byte {
	return unsafe.StringData(s)
}
