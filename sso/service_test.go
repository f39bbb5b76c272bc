package sso_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

func readMetadata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func eventTypes(t *testing.T, e *env) []store.EventType {
	t.Helper()
	var evs []store.Event
	err := e.st.View(e.ctx, func(r store.Reader) error {
		var err error
		evs, err = r.Events(e.ctx, e.acct.ID, store.Page{Limit: 100})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.EventType
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestIdentityProviderLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	p, err := e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{
		Description: "Okta", MetadataXML: readMetadata(t, "metadata-okta.xml"),
		DefaultRoles: []string{rbac.RoleDeveloper}, Domains: []string{"Example.com ", "example.org", "example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.AllowIDPInitiated || p.EntityID != "http://www.okta.com/exk9iamkitTest0h7" ||
		!slices.Equal(p.Domains, []string{"example.com", "example.org"}) || !slices.Equal(p.DefaultRoles, []string{rbac.RoleDeveloper}) {
		t.Fatalf("created %+v", p)
	}
	e.tick()
	q, err := e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{
		Description: "Entra", MetadataXML: readMetadata(t, "metadata-entra.xml"), Domains: []string{"example.com"}, AllowIdPInitiated: true,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Newest first, in pages.
	page1, err := e.svc.IdentityProviders(e.ctx, e.admin, store.Page{Limit: 1})
	if err != nil || len(page1) != 1 || page1[0].ID != q.ID {
		t.Fatalf("page 1: %v %v", page1, err)
	}
	page2, err := e.svc.IdentityProviders(e.ctx, e.admin, store.Page{Limit: 1, BeforeID: page1[0].ID})
	if err != nil || len(page2) != 1 || page2[0].ID != p.ID {
		t.Fatalf("page 2: %v %v", page2, err)
	}

	// Returned values are copies.
	got, err := e.svc.IdentityProvider(e.ctx, e.admin, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Domains[0] = "evil.com"
	if again, _ := e.svc.IdentityProvider(e.ctx, e.admin, p.ID); again.Domains[0] != "example.com" {
		t.Fatal("a returned IdP shares memory with the store")
	}

	// The same entity ID twice in one account is a conflict.
	_, err = e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{
		MetadataXML: readMetadata(t, "metadata-okta.xml"), Domains: []string{"example.com"},
	})
	wantErr(t, err, store.ErrConflict)

	desc, allow := "Okta (staff)", true
	up, err := e.svc.UpdateIdentityProvider(e.ctx, e.admin, p.ID, sso.IdPUpdate{Description: &desc, AllowIdPInitiated: &allow})
	if err != nil || up.Description != desc || !up.AllowIDPInitiated {
		t.Fatalf("update: %+v %v", up, err)
	}
	if err := e.svc.DeleteIdentityProvider(e.ctx, e.admin, q.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.IdentityProvider(e.ctx, e.admin, q.ID)
	wantErr(t, err, store.ErrNotFound)

	want := []store.EventType{identity.EventIdentityProviderDeleted, identity.EventIdentityProviderUpdated,
		identity.EventIdentityProviderCreated, identity.EventIdentityProviderCreated}
	if got := eventTypes(t, e); !slices.Equal(got[:4], want) {
		t.Fatalf("events %v", got)
	}
}

func TestIdentityProviderValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	okta := readMetadata(t, "metadata-okta.xml")
	httpMD := strings.Replace(okta, "https://iamkit-test.okta.com", "http://iamkit-test.okta.com", -1)
	cases := []struct {
		name  string
		p     sso.IdPParams
		field string
	}{
		{"no metadata", sso.IdPParams{Domains: []string{"example.com"}}, "metadata_xml"},
		{"metadata over 16 KB", sso.IdPParams{MetadataXML: okta + strings.Repeat(" ", sso.MaxMetadataSize), Domains: []string{"example.com"}}, "metadata_xml"},
		{"http SSO URL", sso.IdPParams{MetadataXML: httpMD, Domains: []string{"example.com"}}, "metadata_xml"},
		{"no domains", sso.IdPParams{MetadataXML: okta}, "domains"},
		{"wildcard domain", sso.IdPParams{MetadataXML: okta, Domains: []string{"*.example.com"}}, "domains"},
		{"long description", sso.IdPParams{MetadataXML: okta, Domains: []string{"example.com"}, Description: strings.Repeat("x", 256)}, "description"},
		{"long attribute", sso.IdPParams{MetadataXML: okta, Domains: []string{"example.com"}, EmailAttribute: strings.Repeat("x", 256)}, "email_attribute"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.CreateIdentityProvider(e.ctx, e.admin, c.p)
			// Metadata errors name the part of metadata_xml at fault.
			if f := invalidField(err); f != c.field && !strings.HasPrefix(f, c.field+".") || !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("error %v, want a validation error on %s", err, c.field)
			}
		})
	}
	_, err := e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{MetadataXML: httpMD, Domains: []string{"example.com"}})
	if !isMetadataErr(err) {
		t.Fatalf("http metadata: %v", err)
	}
	_, err = e.svc.CreateIdentityProvider(e.ctx, e.admin, sso.IdPParams{MetadataXML: okta, Domains: []string{"example.com"}, DefaultRoles: []string{"no_such_role"}})
	wantErr(t, err, store.ErrInvalid)
}

func TestIdentityProviderAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	okta := sso.IdPParams{MetadataXML: readMetadata(t, "metadata-okta.xml"), Domains: []string{"example.com"}}
	dev := e.principal(e.member("dev@example.com", rbac.RoleDeveloper).ID)
	_, err := e.svc.CreateIdentityProvider(e.ctx, dev, okta)
	wantErr(t, err, store.ErrDenied)
	enf := sso.EnforcementMixed
	_, err = e.svc.UpdateSettings(e.ctx, dev, sso.SettingsUpdate{Enforcement: &enf})
	wantErr(t, err, store.ErrDenied)

	// A plan without SSO: even the administrator cannot configure it.
	f := newEnv(t, identity.PayAsYouGo().Name)
	_, err = f.svc.CreateIdentityProvider(f.ctx, f.admin, okta)
	wantErr(t, err, store.ErrFeatureUnavailable)
	_, err = f.svc.UpdateSettings(f.ctx, f.admin, sso.SettingsUpdate{Enforcement: &enf})
	wantErr(t, err, store.ErrFeatureUnavailable)
}

func TestDeleteLastIdPWhileEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	// Enforcing needs an IdP.
	enf := sso.EnforcementEnforced
	_, err := e.svc.UpdateSettings(e.ctx, e.admin, sso.SettingsUpdate{Enforcement: &enf})
	wantCode(t, err, sso.CodeNoIdentityProvider)
	wantErr(t, err, store.ErrConflict)

	a := e.newIdP(sso.IdPParams{Description: "A"})
	b := e.newIdP(sso.IdPParams{Description: "B"})
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
	if err := e.svc.DeleteIdentityProvider(e.ctx, e.admin, a.rec.ID); err != nil {
		t.Fatalf("deleting one of two IdPs: %v", err)
	}
	err = e.svc.DeleteIdentityProvider(e.ctx, e.admin, b.rec.ID)
	wantCode(t, err, sso.CodeLastIdentityProvider)
	if _, err := e.svc.IdentityProvider(e.ctx, e.admin, b.rec.ID); err != nil {
		t.Fatalf("last IdP gone: %v", err)
	}
	// In mixed mode it may go.
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementMixed)
	if err := e.svc.DeleteIdentityProvider(e.ctx, e.admin, b.rec.ID); err != nil {
		t.Fatal(err)
	}
}

func TestSettingsSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	s, err := e.svc.Settings(e.ctx, e.admin)
	if err != nil || s.Provisioning != sso.ProvisioningInviteOnly || s.Enforcement != sso.EnforcementOff || !s.Since.IsZero() {
		t.Fatalf("defaults %+v %v", s, err)
	}
	e.newIdP(sso.IdPParams{})
	start := e.clk.Now()
	s = e.setSettings(sso.ProvisioningJIT, sso.EnforcementMixed)
	if !s.Since.Equal(start) {
		t.Fatalf("since %v, want %v", s.Since, start)
	}
	// mixed -> enforced keeps Since; it is when enforcement left off.
	if s2 := e.setSettings(sso.ProvisioningJIT, sso.EnforcementEnforced); !s2.Since.Equal(start) {
		t.Fatalf("since moved to %v", s2.Since)
	}
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	again := e.clk.Now()
	if s3 := e.setSettings(sso.ProvisioningJIT, sso.EnforcementMixed); !s3.Since.Equal(again) {
		t.Fatalf("since %v, want %v", s3.Since, again)
	}
	bad := sso.Enforcement("strict")
	_, err = e.svc.UpdateSettings(e.ctx, e.admin, sso.SettingsUpdate{Enforcement: &bad})
	if invalidField(err) != "enforcement" {
		t.Fatalf("error %v", err)
	}
	if got := eventTypes(t, e); got[0] != identity.EventSSOSettingsUpdated {
		t.Fatalf("events %v", got)
	}
}
