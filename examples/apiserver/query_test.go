package main

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

// TestRepeatedQueryParameters: a paging parameter given twice, or the cursor under both of
// its spellings, is ambiguous (which one wins depends on the reader); it is refused with 400
// ERR_NGROK_215 naming the parameter, on every list. So is a query string that does not
// parse, whose broken pairs a lenient reader would drop silently.
func TestRepeatedQueryParameters(t *testing.T) {
	e := newEnv(t)
	bot := e.createBot("a").ID
	e.createBot("b")
	lists := []string{"/bot_users", "/credentials", "/api_keys", "/ssh_credentials", "/members", "/invitations", "/roles", "/events", "/identity_providers"}
	for _, tc := range []struct {
		name, query, param string
		lists              []string // default: every list
	}{
		{name: "limit twice, different values", query: "limit=1&limit=100", param: "limit"},
		{name: "limit twice, same value", query: "limit=5&limit=5", param: "limit"},
		{name: "limit twice, one empty", query: "limit=&limit=5", param: "limit"},
		{name: "before_id twice", query: "before_id=" + bot + "&before_id=" + bot, param: "before_id", lists: []string{"/bot_users"}},
		{name: "beforeId twice", query: "beforeId=" + bot + "&beforeId=" + bot, param: "beforeId", lists: []string{"/bot_users"}},
		{name: "both spellings", query: "before_id=" + bot + "&beforeId=" + bot, param: "before_id", lists: []string{"/bot_users"}},
		{name: "both spellings, empty", query: "before_id=&beforeId=", param: "before_id"},
		{name: "semicolon separator", query: "limit=1;limit=100", param: "query"},
		{name: "bad escape", query: "limit=1&x%zz=1", param: "query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths := tc.lists
			if paths == nil {
				paths = lists
			}
			for _, path := range paths {
				e.in(t).req("GET", path+"?"+tc.query, nil).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", tc.param)
			}
		})
	}
	// One of each is fine.
	e.req("GET", "/bot_users?limit=1&before_id="+bot, nil).want(http.StatusOK, nil)
	e.req("GET", "/bot_users?beforeId="+bot+"&limit=1", nil).want(http.StatusOK, nil)
}

// FuzzPageParams: whatever the query string, pageParams either refuses it with a 400 naming
// a parameter, or returns a page within bounds read from a query that parses and gives each
// paging parameter once, under one spelling, with the cursor as given.
func FuzzPageParams(f *testing.F) {
	for _, seed := range []string{
		"", "limit=10", "limit=1&limit=100", "before_id=bot_01J0000000000000000000000000&limit=2",
		"beforeId=x", "before_id=&beforeId=", "limit=1;limit=2", "%zz", "limit=%31%30", "filter=x", "limit",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{Path: "/bot_users", RawQuery: raw}}
		p, err := pageParams(r)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Param == "" {
				t.Fatalf("pageParams(%q) error %#v, want a 400 naming a parameter", raw, err)
			}
			return
		}
		q, perr := url.ParseQuery(raw)
		if perr != nil {
			t.Fatalf("pageParams accepted %q, which does not parse: %v", raw, perr)
		}
		for name, values := range q {
			if !isPageParam(name) || len(values) != 1 {
				t.Fatalf("pageParams accepted %q: parameter %q given %d times", raw, name, len(values))
			}
		}
		if q.Has("before_id") && q.Has("beforeId") {
			t.Fatalf("pageParams accepted both spellings in %q", raw)
		}
		if p.Limit < 1 || p.Limit > maxPageLimit {
			t.Fatalf("pageParams(%q) limit %d", raw, p.Limit)
		}
		// before_id is passed on as given, under either spelling: the library checks it when
		// it reads the page (a bad one is ERR_NGROK_227, see TestPagination).
		if want := q.Get("before_id") + q.Get("beforeId"); p.BeforeID != want {
			t.Fatalf("pageParams(%q) before_id %q, want %q", raw, p.BeforeID, want)
		}
	})
}
