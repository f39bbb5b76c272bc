package redisstore

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/store"
)

// FuzzParsePointer checks that a pointer value reads back as written, whatever its primary
// key holds, and that no value makes parsePointer panic.
func FuzzParsePointer(f *testing.F) {
	f.Add("usr_01J0000000000000000000abcd", int64(1767225600000), "k3x9")
	f.Add("a|b", int64(0), "")
	f.Add("", int64(-1), "n")
	f.Add("acct/usr|x", int64(42), "||")
	f.Fuzz(func(t *testing.T, pk string, lease int64, nonce string) {
		if got, _, ok := parsePointer(pk); !ok && got != pk {
			t.Errorf("parsePointer(%q) = %q without a lease, want the value itself", pk, got)
		}
		if strings.Contains(nonce, "|") {
			return // nonces are base-36 digits
		}
		v := pk + "|" + strconv.FormatInt(lease, 10) + "|" + nonce
		gotPK, gotLease, ok := parsePointer(v)
		if !ok || gotPK != pk || gotLease != lease {
			t.Errorf("parsePointer(%q) = %q, %d, %v; want %q, %d, true", v, gotPK, gotLease, ok, pk, lease)
		}
	})
}

// FuzzDecodeCursor checks that decodeCursor accepts what encodeCursor writes and refuses
// anything else with store.ErrInvalid, without panicking.
func FuzzDecodeCursor(f *testing.F) {
	s := &Store{ks: newKeyspace("p", 4)}
	f.Add("")
	f.Add("r1.4....")
	f.Add("r1.4.1-2.3-4..18446744073709551615-0")
	f.Add("r1.3...")
	f.Add("r1.4.1-.-2..")
	f.Add("r2.4....")
	f.Fuzz(func(t *testing.T, c string) {
		pos, err := s.decodeCursor(store.Cursor(c))
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("decodeCursor(%q): %v, want an error matching store.ErrInvalid", c, err)
			}
			return
		}
		if len(pos) != s.ks.n {
			t.Fatalf("decodeCursor(%q) returned %d positions, want %d", c, len(pos), s.ks.n)
		}
		again, err := s.decodeCursor(s.encodeCursor(pos))
		if err != nil || !slices.Equal(again, pos) {
			t.Errorf("decodeCursor(encodeCursor(%v)) = %v, %v", pos, again, err)
		}
	})
}
