package store_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iamkit/iamkit/store"
)

// sampleRecords returns one record of every table, every field set, as encoding/json
// writes them (what redisstore stores).
func sampleRecords() map[store.Kind]any {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	by := store.Principal{ID: "usr_1", Subject: "ann@example.com", Source: "api", CredentialID: "ak_1"}
	return map[store.Kind]any{
		store.KindAccount: store.Account{ID: "ac_1", Name: "Acme \u00e9\u4e16 \"quoted\"", Key: "acme", Plan: "enterprise", Seats: 5,
			SSO: store.SSOSettings{Provisioning: "jit", Enforcement: "mixed", Since: at}, CreatedAt: at},
		store.KindUser:       store.User{ID: "usr_1", Email: "ann@example.com", Name: "Ann", CreatedAt: at},
		store.KindMembership: store.Membership{AccountID: "ac_1", UserID: "usr_1", Roles: []string{"admin", "billing"}, Status: "active", CreatedAt: at, UpdatedAt: at.Add(time.Hour)},
		store.KindInvitation: store.Invitation{ID: "inv_1", AccountID: "ac_1", Email: "bob@example.com", Roles: []string{}, InvitedBy: "usr_1",
			ExpiresAt: at, CreatedAt: at, TokenHash: "abc"},
		store.KindBotUser: store.BotUser{ID: "bot_1", AccountID: "ac_1", Name: "ci", Active: true, Roles: nil, CreatedAt: at},
		store.KindCredential: store.Credential{ID: "cr_1", AccountID: "ac_1", Kind: store.Authtoken, OwnerID: "bot_1", Description: "d\n\t<>&",
			Metadata: `{"a":1}`, ACL: []string{"bind:*.example.com"}, SecretHash: "00ff", PublicKey: "ssh-ed25519 AAAA", Fingerprint: "SHA256:x",
			ExpiresAt: at, CreatedAt: at, LastUsedAt: at},
		store.KindRole: store.Role{ID: "role_1", AccountID: "ac_1", Name: "ops", Description: "x", Permissions: []string{"bot_users:read"}, CreatedAt: at},
		store.KindIdentityProvider: store.IdentityProvider{ID: "idp_1", AccountID: "ac_1", Description: "okta", EntityID: "https://idp", MetadataXML: "<x/>",
			AllowIDPInitiated: true, DefaultRoles: []string{"developer"}, EmailAttribute: "mail", NameAttribute: "cn", GroupsAttribute: "groups",
			Domains: []string{"example.com"}, CreatedAt: at},
		store.KindEvent: store.Event{ID: "ev_1", AccountID: "ac_1", Type: "bot_user_created.v0", Principal: by,
			Object: json.RawMessage(`{"id":"bot_1","nested":{"a":[1,2.5,null,true]}}`), CreatedAt: at},
		store.KindExternalIdentity: store.ExternalIdentity{AccountID: "ac_1", IdPID: "idp_1", Subject: "s", UserID: "usr_1", CreatedAt: at},
		store.KindTombstone:        store.Tombstone{AccountID: "ac_1", OwnerID: "bot_1", By: by, CreatedAt: at},
	}
}

// TestDecodeJSONReadsWhatEncodingJSONWrites: every table decodes, field for field, the
// record encoding/json encoded (DecodeJSON uses a faster decoder than encoding/json's).
func TestDecodeJSONReadsWhatEncodingJSONWrites(t *testing.T) {
	samples := sampleRecords()
	for _, tb := range store.Schema() {
		t.Run(string(tb.Kind), func(t *testing.T) {
			want, ok := samples[tb.Kind]
			if !ok {
				t.Fatalf("no sample record of %s", tb.Kind)
			}
			data, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tb.DecodeJSON(data)
			if err != nil {
				t.Fatalf("DecodeJSON(%s): %v", data, err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("decoded %s (-want +got):\n%s", data, d)
			}
		})
	}
}

// FuzzDecodeJSON: any input either fails to decode or decodes to a record whose
// encoding/json encoding DecodeJSON reads back to a record with the same encoding (what a
// store reads, it writes back unchanged).
func FuzzDecodeJSON(f *testing.F) {
	for _, rec := range sampleRecords() {
		data, err := json.Marshal(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"id":null,"roles":[],"object":"x"}`))
	f.Add([]byte(`{"ID":"upper","created_at":"2026-01-01T00:00:00Z"}`))
	tables := store.Schema()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tb := range tables {
			rec, err := tb.DecodeJSON(data)
			if err != nil {
				continue
			}
			first, err := json.Marshal(rec)
			if err != nil {
				continue // a time out of encoding/json's range
			}
			back, err := tb.DecodeJSON(first)
			if err != nil {
				t.Fatalf("%s: %s decoded to %+v, which encodes to %s, which does not decode: %v", tb.Kind, data, rec, first, err)
			}
			second, err := json.Marshal(back)
			if err != nil || !bytes.Equal(first, second) {
				t.Fatalf("%s: %s decoded and encoded to %s, then %s (%v)", tb.Kind, data, first, second, err)
			}
		}
	})
}
