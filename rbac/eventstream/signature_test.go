package eventstream_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/store"
)

func TestVerify(t *testing.T) {
	const secret = "whsec_test"
	at := time.Unix(1767225600, 0)
	body := []byte(`{"event_id":"ev_1"}`)
	good := eventstream.Sign(secret, at, body)
	other := eventstream.Sign("whsec_other", at, body)
	v1 := func(h string) string { _, v, _ := strings.Cut(h, ",v1="); return v }
	ts := strconv.FormatInt(at.Unix(), 10)
	for _, c := range []struct {
		name   string
		secret string
		header string
		body   string
		now    time.Time
		code   string // "" for accepted
	}{
		{"signed", secret, good, string(body), at, ""},
		{"within tolerance", secret, good, string(body), at.Add(4 * time.Minute), ""},
		{"clock behind, within tolerance", secret, good, string(body), at.Add(-4 * time.Minute), ""},
		{"a rolled secret among several", secret, "t=" + ts + ",v1=" + v1(other) + ",v1=" + v1(good), string(body), at, ""},
		{"unknown schemes ignored", secret, good + ",v0=zz", string(body), at, ""},
		{"body changed", secret, good, `{"event_id":"ev_2"}`, at, eventstream.CodeSignatureMismatch},
		{"other secret", "whsec_other2", good, string(body), at, eventstream.CodeSignatureMismatch},
		{"time changed", secret, "t=" + strconv.FormatInt(at.Unix()+1, 10) + ",v1=" + v1(good), string(body), at, eventstream.CodeSignatureMismatch},
		{"stale", secret, good, string(body), at.Add(6 * time.Minute), eventstream.CodeSignatureExpired},
		{"from the future", secret, good, string(body), at.Add(-6 * time.Minute), eventstream.CodeSignatureExpired},
		{"empty", secret, "", string(body), at, eventstream.CodeSignatureMalformed},
		{"no time", secret, "v1=" + v1(good), string(body), at, eventstream.CodeSignatureMalformed},
		{"no signature", secret, "t=" + ts, string(body), at, eventstream.CodeSignatureMalformed},
		{"two times", secret, "t=" + ts + "," + good, string(body), at, eventstream.CodeSignatureMalformed},
		{"negative time", secret, "t=-1,v1=" + v1(good), string(body), at, eventstream.CodeSignatureMalformed},
		{"short signature", secret, "t=" + ts + ",v1=abcd", string(body), at, eventstream.CodeSignatureMalformed},
		{"not hex", secret, "t=" + ts + ",v1=" + strings.Repeat("z", 64), string(body), at, eventstream.CodeSignatureMalformed},
		{"no equals sign", secret, good + ",garbage", string(body), at, eventstream.CodeSignatureMalformed},
		{"huge", secret, good + "," + strings.Repeat("x=y,", 2000), string(body), at, eventstream.CodeSignatureMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := eventstream.Verify(c.secret, c.header, []byte(c.body), c.now, 0)
			if c.code == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, store.ErrUnauthenticated) || store.CodeOf(err) != c.code {
				t.Fatalf("Verify: %v, want ErrUnauthenticated with code %s", err, c.code)
			}
		})
	}
}

// FuzzVerify: Verify never panics on any header, and accepts exactly what Sign made for the
// same secret, time and body.
func FuzzVerify(f *testing.F) {
	f.Add("whsec_a", int64(1767225600), []byte(`{}`), "t=1767225600,v1=00")
	f.Add("", int64(0), []byte{}, ",,,=")
	f.Add("k", int64(99999999999), []byte("x"), "t=1,t=2,v1=")
	f.Fuzz(func(t *testing.T, secret string, unix int64, body []byte, header string) {
		if unix < 0 || unix > 1e11 {
			return
		}
		at := time.Unix(unix, 0)
		_ = eventstream.Verify(secret, header, body, at, 0)
		if err := eventstream.Verify(secret, eventstream.Sign(secret, at, body), body, at, 0); err != nil {
			t.Fatalf("a fresh signature was refused: %v", err)
		}
	})
}

// ExampleVerify shows a receiver checking a delivery: the header's time and HMAC against
// the raw body, within five minutes of its clock.
func ExampleVerify() {
	secret := "whsec_example" // shown once, when the destination was created
	body := []byte(`{"event_id":"ev_01KB0000000000000000000000AAAA","event_type":"bot_user_created.v0"}`)
	sent := time.Unix(1767225600, 0)
	header := eventstream.Sign(secret, sent, body) // what the worker puts in Iamkit-Signature

	fmt.Println(eventstream.Verify(secret, header, body, sent.Add(time.Minute), 0))
	err := eventstream.Verify(secret, header, []byte(`{"event_id":"forged"}`), sent.Add(time.Minute), 0)
	fmt.Println(store.CodeOf(err))
	err = eventstream.Verify(secret, header, body, sent.Add(time.Hour), 0)
	fmt.Println(store.CodeOf(err))
	// Output:
	// <nil>
	// signature_mismatch
	// signature_expired
}
