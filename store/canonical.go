package store

import (
	"strings"
	"time"
	"unicode/utf8"
)

// A fast path for decoding the records listings read most: a bot user exactly as
// encoding/json writes it (its fields in order, no escapes, UTC time) is read by hand, in a
// fraction of the general decoder's time; anything else, however valid, goes to the general
// decoder. FuzzDecodeCanonical checks that whatever the fast path accepts decodes to what the
// general decoder makes of it.

// canonical is a record type with a fast path: decodeCanonical fills the record from data
// and reports true only when data is in the record's canonical encoding. The strings it
// fills share data's memory.
type canonical interface {
	decodeCanonical(data string) bool
}

// decodeCanonical reads {"id":…,"account_id":…,"name":…,"active":…,"roles":…,"created_at":…}.
func (b *BotUser) decodeCanonical(data string) bool {
	s := scanner{d: data} // the fields read are substrings of data
	var ok bool
	if !s.lit(`{"id":`) {
		return false
	}
	if b.ID, ok = s.str(); !ok || !s.lit(`,"account_id":`) {
		return false
	}
	if b.AccountID, ok = s.str(); !ok || !s.lit(`,"name":`) {
		return false
	}
	if b.Name, ok = s.str(); !ok || !s.lit(`,"active":`) {
		return false
	}
	if b.Active, ok = s.boolean(); !ok || !s.lit(`,"roles":`) {
		return false
	}
	if b.Roles, ok = s.strs(); !ok || !s.lit(`,"created_at":`) {
		return false
	}
	if b.CreatedAt, ok = s.utc(); !ok || !s.lit(`}`) {
		return false
	}
	return s.i == len(s.d)
}

// scanner reads the canonical encoding of a record; each method reports false, consuming
// what it may, when the input is not what it reads.
type scanner struct {
	d string
	i int
}

// lit consumes l.
func (s *scanner) lit(l string) bool {
	if !strings.HasPrefix(s.d[s.i:], l) {
		return false
	}
	s.i += len(l)
	return true
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (s *scanner) str() (string, bool) {
	if !s.lit(`"`) {
		return "", false
	}
	start, ascii := s.i, true
	for ; s.i < len(s.d); s.i++ {
		switch c := s.d[s.i]; {
		case c == '"':
			v := s.d[start:s.i]
			s.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// boolean reads true or false.
func (s *scanner) boolean() (bool, bool) {
	switch {
	case s.lit("true"):
		return true, true
	case s.lit("false"):
		return false, true
	}
	return false, false
}

// strs reads null (nil) or an array of strings (never nil).
func (s *scanner) strs() ([]string, bool) {
	if s.lit("null") {
		return nil, true
	}
	if !s.lit("[") {
		return nil, false
	}
	out := []string{}
	if s.lit("]") {
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if s.lit("]") {
			return out, true
		}
		if !s.lit(",") {
			return nil, false
		}
	}
}

// utc reads a time in UTC as encoding/json writes it, and nothing else: RFC 3339 with the
// fraction of a second it has (1 to 9 digits, the last not 0), ending in Z.
func (s *scanner) utc() (time.Time, bool) {
	v, ok := s.str()
	if !ok || !canonicalUTC(v) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// canonicalUTC reports whether v is spelled as time.RFC3339Nano formats a UTC time:
// 2006-01-02T15:04:05 then maybe a '.' and 1 to 9 digits not ending in 0, then Z. The ranges
// of the fields are left to time.Parse.
func canonicalUTC(v string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(v) < len(layout)+1 || len(v) > len(layout)+11 || v[len(v)-1] != 'Z' {
		return false
	}
	for i := range len(layout) {
		if layout[i] == 'd' && !isDigit(v[i]) || layout[i] != 'd' && v[i] != layout[i] {
			return false
		}
	}
	frac := v[len(layout) : len(v)-1]
	if frac == "" {
		return true
	}
	if len(frac) < 2 || frac[0] != '.' || frac[len(frac)-1] == '0' {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if !isDigit(frac[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
