package main

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// encodedBotUserPage is the page as encoding/json writes it: the map of botUserJSON the
// list handler rendered before appendBotUserPage, the reference the fast writer must match.
func encodedBotUserPage(t testing.TB, base string, v botView, page []store.BotUser, uri string, next *string) []byte {
	t.Helper()
	items := make([]botUserJSON, len(page))
	for i, b := range page {
		items[i] = botUserOut(base, v, b)
	}
	rec := httptest.NewRecorder()
	if err := writeJSON(rec, 200, map[string]any{v.listKey: items, "uri": uri, "next_page_uri": next}); err != nil {
		t.Fatal(err)
	}
	return rec.Body.Bytes()
}

var pageViews = []botView{{path: "/bot_users", listKey: "bot_users"}, {path: "/service_users", listKey: "service_users"}}

// TestBotUserPageJSONMatchesEncodingJSON: the bot user list response written by hand is,
// byte for byte, what encoding/json writes for the same page, for both collections, with and
// without a next page, for names and roles that need every kind of escaping.
func TestBotUserPageJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 29, 22, 22, 58, 123456789, time.FixedZone("x", 3600))
	next := "http://api.test/bot_users?before_id=bot_2&limit=2"
	for _, c := range []struct {
		name string
		page []store.BotUser
		next *string
	}{
		{"empty", nil, nil},
		{"plain", []store.BotUser{{ID: "bot_1", Name: "ci", Active: true, CreatedAt: at}, {ID: "bot_2", Name: "", CreatedAt: at}}, &next},
		{"roles", []store.BotUser{{ID: "bot_1", Name: "r", Roles: []string{"admin", "<x>&y"}, CreatedAt: at}, {ID: "bot_2", Roles: []string{}}}, nil},
		{"escapes", []store.BotUser{{ID: "bot_1", Name: "a\"b\\c\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é€😀\xff\xc3", CreatedAt: at}}, &next},
	} {
		for _, v := range pageViews {
			t.Run(c.name+v.path, func(t *testing.T) {
				want := encodedBotUserPage(t, "http://api.test", v, c.page, "http://api.test"+v.path, c.next)
				got := appendBotUserPage(nil, "http://api.test", v, c.page, "http://api.test"+v.path, c.next)
				if !bytes.Equal(got, want) {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			})
		}
	}
}

// FuzzBotUserPageJSON: for any name, role and base URL, the hand-written page is what
// encoding/json writes.
func FuzzBotUserPageJSON(f *testing.F) {
	f.Add("ci", "admin", "http://api.test", true)
	f.Add("a\"<>&\u2028\xff\x01", "", "http://a&b", false)
	f.Fuzz(func(t *testing.T, name, role, base string, service bool) {
		v := pageViews[0]
		if service {
			v = pageViews[1]
		}
		var roles []string
		if role != "" {
			roles = []string{role, name}
		}
		page := []store.BotUser{{ID: "bot_1", Name: name, Roles: roles, Active: service, CreatedAt: time.Unix(1700000000, 0)}, {ID: "bot_2", Name: role}}
		next := base + "?" + name
		want := encodedBotUserPage(t, base, v, page, base+v.path, &next)
		if got := appendBotUserPage(nil, base, v, page, base+v.path, &next); !bytes.Equal(got, want) {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
}
