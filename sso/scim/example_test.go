package scim_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// Example mounts the SCIM service provider and provisions a member as an identity provider
// would: a service user with a SCIM access token creates a user, then deactivates it.
func Example() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.Enterprise())
	perms, _ := rbac.NewPermissions(scim.PermissionSpec()) // registers scim:write
	_, key, _ := ed25519.GenerateKey(nil)
	iam, err := iamkit.New(st, plans, iamkit.WithPermissions(perms), iamkit.WithSSO("https://dash.example.com", key))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = iam.Start(ctx)
	defer iam.Close(ctx)
	boot, _ := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme", Plan: "enterprise", AdminEmail: "admin@example.com"})

	// An identity provider trusted for example.com: SCIM provisions only such emails.
	md := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/"/>`
	_ = st.Update(ctx, func(tx store.Tx) error {
		return tx.PutIdentityProvider(ctx, store.IdentityProvider{ID: "idp_01JQ0000000000000000000000" + boot.Account.ID[len(boot.Account.ID)-4:],
			AccountID: boot.Account.ID, EntityID: "https://idp.example.com/", MetadataXML: md, Domains: []string{"example.com"}, CreatedAt: time.Now()})
	})

	// The IdP's service user: it manages members and grants the default roles.
	bot, _ := iam.BotUsers().Create(ctx, boot.Admin, botuser.CreateParams{Name: "okta", Roles: []string{rbac.RoleTeamManager, rbac.RoleDeveloper}})
	var held rbac.Set
	for _, r := range []string{rbac.RoleTeamManager, rbac.RoleDeveloper} {
		s, _ := perms.RoleGrants(r)
		held = held.Union(s)
	}
	tok, err := iam.Credentials().Create(ctx, boot.Admin, credential.CreateRequest{Kind: store.AccessToken, OwnerID: bot.ID, Scopes: perms.Names(held)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = iam.Sync(ctx)

	h, _ := iam.SCIM()
	mux := http.NewServeMux()
	mux.Handle(scim.DefaultPrefix+"/", h)
	send := func(method, path, body string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Token.Reveal())
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(method, rec.Code, rec.Header().Get("Content-Type"))
	}
	send("POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@example.com"}`)
	u, _ := iam.Directory().UserByEmail(ctx, "alice@example.com")
	send("PATCH", "/scim/v2/Users/"+u.ID, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`)
	m, _ := iam.Directory().Member(ctx, boot.Admin, u.ID)
	fmt.Println(m.Status)
	// Output:
	// POST 201 application/scim+json
	// PATCH 200 application/scim+json
	// disabled
}
