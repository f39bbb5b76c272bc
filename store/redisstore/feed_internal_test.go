package redisstore

import (
	"errors"
	"math"
	"testing"

	"github.com/iamkit/iamkit/store"
)

// sid is a stream ID.
func sid(ms, seq uint64) streamID { return streamID{ms, seq} }

// TestStreamStateLost checks the gap rules of the feed on stream states as the feed script
// reports them, each against a cursor at entry 100-0, the 10th entry its stream took.
func TestStreamStateLost(t *testing.T) {
	p := position{sid(100, 0), 10, "0000000000000"}
	entries := func(ids ...streamID) []feedEntry {
		var es []feedEntry
		for _, i := range ids {
			es = append(es, feedEntry{id: i})
		}
		return es
	}
	cases := []struct {
		name string
		st   streamState
		lost bool
	}{
		{"intact: the position's entry is still held", streamState{intact: true, entries: entries(sid(101, 0))}, false},
		{"nothing new, nothing trimmed past", streamState{length: 4, added: 10, last: sid(100, 0), first: sid(90, 0), full: true}, false},
		{"new entries, none missed", streamState{length: 6, added: 12, last: sid(102, 0), first: sid(90, 0),
			entries: entries(sid(101, 0), sid(102, 0)), full: true}, false},
		{"the oldest held is the one after the position", streamState{length: 2, added: 12, last: sid(102, 0), first: sid(101, 0),
			entries: entries(sid(101, 0), sid(102, 0)), full: true}, false},
		{"emptied after the position was read", streamState{length: 0, added: 10, last: sid(100, 0), full: true}, false},
		{"trimmed past the position", streamState{length: 2, added: 13, last: sid(103, 0), first: sid(102, 0),
			entries: entries(sid(102, 0), sid(103, 0)), full: true}, true},
		{"emptied past the position", streamState{length: 0, added: 11, last: sid(101, 0), full: true}, true},
		{"deleted", streamState{full: true}, true},
		{"rewound: fewer entries than counted", streamState{length: 3, added: 9, last: sid(99, 0), first: sid(97, 0), full: true}, true},
		{"rewound below the ID, then written", streamState{length: 4, added: 10, last: sid(100, 5), first: sid(97, 0),
			entries: entries(sid(100, 5)), full: true}, true},
		{"recreated: the oldest held is after the position's entry", streamState{length: 12, added: 12, last: sid(300, 0), first: sid(200, 0),
			entries: entries(sid(200, 0), sid(300, 0)), full: true}, true},
		{"ends elsewhere with no entry added since", streamState{length: 0, added: 10, last: sid(100, 1), full: true}, true},
		{"what follows is not what was added after", streamState{length: 5, added: 12, last: sid(102, 0), first: sid(98, 0),
			entries: entries(sid(102, 0)), full: true}, true},
		{"a partial read cannot be counted", streamState{length: 1005, added: 1012, last: sid(2000, 0), first: sid(98, 0),
			entries: entries(sid(101, 0)), full: false}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.lost(p); got != tc.lost {
				t.Errorf("lost(%+v) = %v for a cursor at %+v, want %v", tc.st, got, p, tc.lost)
			}
		})
	}
	if (streamState{}).lost(position{}) {
		t.Error("a missing stream is a gap for the zero position; want none")
	}
}

// FuzzDecodeCursor: any string either decodes or fails with an ErrInvalid naming the
// cursor, and what decodes re-encodes to a cursor that decodes to the same positions.
func FuzzDecodeCursor(f *testing.F) {
	s := &Store{ks: newKeyspace("p", 3)}
	f.Add("")
	f.Add("r3.3...")
	f.Add("r3.3.1700000000000-0:1:0abcdefghijkl..1700000000001-7:42:")
	f.Add("r3.3.0-0:0:.18446744073709551615-18446744073709551615:18446744073709551615:zzzzzzzzzzzzz.")
	f.Add("r2.3.1700000000000-0:1..")
	f.Add("r1.3.1700000000000-0..")
	f.Add("r3.4....")
	f.Add("r3.3.1-2:3:4..")
	f.Fuzz(func(t *testing.T, c string) {
		pos, err := s.decodeCursor(store.Cursor(c))
		if err != nil {
			var inv *store.Error
			if !errors.As(err, &inv) || inv.Kind != store.ErrInvalid || inv.Field != "cursor" {
				t.Fatalf("decodeCursor(%q) = %v, want an ErrInvalid naming the cursor", c, err)
			}
			return
		}
		if len(pos) != 3 {
			t.Fatalf("decodeCursor(%q) gave %d positions for 3 shards", c, len(pos))
		}
		again, err := s.decodeCursor(s.encodeCursor(pos))
		if err != nil {
			t.Fatalf("re-encoded cursor of %q does not decode: %v", c, err)
		}
		for i := range pos {
			if again[i] != pos[i] {
				t.Fatalf("cursor %q: position %d decodes to %+v, re-encoded to %+v", c, i, pos[i], again[i])
			}
		}
	})
}

// FuzzParseStreamState: any reply shape either parses or fails with an error, and what
// parses is consistent: a held position, or no more entries held than ever added, and a read
// the byte bound cut short is never taken for one that read everything.
func FuzzParseStreamState(f *testing.F) {
	f.Add(int64(4), int64(10), "100-0", "90-0", "0abcdefghijkl", int64(0), int64(0), "101-0", `[{"kind":"account"}]`, "0abcdefghijkl", 2)
	f.Add(int64(4), int64(10), "100-0", "90-0", "0abcdefghijkl", int64(1), int64(0), "101-0", `[{"kind":"account"}]`, "0abcdefghijkl", 2)
	f.Add(int64(4), int64(10), "100-0", "90-0", "0abcdefghijkl", int64(0), int64(1), "101-0", `[{"kind":"account"}]`, "0abcdefghijkl", 2)
	f.Add(int64(-1), int64(0), "0-0", "0-0", "", int64(0), int64(0), "101-0", "", "", 1000)
	f.Add(int64(0), int64(0), "0-0", "0-0", "", int64(0), int64(0), "", "", "", 0)
	f.Add(int64(5), int64(3), "x", "-", "?", int64(2), int64(2), "1-", "", "tag", 1)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), "18446744073709551615-18446744073709551615", "0-1", "", int64(0), int64(0), "0-0", "", "", 1)
	f.Fuzz(func(t *testing.T, length, added int64, last, first, lastTag string, replaced, cut int64, entryID, payload, tag string, count int) {
		reply := []any{length, added, last, first, lastTag, replaced, cut}
		if entryID != "" {
			reply = append(reply, entryID, payload, tag)
		}
		st, err := parseStreamState(reply, count)
		if err != nil {
			return
		}
		if !st.intact && st.length > st.added {
			t.Fatalf("parsed %+v from %v: more entries held than ever added", st, reply)
		}
		if len(st.entries) != (len(reply)-7)/3 {
			t.Fatalf("parsed %d entries from %v", len(st.entries), reply)
		}
		if st.full != (cut == 0 && len(st.entries) < count) {
			t.Fatalf("full = %v with %d entries read of %d, cut %d", st.full, len(st.entries), count, cut)
		}
	})
}
