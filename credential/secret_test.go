package credential

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/store"
)

func TestSecretReveal(t *testing.T) {
	sec, err := NewToken(store.APIKey, testAPIKeyID, seededReader(20))
	if err != nil {
		t.Fatal(err)
	}
	s := sec.Reveal()
	tok, err := ParseToken(s)
	if err != nil {
		t.Fatalf("Reveal gives a token that does not parse: %v", err)
	}
	if sec.IsZero() || sec.Token().Reveal() != s || sec.Token().CredentialID() != testAPIKeyID {
		t.Error("Secret.Token is not the revealed token")
	}
	if HashSecret(sec.Token()) != HashSecret(tok) {
		t.Error("hashes differ")
	}
	var zero Secret
	if !zero.IsZero() || zero.Reveal() != "" || !zero.Token().IsZero() {
		t.Error("the zero Secret holds a token")
	}
}

func TestSecretRedaction(t *testing.T) {
	sec, err := NewToken(store.Authtoken, testAuthtokenID, seededReader(21))
	if err != nil {
		t.Fatal(err)
	}
	token := sec.Reveal()
	secret := sec.Token().SecretPart()

	// Exact forms.
	for _, tc := range []struct{ got, want string }{
		{sec.String(), "[REDACTED]"},
		{sec.GoString(), "credential.Secret([REDACTED])"},
		{fmt.Sprint(sec), "[REDACTED]"},
		{fmt.Sprintf("%v", sec), "[REDACTED]"},
		{fmt.Sprintf("%+v", sec), "[REDACTED]"},
		{fmt.Sprintf("%#v", sec), "credential.Secret([REDACTED])"},
		{fmt.Sprintf("%s", sec), "[REDACTED]"},
		{fmt.Sprintf("%q", sec), `"[REDACTED]"`},
		{fmt.Sprintf("%x", sec), "[REDACTED]"},
		{fmt.Sprintf("%X", sec), "[REDACTED]"},
		{fmt.Sprintf("%d", &sec), "[REDACTED]"},
		{fmt.Sprintf("%v", Secret{}), "[REDACTED]"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}

	type response struct {
		ID     string `json:"id" xml:"id"`
		Token  Secret `json:"token" xml:"token"`
		Ptr    *Secret
		List   []Secret
		ByName map[string]Secret `xml:"-"`
		hidden Secret
	}
	resp := response{ID: testAuthtokenID, Token: sec, Ptr: &sec, List: []Secret{sec}, ByName: map[string]Secret{"a": sec}, hidden: sec}

	js, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"token":"[REDACTED]"`) || !strings.Contains(string(js), `"Ptr":"[REDACTED]"`) {
		t.Errorf("json = %s", js)
	}
	xm, err := xml.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := sec.MarshalText()
	if err != nil || string(txt) != "[REDACTED]" {
		t.Errorf("MarshalText = %q, %v", txt, err)
	}

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("created", "token", sec, "resp", resp, slog.Any("ptr", &sec))
	slog.New(slog.NewTextHandler(&logs, nil)).Info("created", "token", sec, slog.Group("g", "s", sec))
	log.New(&logs, "", 0).Printf("created %v %+v %s", sec, resp, sec)
	if !strings.Contains(logs.String(), `"token":"[REDACTED]"`) || !strings.Contains(logs.String(), "token=[REDACTED]") {
		t.Errorf("logs = %s", logs.String())
	}
	wrapped := fmt.Errorf("issuing %v: %w", sec, errors.New("boom"))

	outs := []string{
		string(js), string(xm), logs.String(), wrapped.Error(),
		printAll(sec), printAll(&sec), printAll(resp), printAll(&resp), printAll([]Secret{sec}),
		printAll(struct{ s Secret }{sec}), printAll(struct{ s *Secret }{&sec}),
		fmt.Sprintln(sec, &sec, resp, &resp), fmt.Sprint(map[Secret]int{sec: 1}),
	}
	for _, out := range outs {
		if strings.Contains(out, token) || strings.Contains(out, secret) || strings.Contains(out, secret[:12]) {
			t.Errorf("output shows the secret: %s", out)
		}
	}
}
