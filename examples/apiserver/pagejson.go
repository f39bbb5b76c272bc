package main

import (
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// The bot user list response, written without reflection. encoding/json spent about 50 µs
// of a page of 100 on reflection and the map the response was built in; appendBotUserPage
// writes the same bytes (TestBotUserPageJSONMatchesEncodingJSON) straight from the records.

// writeBotUserPage writes a page of bot users of collection v as ngrok's list response:
// what writeJSON writes for map[string]any{v.listKey: []botUserJSON, "uri": uri,
// "next_page_uri": next}.
func writeBotUserPage(w http.ResponseWriter, base string, v botView, page []store.BotUser, uri string, next *string) error {
	buf := appendBotUserPage(make([]byte, 0, 256+200*len(page)), base, v, page, uri, next)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf)
	return err
}

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
	for i, b := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendBotUser(buf, base, v, b)
	}
	return append(buf, ']')
}

// appendBotUser appends b as botUserOut renders it, in botUserJSON's field order.
func appendBotUser(buf []byte, base string, v botView, b store.BotUser) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, b.ID)
	buf = append(buf, `,"name":`...)
	buf = appendJSONString(buf, b.Name)
	buf = append(buf, `,"active":`...)
	buf = strconv.AppendBool(buf, b.Active)
	buf = append(buf, `,"created_at":`...)
	buf = appendJSONString(buf, identity.Timestamp(b.CreatedAt))
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
	buf = append(buf, `,"uri":`...)
	buf = appendJSONString(buf, base+v.path+"/"+b.ID)
	return append(buf, '}')
}

// appendJSONString appends s quoted as encoding/json quotes a string by default (HTML-safe):
// '"' and '\\' escaped, the control characters as \b \f \n \r \t or \u00XX, '<', '>' and '&'
// as \u003c \u003e \u0026, U+2028 and U+2029 as \u2028 and \u2029, and each byte of invalid
// UTF-8 as \ufffd.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
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
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
