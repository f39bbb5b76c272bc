package sso

import (
	"strings"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
)

// FuzzParseRoute: the handler's path parser never panics and accepts only the four routes
// with well-formed IDs.
func FuzzParseRoute(f *testing.F) {
	const acct, idp = "ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", "idp_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	for _, s := range []string{acct + "/login", acct + "/" + idp + "/acs", acct + "/" + idp + "/metadata",
		acct + "/" + idp + "/login", "", "/", acct + "//acs", acct + "/" + idp + "/acs/", "../" + acct + "/login"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, ok := parseRoute(path)
		if !ok {
			return
		}
		if id.Check(r.accountID, id.Account) != nil {
			t.Fatalf("accepted account %q", r.accountID)
		}
		switch {
		case r.idpID == "" && r.action == "login":
		case id.Check(r.idpID, id.IdentityProvider) == nil && (r.action == "login" || r.action == "metadata" || r.action == "acs"):
		default:
			t.Fatalf("accepted %+v", r)
		}
		want := r.accountID + "/" + r.action
		if r.idpID != "" {
			want = r.accountID + "/" + r.idpID + "/" + r.action
		}
		if path != want || strings.ContainsAny(path, "\\.%") {
			t.Fatalf("%q parsed as %+v", path, r)
		}
	})
}
