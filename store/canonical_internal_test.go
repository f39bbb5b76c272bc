package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// canonicalBots are bot users whose encoding/json encoding the fast path must take.
func canonicalBots() []BotUser {
	at := time.Date(2026, 11, 29, 22, 22, 58, 123456789, time.UTC)
	return []BotUser{
		{ID: "bot_1", AccountID: "ac_1", Name: "ci", Active: true, CreatedAt: at},
		{ID: "bot_2", AccountID: "ac_1", Name: "ünïcödé 😀", Roles: []string{}, CreatedAt: at.Truncate(time.Second)},
		{ID: "bot_3", AccountID: "ac_1", Name: "", Roles: []string{"developer", "rol_x"}, CreatedAt: at.Add(-time.Millisecond * 120)},
		{ID: "bot_4", AccountID: "ac_1", Name: "x", Roles: []string{""}},
	}
}

// generalDecode is the general decoder's reading of a bot user.
func generalDecode(data []byte) (BotUser, error) {
	var b BotUser
	err := jsonv2.Unmarshal(data, &b, jsonv1.FormatDurationAsNano(true))
	return b, err
}

// TestDecodeCanonicalBotUser: the fast path takes what encoding/json writes for a bot user
// and reads it as the general decoder does; it declines every other spelling (which the
// general decoder then reads).
func TestDecodeCanonicalBotUser(t *testing.T) {
	for _, want := range canonicalBots() {
		data, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got BotUser
		if !got.decodeCanonical(string(data)) {
			t.Errorf("the fast path declined %s", data)
			continue
		}
		general, err := generalDecode(data)
		if err != nil || !reflect.DeepEqual(got, general) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast path %+v, general decoder %+v (%v), want %+v", data, got, general, err, want)
		}
	}
	for _, data := range []string{
		`{"id":"bot_\u0031","account_id":"ac_1","name":"ci","active":true,"roles":null,"created_at":"2026-11-29T22:22:58Z"}`,
		`{"account_id":"ac_1","id":"bot_1","name":"ci","active":true,"roles":null,"created_at":"2026-11-29T22:22:58Z"}`,
		`{"id":"bot_1","account_id":"ac_1","name":"ci","active":true,"roles":null,"created_at":"2026-11-29T23:22:58+01:00"}`,
		`{"id":"bot_1","account_id":"ac_1","name":"ci","active":true,"roles":null,"created_at":"2026-11-29T22:22:58.100Z"}`,
		`{"id":"bot_1","account_id":"ac_1","name":"ci","active":true,"roles":null,"created_at":"2026-11-29T22:22:58Z","x":1}`,
		`{"id":"bot_1","account_id":"ac_1","name":"ci","active":true,"roles":null,"created_at":"2026-11-29T22:22:58Z"} `,
		`{"id":"bot_1","account_id":"ac_1","name":"` + "\xff" + `","active":true,"roles":null,"created_at":"2026-11-29T22:22:58Z"}`,
		`{"id":"bot_1","account_id":"ac_1","name":"ci","active":true,"roles":[1],"created_at":"2026-11-29T22:22:58Z"}`,
	} {
		var b BotUser
		if b.decodeCanonical(data) {
			t.Errorf("the fast path took %s", data)
		}
	}
}

// FuzzDecodeCanonical: whatever the fast path takes, the general decoder reads to the same
// bot user.
func FuzzDecodeCanonical(f *testing.F) {
	for _, b := range canonicalBots() {
		data, err := json.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast BotUser
		if !fast.decodeCanonical(string(data)) {
			return
		}
		general, err := generalDecode(data)
		if err != nil || !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q: fast path %+v, general decoder %+v (%v)", data, fast, general, err)
		}
	})
}

// BenchmarkDecodeBotUser: Table.DecodeJSON and DecodeJSONString of a bot user as
// encoding/json writes it (the fast path), against the general decoder on the same bytes in
// the same run.
func BenchmarkDecodeBotUser(b *testing.B) {
	data, err := json.Marshal(canonicalBots()[2])
	if err != nil {
		b.Fatal(err)
	}
	var tb Table
	for _, t := range Schema() {
		if t.Kind == KindBotUser {
			tb = t
		}
	}
	b.Run("DecodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tb.DecodeJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeJSONString", func(b *testing.B) {
		s := string(data)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tb.DecodeJSONString(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("General", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := generalDecode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
