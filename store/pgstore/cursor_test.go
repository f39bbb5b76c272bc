package pgstore

import (
	"errors"
	"slices"
	"testing"

	"github.com/iamkit/iamkit/store"
)

// FuzzParseCursor checks the cursor parser on any input: it never panics, it accepts only the
// one spelling String gives (so what it parses prints back as it was), and what it refuses
// is ErrInvalid.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", ":", "a:0", "0123abcd:0,1,2", "ff:18446744073709551615", "ff:18446744073709551616",
		"ff:01", "FF:1", "ff:1,,2", "ff:-1", "ff:+1", "x:1", "ff:1 ", "ff:0,0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("parseCursor(%q) = %v, want ErrInvalid", s, err)
			}
			return
		}
		if got := c.String(); got != s {
			t.Fatalf("parseCursor(%q).String() = %q", s, got)
		}
	})
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []cursor{
		{epoch: "0123456789abcdef", revs: []uint64{0}},
		{epoch: "ab", revs: []uint64{0, 1, 18446744073709551615, 42}},
	} {
		got, err := parseCursor(c.String())
		if err != nil || got.epoch != c.epoch || !slices.Equal(got.revs, c.revs) {
			t.Errorf("parseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
}
