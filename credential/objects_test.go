package credential_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// TestObjects_AreTheAPIResources checks the credentials' public representations field by
// field: the resource as the API shows it, with no internal field (account_id, kind,
// secret_hash, fingerprint) and a null token, its last use (iamkit's, for every kind), an
// access token's scopes, allow-list and rotation links; each names its resource.
func TestObjects_AreTheAPIResources(t *testing.T) {
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 678, time.UTC)
	later := epoch.Add(time.Hour)
	ts, tl := identity.Timestamp(epoch), identity.Timestamp(later)
	c := credential.Credential{
		AccountID: "ac_1", OwnerID: "usr_1", Description: "ci", Metadata: "m", ACL: []string{"bind:a.example.com"},
		CreatedAt: epoch, LastUsedAt: later, LastUsedIP: netip.MustParseAddr("192.0.2.7"),
	}
	token, apiKey, ssh, access := c, c, c, c
	token.ID, token.Kind = "cr_1", store.Authtoken
	apiKey.ID, apiKey.Kind, apiKey.ACL, apiKey.ExpiresAt, apiKey.LastUsedIP = "ak_1", store.APIKey, nil, later, netip.Addr{}
	ssh.ID, ssh.Kind, ssh.PublicKey, ssh.Fingerprint, ssh.LastUsedAt = "sshcr_1", store.SSHCredential, "ssh-ed25519 AAAA", "SHA256:fp", time.Time{}
	access.ID, access.Kind, access.Scopes, access.AllowedIPs = "pat_2", store.AccessToken, []string{"tunnel:start"}, []string{"10.0.0.0/8"}
	access.RotatedFrom, access.ACL = "pat_1", nil
	for _, tc := range []struct {
		obj      identity.Object
		resource identity.Resource
		want     string
	}{
		{token.Object(), identity.ResourceTunnelCredential,
			`{"id":"cr_1","created_at":"` + ts + `","description":"ci","metadata":"m","token":null,"acl":["bind:a.example.com"],"owner_id":"usr_1","last_used_at":"` + tl + `","last_used_ip":"192.0.2.7"}`},
		{apiKey.Object(), identity.ResourceAPIKey,
			`{"id":"ak_1","created_at":"` + ts + `","description":"ci","metadata":"m","token":null,"owner_id":"usr_1","expires_at":"` + tl + `","last_used_at":"` + tl + `"}`},
		{ssh.Object(), identity.ResourceSSHPublicKey,
			`{"id":"sshcr_1","created_at":"` + ts + `","description":"ci","metadata":"m","public_key":"ssh-ed25519 AAAA","acl":["bind:a.example.com"],"owner_id":"usr_1","last_used_ip":"192.0.2.7"}`},
		{access.Object(), identity.ResourceAccessToken,
			`{"id":"pat_2","created_at":"` + ts + `","description":"ci","metadata":"m","token":null,"acl":[],"scopes":["tunnel:start"],"owner_id":"usr_1","allowed_ips":["10.0.0.0/8"],"rotated_from":"pat_1","last_used_at":"` + tl + `","last_used_ip":"192.0.2.7"}`},
	} {
		got, err := json.Marshal(tc.obj)
		if err != nil {
			t.Fatal(err)
		}
		var gotV, wantV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.want), &wantV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) || tc.obj.Resource() != tc.resource {
			t.Errorf("%s:\n got %s\nwant %s", tc.resource, got, tc.want)
		}
	}
}
