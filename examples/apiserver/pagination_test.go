package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestPagination walks 250 bot users and 250 authtokens by following next_page_uri until it
// is null: every item once, newest first, in pages of the requested size.
func TestPagination(t *testing.T) {
	e := newEnv(t)
	const n = 250
	var botIDs, credIDs []string // in creation order
	for i := range n {
		botIDs = append(botIDs, e.createBot(fmt.Sprintf("bot-%03d", i)).ID)
		var c ngrokCredential
		e.req("POST", "/credentials", map[string]any{"description": fmt.Sprint(i)}).want(http.StatusCreated, &c)
		credIDs = append(credIDs, c.ID)
	}
	newestFirst := func(ids []string) []string { out := slices.Clone(ids); slices.Reverse(out); return out }

	walk := func(t *testing.T, first string, items func(r *response) ([]string, *string)) (ids []string, pages []int) {
		t.Helper()
		next := &first
		for next != nil {
			if len(pages) > n { // bounded: a loop in next_page_uri must not hang the test
				t.Fatal("too many pages")
			}
			page, nxt := items(e.req("GET", *next, nil))
			ids = append(ids, page...)
			pages = append(pages, len(page))
			next = nxt
		}
		return ids, pages
	}

	t.Run("bot users, limit 100", func(t *testing.T) {
		ids, pages := walk(t, e.srv.URL+"/bot_users?limit=100", func(r *response) ([]string, *string) {
			var l ngrokBotUserList
			r.want(http.StatusOK, &l)
			var ids []string
			for _, b := range l.BotUsers {
				ids = append(ids, b.ID)
			}
			if l.NextPageURI != nil {
				u, err := url.Parse(*l.NextPageURI)
				if err != nil || u.Scheme+"://"+u.Host != e.srv.URL || u.Query().Get("limit") != "100" || u.Query().Get("before_id") != ids[len(ids)-1] {
					t.Fatalf("next_page_uri %q", *l.NextPageURI)
				}
			}
			return ids, l.NextPageURI
		})
		if !slices.Equal(pages, []int{100, 100, 50}) || !slices.Equal(ids, newestFirst(botIDs)) {
			t.Fatalf("pages %v; ids in order: %v", pages, slices.Equal(ids, newestFirst(botIDs)))
		}
	})

	t.Run("authtokens, default limit", func(t *testing.T) {
		ids, pages := walk(t, e.srv.URL+"/credentials", func(r *response) ([]string, *string) {
			var l ngrokCredentialList
			r.want(http.StatusOK, &l)
			var ids []string
			for _, c := range l.Credentials {
				ids = append(ids, c.ID)
			}
			return ids, l.NextPageURI
		})
		if !slices.Equal(pages, []int{100, 100, 50}) || !slices.Equal(ids, newestFirst(credIDs)) {
			t.Fatalf("pages %v; ids in order: %v", pages, slices.Equal(ids, newestFirst(credIDs)))
		}
	})

	t.Run("small pages", func(t *testing.T) {
		ids, pages := walk(t, e.srv.URL+"/bot_users?limit=7", func(r *response) ([]string, *string) {
			var l ngrokBotUserList
			r.want(http.StatusOK, &l)
			var ids []string
			for _, b := range l.BotUsers {
				ids = append(ids, b.ID)
			}
			return ids, l.NextPageURI
		})
		if len(pages) != 36 || pages[35] != 250%7 || !slices.Equal(ids, newestFirst(botIDs)) {
			t.Fatalf("%d pages, last %d", len(pages), pages[len(pages)-1])
		}
	})

	t.Run("before_id is exclusive", func(t *testing.T) {
		var l ngrokBotUserList
		e.req("GET", "/bot_users?limit=2&before_id="+botIDs[10], nil).want(http.StatusOK, &l)
		if len(l.BotUsers) != 2 || l.BotUsers[0].ID != botIDs[9] || l.BotUsers[1].ID != botIDs[8] {
			t.Fatalf("page before %s: %+v", botIDs[10], l.BotUsers)
		}
		e.req("GET", "/bot_users?before_id="+botIDs[0], nil).want(http.StatusOK, &l)
		if len(l.BotUsers) != 0 || l.NextPageURI != nil {
			t.Fatalf("page before the oldest: %+v", l)
		}
	})

	// ngrok's JavaScript client (@ngrok/ngrok-api 0.11) sends the cursor as beforeId.
	t.Run("beforeId spelling", func(t *testing.T) {
		var l ngrokBotUserList
		e.req("GET", "/bot_users?limit=2&beforeId="+botIDs[10], nil).want(http.StatusOK, &l)
		if len(l.BotUsers) != 2 || l.BotUsers[0].ID != botIDs[9] || l.BotUsers[1].ID != botIDs[8] {
			t.Fatalf("page beforeId %s: %+v", botIDs[10], l.BotUsers)
		}
		e.req("GET", "/bot_users?beforeId=bogus", nil).wantError(http.StatusBadRequest, "ERR_NGROK_227")
	})

	t.Run("limit bounds", func(t *testing.T) {
		for _, limit := range []string{"0", "101", "-1", "abc", ""} {
			e.req("GET", "/bot_users?limit="+limit, nil).wantError(http.StatusBadRequest, "ERR_NGROK_233")
			e.req("GET", "/api_keys?limit="+limit, nil).wantError(http.StatusBadRequest, "ERR_NGROK_233")
		}
		for _, limit := range []string{"1", "100"} {
			e.req("GET", "/bot_users?limit="+limit, nil).want(http.StatusOK, nil)
		}
		e.req("GET", "/bot_users?before_id="+strings.Replace(botIDs[0], "bot_", "cr_", 1), nil).wantError(http.StatusBadRequest, "ERR_NGROK_227")
		e.req("GET", "/bot_users?filter=x", nil).wantError(http.StatusBadRequest, "ERR_NGROK_214")
	})
}
