package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestBodyEncodingAndDuplicateKeys: encoding/json silently replaces invalid UTF-8 and unpaired
// surrogate escapes with U+FFFD (so two different names become one) and lets the last of
// two equal keys win (so a proxy or a log may read one value and the server another). Both
// are refused with 400 ERR_NGROK_215 naming the field, and nothing is stored.
func TestBodyEncodingAndDuplicateKeys(t *testing.T) {
	e := newEnv(t)
	bot := e.createBot("taken")
	key := e.createAPIKey("")

	for _, tc := range []struct {
		name, method, path, body, param string
	}{
		// Invalid UTF-8, in values, keys and list items.
		{name: "invalid byte in a name", method: "POST", path: "/bot_users", body: "{\"name\":\"a\xffb\"}", param: "name"},
		{name: "another invalid byte in a name", method: "POST", path: "/bot_users", body: "{\"name\":\"a\xfeb\"}", param: "name"},
		{name: "truncated sequence", method: "POST", path: "/bot_users", body: "{\"name\":\"caf\xc3\"}", param: "name"},
		{name: "overlong encoding", method: "POST", path: "/bot_users", body: "{\"name\":\"\xc0\xafetc\"}", param: "name"},
		{name: "UTF-8 encoded surrogate", method: "POST", path: "/bot_users", body: "{\"name\":\"a\xed\xa0\x80\"}", param: "name"},
		{name: "invalid byte in a rename", method: "PATCH", path: "/bot_users/" + bot.ID, body: "{\"name\":\"x\xff\"}", param: "name"},
		{name: "invalid byte in a list item", method: "POST", path: "/credentials", body: "{\"acl\":[\"bind:a.example.com\",\"bind:\xff.example.com\"]}", param: "acl[1]"},
		{name: "invalid byte in a key", method: "POST", path: "/bot_users", body: "{\"na\xffme\":\"a\"}", param: "body"},
		{name: "invalid byte in a description", method: "PATCH", path: "/api_keys/" + key.ID, body: "{\"description\":\"\xff\"}", param: "description"},
		// Escapes that decode to U+FFFD as well.
		{name: "lone high surrogate", method: "POST", path: "/bot_users", body: `{"name":"a\ud800"}`, param: "name"},
		{name: "lone low surrogate", method: "POST", path: "/bot_users", body: `{"name":"a\udc00b"}`, param: "name"},
		{name: "high surrogate before a letter", method: "POST", path: "/bot_users", body: `{"name":"\ud83dx"}`, param: "name"},
		{name: "two high surrogates", method: "POST", path: "/bot_users", body: `{"name":"\ud83d\ud83d"}`, param: "name"},
		{name: "surrogate in a key", method: "POST", path: "/bot_users", body: `{"name\udfff":"a"}`, param: "body"},

		// Duplicate keys, at any depth and however spelt.
		{name: "duplicate name", method: "POST", path: "/bot_users", body: `{"name":"a","name":"b"}`, param: "name"},
		{name: "duplicate through an escape", method: "POST", path: "/bot_users", body: `{"name":"a","n\u0061me":"b"}`, param: "name"},
		{name: "duplicate with null", method: "PATCH", path: "/api_keys/" + key.ID, body: `{"description":"x","description":null}`, param: "description"},
		{name: "duplicate active", method: "PATCH", path: "/bot_users/" + bot.ID, body: `{"active":true,"name":"n","active":false}`, param: "active"},
		{name: "duplicate list", method: "POST", path: "/credentials", body: `{"acl":["bind:a.example.com"],"acl":[]}`, param: "acl"},
		{name: "duplicate nested", method: "POST", path: "/credentials", body: `{"acl":[{"a":1,"a":2}]}`, param: "acl[0].a"},
		{name: "duplicate unknown field", method: "POST", path: "/bot_users", body: `{"name":"a","x":1,"x":2}`, param: "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			before := e.snapshot()
			e.req(tc.method, tc.path, tc.body).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", tc.param)
			if after := e.snapshot(); after != before {
				t.Fatalf("store changed: %+v -> %+v", before, after)
			}
		})
	}

	// What is well-formed passes the JSON layer: a surrogate pair, equal keys in different
	// objects, and a U+FFFD the client meant, which the library's name rule then refuses
	// (names never hold U+FFFD, so that replaced bytes cannot make two names one).
	for _, body := range []string{`{"name":"\ud83d\ude00"}`, `{"name":"caf\u00e9"}`} {
		e.req("POST", "/bot_users", body).want(http.StatusCreated, nil)
	}
	for _, body := range []string{"{\"name\":\"\xef\xbf\xbd\"}", `{"name":"\ufffd!"}`} {
		e.req("POST", "/bot_users", body).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "name")
	}
	e.req("POST", "/credentials", `{"acl":["bind:a.example.com","bind:a.example.com"]}`).want(http.StatusCreated, nil)
	// Malformed JSON stays ERR_NGROK_213.
	e.req("POST", "/bot_users", "{\"name\":\"a\"}\xff").wantError(http.StatusBadRequest, "ERR_NGROK_213")
	e.req("POST", "/bot_users", "\xff{\"name\":\"a\"}").wantError(http.StatusBadRequest, "ERR_NGROK_213")
}

// FuzzDecodeBody: whatever the body, decodeBody either refuses it with a 4xx ngrok error or
// decodes a body that is valid UTF-8 JSON, one object whose keys are all distinct, into
// values where U+FFFD appears only if the client sent one.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, ``, ` `, `{"name":"a"}`, `{"name":"a","name":"b"}`, "{\"name\":\"\xff\"}", `{"name":"\ud800"}`,
		`{"name":"\ud83d\ude00"}`, `{"acl":["bind:x.example.com"],"active":true}`, `{"acl":[{"a":1,"a":2}]}`,
		`[]`, `{"name":"a"} {}`, `{"name":null}`, `{"n\u0061me":"x"}`, `{"name":"\\ud800"}`, `{"name":"\ufffd"}`,
	} {
		f.Add([]byte(seed))
	}
	type body struct {
		Name   *string  `json:"name"`
		ACL    []string `json:"acl"`
		Active *bool    `json:"active"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := httptest.NewRequest("POST", "/bot_users", bytes.NewReader(data))
		r.Header.Set("Content-Type", "application/json")
		var dst body
		err := decodeBody(httptest.NewRecorder(), r, &dst)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Msg == "" {
				t.Fatalf("decodeBody(%q) error %#v, want an ngrok 4xx", data, err)
			}
			return
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return // the empty object
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("decodeBody accepted %q, which is not valid UTF-8 JSON", data)
		}
		if n, unique := topLevelKeys(t, data); n != unique {
			t.Fatalf("decodeBody accepted %q: %d keys, %d distinct", data, n, unique)
		}
		sentFFFD := bytes.Contains(data, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`))
		values := dst.ACL
		if dst.Name != nil {
			values = append(values, *dst.Name)
		}
		for _, v := range values {
			if strings.ContainsRune(v, utf8.RuneError) && !sentFFFD {
				t.Fatalf("decodeBody(%q) decoded %q: a U+FFFD the client did not send", data, v)
			}
		}
	})
}

// topLevelKeys counts the keys of the JSON object data, and the distinct ones.
func topLevelKeys(t *testing.T, data []byte) (n, unique int) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, expectKey := 0, false
	for {
		tok, err := dec.Token()
		if err != nil {
			return n, len(m)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			expectKey = tok == json.Delim('{') && depth == 1
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			expectKey = depth == 1
			continue
		}
		if depth == 1 && expectKey {
			n++
			expectKey = false
		} else if depth == 1 {
			expectKey = true
		}
	}
}

// BenchmarkDecodeBody decodes a typical create body (an authtoken with an ACL), so that
// checkJSON's extra pass over it has a figure.
func BenchmarkDecodeBody(b *testing.B) {
	body := []byte(`{"description":"deploys from CI","metadata":"{\"team\":\"edge\"}","acl":["bind:*.example.com","bind:api.example.com"],"owner_id":"bot_01J0000000000000000000000000"}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/credentials", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var dst authtokenCreate
		if err := decodeBody(httptest.NewRecorder(), r, &dst); err != nil {
			b.Fatal(err)
		}
	}
}
