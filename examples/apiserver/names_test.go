package main

import (
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/iamkit/iamkit/internal/testenv"
)

// TestBotUserNames_RefuseInvisible: a bot user name with control or format characters,
// whitespace only or padded is refused with 400 naming the field (ngrok's code for an invalid
// value: its bot-name codes say "empty" and "too long", which these are not), on create and on
// rename, and nothing is stored. Invalid UTF-8 in a JSON body is the JSON
// layer's to refuse; the library refuses it too (botuser's TestNames_RefuseInvisibleAndInvalid).
func TestBotUserNames_RefuseInvisible(t *testing.T) {
	e := newEnv(t)
	bot := e.createBot("ci")
	before := e.snapshot()
	for _, c := range testenv.BadNames() {
		if !utf8.ValidString(c.Name) {
			continue
		}
		t.Run(c.Class, func(t *testing.T) {
			e.t = t
			e.req("POST", "/bot_users", map[string]any{"name": c.Name}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "name")
			e.req("PATCH", "/bot_users/"+bot.ID, map[string]any{"name": c.Name}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "name")
		})
	}
	e.t = t
	if after := e.snapshot(); after != before {
		t.Fatalf("refused names changed the store: %+v, was %+v", after, before)
	}
	var got ngrokBotUser
	e.req("GET", "/bot_users/"+bot.ID, nil).want(http.StatusOK, &got)
	if got.Name != "ci" {
		t.Fatalf("bot renamed to %q", got.Name)
	}
}
