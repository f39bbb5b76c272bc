package iprestrict_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// An administrator lets the API in from the office network only; the facade's
// AuthenticateFrom (and BearerAuth) then refuses API keys used from anywhere else.
func Example() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	iam, _ := iamkit.New(st, plans)
	if err := iam.Start(ctx); err != nil {
		panic(err)
	}
	defer iam.Close(ctx)
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.PayAsYouGo().Name, AdminEmail: "admin@acme.test", APIKey: true})
	if err != nil {
		panic(err)
	}

	svc := iam.IPRestrictions()
	office, _ := svc.CreatePolicy(ctx, boot.Admin, iprestrict.PolicyParams{})
	cidr, allow := "192.0.2.0/24", store.IPAllow
	if _, err := svc.CreateRule(ctx, boot.Admin, iprestrict.RuleParams{PolicyID: office.ID, CIDR: &cidr, Action: &allow}); err != nil {
		panic(err)
	}
	enforced := true
	if _, err := svc.CreateRestriction(ctx, boot.Admin, iprestrict.RestrictionParams{
		Type: store.RestrictAPI, PolicyIDs: &[]string{office.ID}, Enforced: &enforced}); err != nil {
		panic(err)
	}
	iam.Sync(ctx)

	for _, addr := range []string{"192.0.2.7", "198.51.100.1"} {
		_, err := iam.AuthenticateFrom(ctx, boot.APIKey.Token.Reveal(), netip.MustParseAddr(addr))
		if err != nil {
			fmt.Printf("%s: refused, %s\n", addr, store.CodeOf(err))
			continue
		}
		fmt.Printf("%s: allowed\n", addr)
	}
	// Output:
	// 192.0.2.7: allowed
	// 198.51.100.1: refused, ip_restricted
}
