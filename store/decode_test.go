package store_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iamkit/iamkit/store"
)

// sampleRecords returns one record of every table, every field set, as encoding/json
// writes them (what redisstore stores).
func sampleRecords() map[store.Kind]any {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	by := store.Principal{ID: "usr_1", Subject: "ann@example.com", Source: "api", CredentialID: "ak_1"}
	return map[store.Kind]any{
		store.KindAccount: store.Account{ID: "ac_1", Name: "Acme \u00e9\u4e16 \"quoted\"", Key: "acme", Plan: "enterprise", Seats: 5,
			SSO: store.SSOSettings{Provisioning: "jit", Enforcement: "mixed", Since: at},
			CredentialPolicy: store.CredentialPolicy{AuthtokenMaxLifetime: time.Hour, APIKeyMaxLifetime: 2 * time.Hour,
				SSHKeyMaxLifetime: 3 * time.Hour, AccessTokenMaxLifetime: 90 * 24 * time.Hour, MaxRotationOverlap: 90 * time.Minute},
			RequireSecondFactor: true, CreatedAt: at},
		store.KindUser:       store.User{ID: "usr_1", Email: "ann@example.com", Name: "Ann", CreatedAt: at},
		store.KindMembership: store.Membership{AccountID: "ac_1", UserID: "usr_1", Roles: []string{"admin", "billing"}, Status: "active", CreatedAt: at, UpdatedAt: at.Add(time.Hour)},
		store.KindInvitation: store.Invitation{ID: "inv_1", AccountID: "ac_1", Email: "bob@example.com", Roles: []string{}, InvitedBy: "usr_1",
			ExpiresAt: at, CreatedAt: at, TokenHash: "abc"},
		store.KindBotUser: store.BotUser{ID: "bot_1", AccountID: "ac_1", Name: "ci", Active: true, Roles: []string{"developer"}, CreatedAt: at},
		store.KindCredential: store.Credential{ID: "cr_1", AccountID: "ac_1", Kind: store.Authtoken, OwnerID: "bot_1", Description: "d\n\t<>&",
			Metadata: `{"a":1}`, ACL: []string{"bind:*.example.com"}, SecretHash: "00ff", PublicKey: "ssh-ed25519 AAAA", Fingerprint: "SHA256:x",
			ExpiresAt: at, CreatedAt: at, Scopes: []string{"credentials:read"}, AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32"},
			RotatedFrom: "cr_0", RotatedTo: "cr_2", LastUsedAt: at, LastUsedIP: netip.MustParseAddr("2001:db8::1")},
		store.KindRole: store.Role{ID: "role_1", AccountID: "ac_1", Name: "ops", Description: "x", Permissions: []string{"bot_users:read"}, CreatedAt: at},
		store.KindIdentityProvider: store.IdentityProvider{ID: "idp_1", AccountID: "ac_1", Description: "okta", EntityID: "https://idp", MetadataXML: "<x/>",
			AllowIDPInitiated: true, DefaultRoles: []string{"developer"}, EmailAttribute: "mail", NameAttribute: "cn", GroupsAttribute: "groups",
			Domains: []string{"example.com"}, RoleRules: []store.RoleRule{{Group: "ops", Roles: []string{"team_manager"}}}, RoleRulesBy: "usr_1",
			CreatedAt: at, Protocol: "oidc", ClientID: "c", ClientSecret: "s", Scopes: []string{"email"}},
		store.KindGroup: store.Group{ID: "grp_1", AccountID: "ac_1", DisplayName: "Ops", ExternalID: "00g1", Members: []string{"usr_1"},
			CreatedAt: at, UpdatedAt: at},
		store.KindEvent: store.Event{ID: "ev_1", AccountID: "ac_1", Type: "bot_user_created.v0", Principal: by,
			Object: json.RawMessage(`{"id":"bot_1","nested":{"a":[1,2.5,null,true]}}`), CreatedAt: at},
		store.KindExternalIdentity: store.ExternalIdentity{AccountID: "ac_1", IdPID: "idp_1", Subject: "s", UserID: "usr_1", CreatedAt: at},
		store.KindDomain:           store.Domain{ID: "dom_1", AccountID: "ac_1", Name: "example.com", Token: "t", VerifiedAt: at, RequireSSO: true, CreatedAt: at},
		store.KindTombstone:        store.Tombstone{AccountID: "ac_1", OwnerID: "bot_1", By: by, CreatedAt: at},
		store.KindUserSecrets: store.UserSecrets{UserID: "usr_1", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", PasswordSetAt: at,
			TOTPSecret: "sealed", TOTPConfirmed: true, TOTPConfirmedAt: at, RecoveryCodes: []string{"00ff"}, SessionsNotBefore: at},
		store.KindSession: store.Session{ID: "ses_1", AccountID: "ac_1", UserID: "usr_1", SecretHash: "00ff", Method: "sso", IdPID: "idp_1",
			SecondFactor: "totp", UserAgent: "Mozilla/5.0", IP: "192.0.2.1", CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour)},
		store.KindEventDestination: store.EventDestination{ID: "ed_1", AccountID: "ac_1", Description: "siem", Metadata: `{"a":1}`, Format: "json",
			URL: "https://siem.example.com/hook?x=1", Secret: "whsec_x", CreatedAt: at},
		store.KindEventSubscription: store.EventSubscription{ID: "esb_1", AccountID: "ac_1", Description: "all", Metadata: "m",
			Types: []string{"bot_user_created.v0"}, DestinationIDs: []string{"ed_1"}, CreatedAt: at},
		store.KindEventDelivery: store.EventDelivery{DestinationID: "ed_1", AccountID: "ac_1", Cursor: "0:12", LastEventID: "ev_1",
			Holder: "w_0123456789abcdef", HeldUntil: at.Add(time.Minute), UpdatedAt: at},
		store.KindDeadLetter: store.DeadLetter{ID: "edl_1", AccountID: "ac_1", DestinationID: "ed_1", EventID: "ev_1", Attempts: 5,
			LastStatus: 503, LastError: "503 Service Unavailable", CreatedAt: at},
		store.KindIPPolicy: store.IPPolicy{ID: "ipp_1", AccountID: "ac_1", Description: "office", Metadata: `{"site":"hq"}`, CreatedAt: at},
		store.KindIPPolicyRule: store.IPPolicyRule{ID: "ipr_1", AccountID: "ac_1", PolicyID: "ipp_1", CIDR: "2001:db8::/32",
			Action: store.IPDeny, Description: "vpn", Metadata: "m", CreatedAt: at},
		store.KindIPRestriction: store.IPRestriction{ID: "ipx_1", AccountID: "ac_1", Type: store.RestrictAgent,
			PolicyIDs: []string{"ipp_1", "ipp_2"}, Enforced: true, Description: "agents", Metadata: "m", CreatedAt: at},
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
			if f := zeroField(reflect.ValueOf(want), ""); f != "" {
				t.Fatalf("the sample %s leaves %s zero: set every field, so that each is decoded", tb.Kind, f)
			}
			data, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tb.DecodeJSON(data)
			if err != nil {
				t.Fatalf("DecodeJSON(%s): %v", data, err)
			}
			if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
				t.Fatalf("decoded %s (-want +got):\n%s", data, d)
			}
		})
	}
}

// zeroField returns the path of a zero field of v (a struct, recursively), or "". Fields of
// types that are not structs are checked as a whole; time.Time and netip.Addr are values.
func zeroField(v reflect.Value, path string) string {
	for i := range v.NumField() {
		f, name := v.Field(i), path+v.Type().Field(i).Name
		if f.IsZero() {
			return name
		}
		if f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]() && f.Type() != reflect.TypeFor[netip.Addr]() {
			if z := zeroField(f, name+"."); z != "" {
				return z
			}
		}
	}
	return ""
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
