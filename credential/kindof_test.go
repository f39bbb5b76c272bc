package credential

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/store"
)

func TestKindOf(t *testing.T) {
	body := strings.TrimPrefix(testAuthtokenID, "cr_")
	for _, tc := range []struct {
		id   string
		want store.CredentialKind // "": refused
	}{
		{testAuthtokenID, store.Authtoken},
		{testAPIKeyID, store.APIKey},
		{"sshcr_" + body, store.SSHCredential},
		{testAccessTokenID, store.AccessToken},
		{"bot_" + body, ""},
		{"usr_" + body, ""},
		{"cr_123", ""},
		{"cr_" + strings.ToLower(body), ""},
		{"CR_" + body, ""},
		{"cr" + body, ""},
		{"", ""},
	} {
		got, err := KindOf(tc.id)
		if tc.want == "" {
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != "id" || se.Code != store.CodeInvalidValue || got != "" {
				t.Errorf("KindOf(%q) = %q, %v; want an invalid-argument error on id", tc.id, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", tc.id, got, err, tc.want)
		}
	}
}

// FuzzKindOf: KindOf either refuses a string as an invalid id, or names the kind whose
// prefix the string carries.
func FuzzKindOf(f *testing.F) {
	for _, s := range []string{testAuthtokenID, testAPIKeyID, testAccessTokenID, "sshcr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ", "bot_x", "", "_", "cr_"} {
		f.Add(s)
	}
	prefixes := map[store.CredentialKind]string{store.Authtoken: "cr_", store.APIKey: "ak_", store.SSHCredential: "sshcr_", store.AccessToken: "pat_"}
	f.Fuzz(func(t *testing.T, s string) {
		kind, err := KindOf(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != store.CodeInvalidValue || kind != "" {
				t.Fatalf("KindOf(%q) = %q, %v", s, kind, err)
			}
			return
		}
		if p, ok := prefixes[kind]; !ok || !strings.HasPrefix(s, p) {
			t.Fatalf("KindOf(%q) = %q", s, kind)
		}
	})
}
