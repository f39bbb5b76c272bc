package identity_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

// wantField fails unless err is an invalid-argument error on field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	if invalidField(err) != field || !errors.Is(err, store.ErrInvalid) {
		t.Errorf("%s: error %v, want an invalid-argument error on %s", what, err, field)
	}
}

// TestNames_RefuseInvisibleAndInvalid: account and user names refuse control and format
// characters, whitespace-only and padded names and invalid UTF-8, and write nothing.
func TestNames_RefuseInvisibleAndInvalid(t *testing.T) {
	e := newEnv(t)
	founder := e.User("founder@example.com")
	for _, c := range testenv.BadNames() {
		t.Run(c.Class, func(t *testing.T) {
			_, err := e.Dir.CreateAccount(e.Ctx, founder.ID, c.Name, "payg")
			wantField(t, "CreateAccount", err, "name")
			_, err = e.Dir.CreateUser(e.Ctx, "u@example.com", c.Name)
			wantField(t, "CreateUser", err, "name")
			if _, err := e.Dir.UserByEmail(e.Ctx, "u@example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a refused name stored a user: %v", err)
			}
			wantField(t, "CheckName", identity.CheckName("display_name", c.Name, false), "display_name")
		})
	}
	if ms, err := e.Dir.Memberships(e.Ctx, founder.ID); err != nil || len(ms) != 0 {
		t.Fatalf("refused account names created %d accounts (%v)", len(ms), err)
	}
	for _, name := range testenv.GoodNames() {
		if _, err := e.Dir.CreateAccount(e.Ctx, founder.ID, name, "payg"); err != nil {
			t.Errorf("CreateAccount(%q): %v", name, err)
		}
		if err := identity.CheckName("name", name, true); err != nil {
			t.Errorf("CheckName(%q): %v", name, err)
		}
	}
	// A user's name is optional, an account's is not.
	if err := identity.CheckName("name", "", false); err != nil {
		t.Errorf("optional empty name: %v", err)
	}
	wantField(t, "required empty name", identity.CheckName("name", "", true), "name")
}

// TestDescriptions: free text keeps newlines, tabs and zero-width joiners (emoji sequences,
// scripts that need them) but refuses other control characters, bidi embeddings, overrides
// and isolates, and invalid UTF-8.
func TestDescriptions(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"reads the log\nand the members\tonly", true},
		{"team 👩\u200d💻", true},
		{"מחלקה (Hebrew) with a mark\u200f", true},
		{"", true},
		{"nul\x00", false},
		{"escape\x1b[2J", false},
		{"carriage return\r", false},
		{"C1\u0085", false},
		{"override \u202e", false},
		{"isolate \u2066x\u2069", false},
		{"invalid \xff", false},
	} {
		err := identity.CheckDescription("description", c.text, store.MaxDescriptionLen)
		if c.ok && err != nil {
			t.Errorf("CheckDescription(%q): %v", c.text, err)
		}
		if !c.ok {
			wantField(t, "CheckDescription", err, "description")
		}
	}
	wantField(t, "too long", identity.CheckDescription("description", string(make([]byte, 10)), 9), "description")
}
