package redisstore

import (
	"strconv"
	"strings"
	"testing"
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
