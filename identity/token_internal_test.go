package identity

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// leaks reports whether the rendered error contains s: a redaction check (an error must not
// repeat a secret input), never a way to tell errors apart.
func leaks(err error, s string) bool { return strings.Contains(fmt.Sprint(err), s) }

// FuzzParseInvitationToken: the parser never panics, accepts only the exact shape (prefix,
// a valid invitation ID body, 32 bytes of strict base64url), never repeats its input in an
// error, and a token it accepts is the one Invite would make for that ID and secret.
func FuzzParseInvitationToken(f *testing.F) {
	const invID = "inv_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	tok, _, err := newInvitationToken(rand.Reader, invID)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok.Reveal(), "", "ivt_", tok.Reveal()[:len(tok.Reveal())-1] + "B", strings.ToUpper(tok.Reveal()), "ivt_" + strings.Repeat("_", InvitationTokenLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gotID, hash, err := parseInvitationToken(s)
		if err != nil {
			var se *store.Error
			if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Field != "token" || (len(s) > 8 && leaks(err, s)) {
				t.Fatalf("error %v for %q", err, s)
			}
			return
		}
		if len(s) != InvitationTokenLen || id.Check(gotID, id.Invitation) != nil || len(hash) != 64 {
			t.Fatalf("accepted %q as %q, %q", s, gotID, hash)
		}
		secret := s[len(s)-tokenSecretLen:]
		again, _, err := newInvitationToken(bytes.NewReader(mustDecode(t, secret)), gotID)
		if err != nil || again.Reveal() != s {
			t.Fatalf("%q is not the token of %s: %q, %v", s, gotID, again.Reveal(), err)
		}
	})
}

func mustDecode(t *testing.T, secret string) []byte {
	t.Helper()
	b, err := base64URL.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
