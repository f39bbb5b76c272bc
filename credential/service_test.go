package credential_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// svcEnv is an account with an administrator, a developer, a read-only developer and a bot
// user, and the services that manage them.
type svcEnv struct {
	t                  *testing.T
	ctx                context.Context
	st                 store.Store
	dir                *identity.Directory
	authz              *rbac.Authorizer
	creds              *credential.Service
	account            string
	admin, dev, reader identity.Principal
	bot                identity.Principal
}

func newSvcEnv(t *testing.T, plan string) *svcEnv {
	t.Helper()
	ctx := context.Background()
	st := testenv.Mem(t, nil)
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		t.Fatal(err)
	}
	authz := testenv.Authz(t, st, plans)
	dir := testenv.Directory(t, st, authz)
	creds, err := credential.NewService(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	e := &svcEnv{t: t, ctx: ctx, st: st, dir: dir, authz: authz, creds: creds}
	adminUser := e.user("ada@example.com")
	acct, err := dir.CreateAccount(ctx, adminUser, "acme", plan)
	if err != nil {
		t.Fatal(err)
	}
	e.account = acct.ID
	e.admin = e.principal(adminUser)
	if plan != identity.Free().Name {
		e.dev = e.member("dev@example.com", rbac.RoleDeveloper)
		e.reader = e.member("reader@example.com", rbac.RoleDeveloperReadOnly)
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bots.Create(ctx, e.admin, botuser.CreateParams{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	e.bot = e.principal(b.ID)
	return e
}

func (e *svcEnv) user(email string) string {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

func (e *svcEnv) member(email, role string) identity.Principal {
	e.t.Helper()
	uid := e.user(email)
	if _, err := e.dir.AddMember(e.ctx, e.admin, uid, []string{role}); err != nil {
		e.t.Fatal(err)
	}
	return e.principal(uid)
}

func (e *svcEnv) principal(id string) identity.Principal {
	e.t.Helper()
	p, err := e.dir.Principal(e.ctx, e.account, id, identity.SourceAPI, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func sshKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " laptop"
}

func TestCreatedTokensVerify(t *testing.T) {
	e := newSvcEnv(t, identity.PayAsYouGo().Name)
	v := verifier(t, e.st)
	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey} {
		t.Run(string(kind), func(t *testing.T) {
			iss, err := e.creds.Create(e.ctx, e.dev, credential.CreateRequest{Kind: kind, Description: "laptop"})
			if err != nil {
				t.Fatal(err)
			}
			if iss.OwnerID != e.dev.ID {
				t.Errorf("owner = %s, want the acting principal %s", iss.OwnerID, e.dev.ID)
			}
			res, err := v.Verify(e.ctx, kind, iss.Token.Reveal())
			if err != nil || res.CredentialID != iss.ID || res.OwnerID != e.dev.ID || res.AccountID != e.account {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
			// The store has the hash only; reads never return a token.
			var stored store.Credential
			e.st.View(e.ctx, func(r store.Reader) error { stored, err = r.Credential(e.ctx, iss.ID); return err })
			if strings.Contains(fmt.Sprintf("%+v", stored), iss.Token.Token().SecretPart()) {
				t.Error("the store holds the secret")
			}
		})
	}
}

func TestCreateRules(t *testing.T) {
	e := newSvcEnv(t, identity.PayAsYouGo().Name)
	free := newSvcEnv(t, identity.Free().Name)
	long := strings.Repeat("x", 256)
	longMeta := strings.Repeat("x", 4097)
	tests := []struct {
		name string
		env  *svcEnv
		by   func(*svcEnv) identity.Principal
		req  func(*svcEnv) credential.CreateRequest
		want error  // nil: created
		code string // "": any code
	}{
		{"developer for itself", e, dev, req(store.Authtoken, ""), nil, ""},
		{"bot for itself", e, bot, req(store.APIKey, ""), nil, ""},
		{"admin names a bot as owner", e, admin, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.bot.ID}
		}, nil, ""},
		{"developer names another owner", e, dev, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.bot.ID}
		}, store.ErrDenied, ""},
		{"read-only developer", e, reader, req(store.Authtoken, ""), store.ErrDenied, ""},
		{"owner outside the account", e, admin, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, OwnerID: free.bot.ID}
		}, store.ErrInvalid, credential.CodeUnknownOwner},
		{"owner id with a wrong prefix", e, admin, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, OwnerID: "cr_" + e.bot.ID[4:]}
		}, store.ErrInvalid, store.CodeInvalidValue},
		{"owner id of another kind", e, admin, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.account}
		}, store.ErrInvalid, store.CodeInvalidValue},
		{"description over 255 bytes", e, dev, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, Description: long}
		}, store.ErrInvalid, ""},
		{"metadata over 4096 bytes", e, dev, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, Metadata: longMeta}
		}, store.ErrInvalid, ""},
		{"ACL", e, dev, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, ACL: []string{"bind:*.example.com"}}
		}, nil, ""},
		{"invalid ACL rule", e, dev, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, ACL: []string{"connect:x"}}
		}, store.ErrInvalid, credential.CodeInvalidACL},
		{"ACL on an API key", e, dev, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.APIKey, ACL: []string{"bind:a.example.com"}}
		}, store.ErrInvalid, ""},
		{"ACL on a plan without ACLs", free, admin, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, ACL: []string{"bind:a.example.com"}}
		}, store.ErrFeatureUnavailable, identity.CodeFeatureUnavailable},
		{"owner assignment on a plan without it", free, admin, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.bot.ID}
		}, store.ErrDenied, ""},
		{"SSH key", e, dev, func(e *svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.SSHCredential, PublicKey: sshKey(t)}
		}, nil, ""},
		{"SSH credential without a key", e, dev, req(store.SSHCredential, ""), store.ErrInvalid, credential.CodeSSHKeyMissing},
		{"public key on an authtoken", e, dev, func(*svcEnv) credential.CreateRequest {
			return credential.CreateRequest{Kind: store.Authtoken, PublicKey: sshKey(t)}
		}, store.ErrInvalid, ""},
		{"unknown kind", e, dev, req("password", ""), store.ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			before := events(t, env)
			_, err := env.creds.Create(env.ctx, tt.by(env), tt.req(env))
			if tt.want == nil && err != nil {
				t.Fatalf("Create: %v", err)
			}
			if tt.want != nil && (!errors.Is(err, tt.want) || tt.code != "" && store.CodeOf(err) != tt.code) {
				t.Fatalf("Create = %v, want an error matching %v %s", err, tt.want, tt.code)
			}
			wantEvents := before
			if tt.want == nil {
				wantEvents++
			}
			if got := events(t, env); got != wantEvents {
				t.Errorf("audit events: %d, want %d", got, wantEvents)
			}
		})
	}
}

func admin(e *svcEnv) identity.Principal  { return e.admin }
func dev(e *svcEnv) identity.Principal    { return e.dev }
func reader(e *svcEnv) identity.Principal { return e.reader }
func bot(e *svcEnv) identity.Principal    { return e.bot }

func req(kind store.CredentialKind, owner string) func(*svcEnv) credential.CreateRequest {
	return func(*svcEnv) credential.CreateRequest { return credential.CreateRequest{Kind: kind, OwnerID: owner} }
}

func events(t *testing.T, e *svcEnv) int {
	t.Helper()
	var n int
	err := e.st.View(e.ctx, func(r store.Reader) error {
		evs, err := r.Events(e.ctx, e.account, store.Page{Limit: store.MaxPageLimit})
		n = len(evs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSSHKeyUniqueAcrossAccounts(t *testing.T) {
	a := newSvcEnv(t, identity.PayAsYouGo().Name)
	b := newSvcEnv(t, identity.PayAsYouGo().Name)
	key := sshKey(t)
	if _, err := a.creds.Create(a.ctx, a.dev, credential.CreateRequest{Kind: store.SSHCredential, PublicKey: key}); err != nil {
		t.Fatal(err)
	}
	_, err := a.creds.Create(a.ctx, a.admin, credential.CreateRequest{Kind: store.SSHCredential, PublicKey: key})
	if store.CodeOf(err) != credential.CodeSSHKeyInUse || !errors.Is(err, store.ErrConflict) {
		t.Errorf("same key, same account: %v", err)
	}
	// b's store is another store, so put the first key there too to test "another account".
	if _, err := b.creds.Create(b.ctx, b.dev, credential.CreateRequest{Kind: store.SSHCredential, PublicKey: key}); err != nil {
		t.Fatal(err)
	}
	c := b.member("carol@example.com", rbac.RoleDeveloper)
	other, err := b.dir.CreateAccount(b.ctx, c.ID, "other", identity.PayAsYouGo().Name)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := b.dir.Principal(b.ctx, other.ID, c.ID, identity.SourceAPI, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.creds.Create(b.ctx, cp, credential.CreateRequest{Kind: store.SSHCredential, PublicKey: key})
	if store.CodeOf(err) != credential.CodeSSHKeyInUseElsewhere || !errors.Is(err, store.ErrConflict) {
		t.Errorf("same key, other account: %v", err)
	}
}

func TestUpdateChangesOnlyDescriptionMetadataACL(t *testing.T) {
	e := newSvcEnv(t, identity.PayAsYouGo().Name)
	iss, err := e.creds.Create(e.ctx, e.admin, credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.bot.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.creds.Update(e.ctx, e.dev, iss.ID, credential.UpdateRequest{}); store.CodeOf(err) != credential.CodeNoChanges || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty update: %v", err)
	}
	desc, acl := "ci runner", []string{"bind:ci.example.com"}
	got, err := e.creds.Update(e.ctx, e.dev, iss.ID, credential.UpdateRequest{Description: &desc, ACL: &acl})
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != desc || len(got.ACL) != 1 || got.OwnerID != e.bot.ID || got.CreatedAt != iss.CreatedAt {
		t.Errorf("after update: %+v", got)
	}
	if _, err := e.creds.Update(e.ctx, e.dev, e.bot.ID, credential.UpdateRequest{Description: &desc}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("update of an ID that is no credential's: %v, want a validation error (wrong prefix)", err)
	}
	if _, err := e.creds.Update(e.ctx, e.reader, iss.ID, credential.UpdateRequest{Description: &desc}); !errors.Is(err, store.ErrDenied) {
		t.Errorf("read-only developer: %v", err)
	}
}

func TestDeleteAndReadScopedToAccount(t *testing.T) {
	e := newSvcEnv(t, identity.PayAsYouGo().Name)
	iss, err := e.creds.Create(e.ctx, e.dev, credential.CreateRequest{Kind: store.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.creds.Get(e.ctx, e.reader, iss.ID); err != nil || got.ID != iss.ID {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	list, err := e.creds.List(e.ctx, e.reader, store.APIKey, store.Page{Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != iss.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := e.creds.Delete(e.ctx, e.dev, iss.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.creds.Get(e.ctx, e.dev, iss.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	if err := e.creds.Delete(e.ctx, e.dev, iss.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestAuditEventsCarryNoSecret(t *testing.T) {
	e := newSvcEnv(t, identity.PayAsYouGo().Name)
	iss, err := e.creds.Create(e.ctx, e.dev, credential.CreateRequest{Kind: store.Authtoken})
	if err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	err = e.st.View(e.ctx, func(r store.Reader) error {
		evs, err = r.Events(e.ctx, e.account, store.Page{Limit: 1})
		return err
	})
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events = %v, %v", evs, err)
	}
	ev := evs[0]
	if ev.Type != "tunnel_credential_created.v0" || ev.Principal.ID != e.dev.ID || ev.Principal.Subject != "dev@example.com" {
		t.Errorf("event = %+v", ev)
	}
	all, _ := json.Marshal(ev)
	if strings.Contains(string(all), iss.Token.Token().SecretPart()) {
		t.Errorf("event holds the secret: %s", all)
	}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", iss, iss, iss)} {
		if strings.Contains(s, iss.Token.Token().SecretPart()) {
			t.Errorf("Issued prints its secret: %s", s)
		}
	}
	if b, _ := json.Marshal(iss); strings.Contains(string(b), iss.Token.Token().SecretPart()) {
		t.Errorf("Issued marshals its secret: %s", b)
	}
}

func TestInactiveOwnerGetsNoNewCredential(t *testing.T) {
	e := newSvcEnv(t, identity.PayAsYouGo().Name)
	if _, err := e.dir.DisableMember(e.ctx, e.admin, e.dev.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.creds.Create(e.ctx, e.admin, credential.CreateRequest{Kind: store.Authtoken, OwnerID: e.dev.ID})
	if !errors.Is(err, store.ErrConflict) || store.CodeOf(err) != credential.CodeOwnerInactive {
		t.Errorf("Create for a disabled member: %v", err)
	}
}
