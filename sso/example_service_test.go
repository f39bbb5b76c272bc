package sso_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/dnstest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// An account administrator verifies the email domain, configures an identity provider from
// its metadata, turns on just-in-time provisioning and mixed enforcement, and the embedder
// mounts the endpoints.
func ExampleService_CreateIdentityProvider() {
	ctx := context.Background()
	st, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.Enterprise())
	authz, _ := rbac.New(st, plans)
	dir, _ := identity.New(st, authz)
	founder, _ := dir.CreateUser(ctx, "admin@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, founder.ID, "Acme", identity.Enterprise().Name)
	admin, _ := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceDashboard, "")

	// A DNS server stands in for the account's: the resolver is an option (net.DefaultResolver
	// unless set).
	dns, err := dnstest.Launch()
	if err != nil {
		log.Fatal(err)
	}
	defer dns.Close()
	svc, err := sso.New(st, authz, "https://dashboard.example.com", sso.WithResolver(dns.Resolver()))
	if err != nil {
		log.Fatal(err)
	}

	// The account proves it controls example.com before an IdP may be trusted for it.
	domain, _ := svc.ClaimDomain(ctx, admin, "example.com")
	rec := sso.DomainRecordOf(domain)
	fmt.Println("publish TXT at:      ", rec.Name)
	dns.SetTXT(rec.Name, rec.Value) // the administrator does this at their DNS host
	if domain, err = svc.VerifyDomain(ctx, admin, domain.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:            ", domain.Verified())

	metadata, _ := os.ReadFile("testdata/metadata-okta.xml")
	idp, err := svc.CreateIdentityProvider(ctx, admin, sso.IdPParams{
		Description:  "Okta",
		MetadataXML:  string(metadata),
		DefaultRoles: []string{rbac.RoleDeveloper},
		Domains:      []string{"example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("IdP entity ID:       ", idp.EntityID)
	fmt.Println("IdP-initiated login: ", idp.AllowIDPInitiated)
	fmt.Println("trusted domains:     ", idp.Domains)

	// What the administrator pastes into Okta.
	sp, _ := svc.ServiceProvider(ctx, acct.ID, idp.ID)
	fmt.Println("ACS URL:             ", strings.Replace(sp.ACSURL, acct.ID+"/"+idp.ID, "{account}/{idp}", 1))

	jit, mixed := sso.ProvisioningJIT, sso.EnforcementMixed
	settings, err := svc.UpdateSettings(ctx, admin, sso.SettingsUpdate{Provisioning: &jit, Enforcement: &mixed})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("settings:            ", settings.Provisioning, settings.Enforcement)

	// Deleting the last IdP is refused while SSO is enforced.
	enforced := sso.EnforcementEnforced
	svc.UpdateSettings(ctx, admin, sso.SettingsUpdate{Enforcement: &enforced})
	fmt.Println(svc.DeleteIdentityProvider(ctx, admin, idp.ID) != nil)

	// The embedder's server: sessions signed with its own Ed25519 key, endpoints under /sso/.
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // load yours from a secret store
	sessions, _ := sso.NewSessions(svc, key, sso.WithSessionTTL(8*time.Hour))
	h, _ := sso.NewHandler(svc, sessions.CookieLogin())
	fmt.Println("mount at:            ", h.Pattern())
	// Output:
	// publish TXT at:       _iamkit.example.com
	// verified:             true
	// IdP entity ID:        http://www.okta.com/exk9iamkitTest0h7
	// IdP-initiated login:  false
	// trusted domains:      [example.com]
	// ACS URL:              https://dashboard.example.com/sso/{account}/{idp}/acs
	// settings:             jit mixed
	// true
	// mount at:             /sso/
}

// The embedder asks LoginPolicy before completing its own password or OAuth logins. Here the
// decision is computed from settings and memberships directly; Service.LoginPolicy reads
// them from the store.
func ExampleSettings_LoginPolicy() {
	since := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	veteran := store.Membership{Status: store.MemberActive, CreatedAt: since.AddDate(-1, 0, 0)}
	newcomer := store.Membership{Status: store.MemberActive, CreatedAt: since.AddDate(0, 0, 7)}

	for _, enf := range []sso.Enforcement{sso.EnforcementOff, sso.EnforcementMixed, sso.EnforcementEnforced} {
		s := sso.Settings{Provisioning: sso.ProvisioningJIT, Enforcement: enf, Since: since}
		fmt.Printf("%-8s veteran: %-38s newcomer: %s\n", enf,
			s.LoginPolicy(veteran, sso.MethodPassword), s.LoginPolicy(newcomer, sso.MethodPassword))
	}
	s := sso.Settings{Enforcement: sso.EnforcementEnforced, Since: since}
	fmt.Println(s.LoginPolicy(newcomer, sso.MethodSSO))
	if err := s.LoginPolicy(veteran, sso.MethodPassword).Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// off      veteran: allow password: sso_not_enforced       newcomer: allow password: sso_not_enforced
	// mixed    veteran: allow password: joined_before_sso      newcomer: deny password: sso_required
	// enforced veteran: deny password: sso_enforced            newcomer: deny password: sso_enforced
	// allow sso: sso_login
	// login denied: sso_enforced
}
