package scim_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/iamkit/iamkit/sso/scim"
)

// FuzzNormalizeBooleans: the rewrite of Entra's string booleans returns the body unchanged
// or valid JSON, never turns valid JSON into invalid, and is idempotent.
func FuzzNormalizeBooleans(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"replace","value":{"active":"TRUE","displayName":"x"}}]}`,
		`{"userName":"a@b.test","active":"false"}`,
		`{"active":true}`, `[]`, `{"a":1}{}`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := scim.NormalizeBooleans(data)
		if !bytes.Equal(out, data) && !json.Valid(out) {
			t.Fatalf("rewrote %q into invalid JSON %q", data, out)
		}
		if json.Valid(data) && !json.Valid(out) {
			t.Fatalf("valid %q became invalid %q", data, out)
		}
		if again := scim.NormalizeBooleans(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
	})
}

// TestNormalizeBooleans: what is rewritten and what is left alone.
func TestNormalizeBooleans(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, `{"Operations":[{"op":"Replace","path":"active","value":false}]}`},
		{`{"Operations":[{"op":"Replace","value":{"active":"True"}}]}`, `{"Operations":[{"op":"Replace","value":{"active":true}}]}`},
		{`{"active":"false","userName":"a@b.test"}`, `{"active":false,"userName":"a@b.test"}`},
		{`{"Operations":[{"op":"Replace","path":"displayName","value":"False"}]}`, `{"Operations":[{"op":"Replace","path":"displayName","value":"False"}]}`},
		{`{"active":"maybe"}`, `{"active":"maybe"}`},
	} {
		got := scim.NormalizeBooleans([]byte(c.in))
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if err := json.Unmarshal([]byte(c.want), &w); err != nil {
			t.Fatal(err)
		}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(gb, wb) {
			t.Errorf("%s: got %s, want %s", c.in, gb, wb)
		}
	}
}
