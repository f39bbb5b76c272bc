package main

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/iamkit/iamkit/store"
)

// The bot user list response, written without reflection. encoding/json spent about 50 µs
// of a page of 100 on reflection and the map the response was built in; appendBotUserPage
// writes the same bytes (TestBotUserPageJSONMatchesEncodingJSON) straight from the records.

// writeBotUserPage writes a page of bot users of collection v as ngrok's list response:
// what writeJSON writes for map[string]any{v.listKey: []botUserJSON, "uri": uri,
// "next_page_uri": next}. It writes from a buffer of s.pageBufs, returned after the write
// (ResponseWriter.Write keeps nothing of it), so that a page allocates no buffer of its own.
func (s *server) writeBotUserPage(w http.ResponseWriter, base string, v botView, page []store.BotUser, uri string, next *string) error {
	bp, _ := s.pageBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := appendBotUserPage((*bp)[:0], base, v, page, uri, next)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf)
	if cap(buf) <= maxPooledPage {
		*bp = buf
		s.pageBufs.Put(bp)
	}
	return err
}

// maxPooledPage is the largest buffer writeBotUserPage keeps for the next page: a page of
// store.MaxPageLimit bot users with long names fits.
const maxPooledPage = 1 << 20

// appendBotUserPage appends the response writeBotUserPage writes to buf. encoding/json
// writes a map's keys sorted, so the list's key goes before "next_page_uri" or after it.
func appendBotUserPage(buf []byte, base string, v botView, page []store.BotUser, uri string, next *string) []byte {
	buf = append(buf, '{')
	if v.listKey < "next_page_uri" {
		buf = appendBotUsers(buf, base, v, page)
		buf = append(buf, ',')
	}
	buf = append(buf, `"next_page_uri":`...)
	if next == nil {
		buf = append(buf, "null"...)
	} else {
		buf = appendJSONString(buf, *next)
	}
	if v.listKey > "next_page_uri" {
		buf = append(buf, ',')
		buf = appendBotUsers(buf, base, v, page)
	}
	buf = append(buf, `,"uri":`...)
	buf = appendJSONString(buf, uri)
	return append(buf, "}\n"...)
}

// appendBotUsers appends v's list key and the bot users as an array of botUserJSON.
func appendBotUsers(buf []byte, base string, v botView, page []store.BotUser) []byte {
	buf = appendJSONString(buf, v.listKey)
	buf = append(buf, ':', '[')
	// Every "uri" starts with base, the path and a slash, quoted once here: quoting is byte
	// by byte (a character at a time), and the slash ends the prefix on a whole character,
	// so quoting the prefix and the ID apart gives the bytes of quoting their concatenation.
	var uriPrefix [128]byte
	prefix := appendJSONStringBody(uriPrefix[:0], base)
	prefix = appendJSONStringBody(prefix, v.path+"/")
	for i, b := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendBotUser(buf, prefix, b)
	}
	return append(buf, ']')
}

// appendBotUser appends b as botUserOut renders it, in botUserJSON's field order; uriPrefix
// is its "uri" up to its ID, quoted (without the opening quote).
func appendBotUser(buf []byte, uriPrefix []byte, b store.BotUser) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, b.ID)
	buf = append(buf, `,"name":`...)
	buf = appendJSONString(buf, b.Name)
	buf = append(buf, `,"active":`...)
	buf = strconv.AppendBool(buf, b.Active)
	buf = append(buf, `,"created_at":"`...)
	// identity.Timestamp, appended: RFC 3339 in UTC is digits, '-', ':', 'T' and 'Z' (and a
	// sign or a fifth digit for years outside 0-9999), none of which JSON quotes.
	buf = b.CreatedAt.UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, '"')
	if len(b.Roles) > 0 { // omitempty
		buf = append(buf, `,"roles":[`...)
		for i, r := range b.Roles {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, r)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"uri":"`...)
	buf = append(buf, uriPrefix...)
	buf = appendJSONStringBody(buf, b.ID)
	return append(buf, '"', '}')
}

// appendJSONString appends s quoted as encoding/json quotes a string by default (HTML-safe):
// '"' and '\\' escaped, the control characters as \b \f \n \r \t or \u00XX, '<', '>' and '&'
// as \u003c \u003e \u0026, U+2028 and U+2029 as \u2028 and \u2029, and each byte of invalid
// UTF-8 as \ufffd.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	buf = appendJSONStringBody(buf, s)
	return append(buf, '"')
}

// appendJSONStringBody is appendJSONString without the quotes around it.
func appendJSONStringBody(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(buf, s[start:]...)
}
