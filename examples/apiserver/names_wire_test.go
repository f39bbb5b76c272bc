package main

import (
	"net/http"
	"testing"
)

// TestNamesWithControlOrFormatCharacters: a name holding a control character (NUL, ESC) or a
// Unicode format character (a bidi override or isolate, a direction mark) is valid JSON and
// valid UTF-8, so the wire layer passes it on; the library refuses it, and the API answers
// 400 ERR_NGROK_215 naming the field, storing nothing.
//
// The library rule comes from the sec-identity branch (identity, botuser and rbac name
// validation): until that branch is merged this test fails.
func TestNamesWithControlOrFormatCharacters(t *testing.T) {
	e := newEnv(t)
	bot := e.createBot("ci")
	var role roleOutT
	e.req("POST", "/roles", map[string]any{"name": "auditor", "permissions": []string{"events:read"}}).want(http.StatusCreated, &role)
	var inv invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "ana@example.com"}).want(http.StatusCreated, &inv)

	for _, name := range []struct{ what, value string }{
		{"NUL", "ci\u0000prod"},
		{"ESC", "ci\u001b[2J"},
		{"right-to-left override", "ci\u202eprod"},
		{"left-to-right isolate", "\u2066ci"},
		{"right-to-left mark", "ci\u200f"},
	} {
		for _, tc := range []struct {
			name, method, path string
			body               map[string]any
		}{
			{"bot user create", "POST", "/bot_users", map[string]any{"name": name.value}},
			{"bot user rename", "PATCH", "/bot_users/" + bot.ID, map[string]any{"name": name.value}},
			{"role create", "POST", "/roles", map[string]any{"name": name.value, "permissions": []string{"events:read"}}},
			{"role rename", "PATCH", "/roles/" + role.ID, map[string]any{"name": name.value}},
		} {
			t.Run(tc.name+", "+name.what, func(t *testing.T) {
				e := e.in(t)
				before := e.snapshot()
				e.req(tc.method, tc.path, tc.body).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "name")
				if after := e.snapshot(); after != before {
					t.Fatalf("store changed: %+v -> %+v", before, after)
				}
			})
		}
	}
}
