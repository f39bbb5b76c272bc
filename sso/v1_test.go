package sso_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// wantDeniedPermission fails unless err is an rbac denial naming the permission perm.
func wantDeniedPermission(t *testing.T, err error, perm string) {
	t.Helper()
	var se *store.Error
	if !errors.Is(err, store.ErrDenied) || !errors.As(err, &se) || se.Field != perm {
		t.Fatalf("error %v, want a denial of %s", err, perm)
	}
}

// TestReadsNeedSSORead: IdentityProvider, IdentityProviders and Settings are authorized like
// the writes, with rbac.SSORead in by's account: an administrator reads, a developer is
// denied, a custom role granting sso:read reads but does not manage, a principal of another
// account does not find the IdP, and a plan without SSO refuses the reads too.
func TestReadsNeedSSORead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	reads := map[string]func(p identity.Principal) error{
		"IdentityProvider": func(p identity.Principal) error {
			_, err := e.svc.IdentityProvider(e.ctx, p, idp.rec.ID)
			return err
		},
		"IdentityProviders": func(p identity.Principal) error {
			_, err := e.svc.IdentityProviders(e.ctx, p, store.Page{Limit: 10})
			return err
		},
		"Settings": func(p identity.Principal) error {
			_, err := e.svc.Settings(e.ctx, p)
			return err
		},
	}

	dev := e.principal(e.member("dev@example.com", rbac.RoleDeveloper).ID)
	role, err := e.authz.CreateRole(e.ctx, e.admin, rbac.RoleSpec{Name: "sso_viewer", Permissions: []rbac.Permission{rbac.SSORead}})
	if err != nil {
		t.Fatal(err)
	}
	viewer := e.principal(e.member("viewer@example.com", role.ID).ID)
	for name, read := range reads {
		if err := read(e.admin); err != nil {
			t.Errorf("%s by the administrator: %v", name, err)
		}
		if err := read(viewer); err != nil {
			t.Errorf("%s with sso:read: %v", name, err)
		}
		wantDeniedPermission(t, read(dev), "sso:read")
	}
	_, err = e.svc.CreateIdentityProvider(e.ctx, viewer, sso.IdPParams{MetadataXML: readMetadata(t, "metadata-okta.xml"), Domains: []string{"example.com"}})
	wantDeniedPermission(t, err, "sso:manage")

	// Another account's administrator names this account's IdP: not found in theirs.
	other := newEnv(t, identity.Enterprise().Name)
	_, err = other.svc.IdentityProvider(other.ctx, other.admin, idp.rec.ID)
	wantErr(t, err, store.ErrNotFound)

	// A plan without SSO: even its administrator reads nothing.
	f := newEnv(t, identity.PayAsYouGo().Name)
	for name, read := range map[string]func() error{
		"IdentityProviders": func() error { _, err := f.svc.IdentityProviders(f.ctx, f.admin, store.Page{Limit: 10}); return err },
		"Settings":          func() error { _, err := f.svc.Settings(f.ctx, f.admin); return err },
	} {
		err := read()
		var se *store.Error
		if !errors.Is(err, store.ErrFeatureUnavailable) || !errors.As(err, &se) || se.Field != string(identity.FeatureSSO) {
			t.Errorf("%s on a plan without SSO: %v", name, err)
		}
	}

	// An invalid principal or IdP ID is an invalid argument, before any read.
	_, err = e.svc.IdentityProvider(e.ctx, e.admin, "ac_not_an_idp")
	if invalidField(err) != "idp_id" {
		t.Fatalf("IdP ID of the wrong kind: %v", err)
	}
	_, err = e.svc.Settings(e.ctx, identity.Principal{})
	wantErr(t, err, store.ErrInvalid)
}

// TestObjectsAsTheAPIServesThem: IdentityProviderObject and SettingsObject are the public
// JSON of an IdP and of the settings, with the API's field names, and what the audit events
// record.
func TestObjectsAsTheAPIServesThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{Description: "Okta", DefaultRoles: []string{rbac.RoleDeveloper}})

	obj := sso.IdentityProviderObjectOf(idp.rec)
	if obj.Resource() != identity.ResourceIdentityProvider || obj.ID != idp.rec.ID || obj.SSOURL == "" {
		t.Fatalf("object %+v", obj)
	}
	var fields map[string]json.RawMessage
	b, _ := json.Marshal(obj)
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "description", "entity_id", "sso_url", "allow_idp_initiated", "default_roles", "domains", "role_rules", "created_at"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("IdentityProviderObject JSON %s lacks %q", b, k)
		}
	}
	if _, ok := fields["metadata_xml"]; ok {
		t.Errorf("IdentityProviderObject JSON %s carries the metadata document", b)
	}
	// The event of the creation records the same object.
	page, err := e.authz.Events(e.ctx, e.admin, store.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range page.Events {
		if ev.Type == identity.EventIdentityProviderCreated {
			found = bytes.Equal(ev.Object, b)
		}
	}
	if !found {
		t.Fatalf("no identity_provider_created event recording %s", b)
	}

	b, _ = json.Marshal(sso.SettingsObjectOf(sso.Settings{Provisioning: sso.ProvisioningInviteOnly, Enforcement: sso.EnforcementOff}))
	if string(b) != `{"provisioning":"invite_only","enforcement":"off","since":null}` {
		t.Fatalf("settings JSON %s", b)
	}
	s := e.setSettings(sso.ProvisioningJIT, sso.EnforcementMixed)
	want, _ := json.Marshal(sso.SettingsObjectOf(s))
	page, err = e.authz.Events(e.ctx, e.admin, store.Page{Limit: 1})
	if err != nil || len(page.Events) != 1 || page.Events[0].Type != identity.EventSSOSettingsUpdated || !bytes.Equal(page.Events[0].Object, want) {
		t.Fatalf("settings event %+v (%v), want object %s", page.Events, err, want)
	}
	if obj := sso.SettingsObjectOf(s); obj.Since == nil || *obj.Since != identity.Timestamp(s.Since) {
		t.Fatalf("settings object %+v", obj)
	}
}

// TestConstructorsNameTheirArguments: New, NewSessions, NewHandler and NewValidator return
// store.ErrInvalid naming a nil argument or option, and an unusable base URL has
// CodeConfigInvalid; none of them panics.
func TestConstructorsNameTheirArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	_, key, _ := ed25519.GenerateKey(nil)
	login := func(http.ResponseWriter, *http.Request, *sso.Login) {}
	for field, call := range map[string]func() error{
		"store":      func() error { _, err := sso.New(nil, e.authz, e.sp.URL); return err },
		"authorizer": func() error { _, err := sso.New(e.st, nil, e.sp.URL); return err },
		"clock":      func() error { _, err := sso.New(e.st, e.authz, e.sp.URL, sso.WithClock(nil)); return err },
		"service":    func() error { _, err := sso.NewSessions(nil, key); return err },
		"key":        func() error { _, err := sso.NewSessions(e.svc, nil); return err },
		"login_func": func() error { _, err := sso.NewHandler(e.svc, nil); return err },
	} {
		if err := call(); invalidField(err) != field {
			t.Errorf("nil %s: %v", field, err)
		}
	}
	if _, err := sso.NewHandler(nil, login); invalidField(err) != "service" {
		t.Errorf("NewHandler(nil): %v", err)
	}
	if _, err := sso.NewValidator(nil, e.clk); invalidField(err) != "store" {
		t.Errorf("NewValidator(nil store): %v", err)
	}
	if _, err := sso.NewValidator(e.st, nil); invalidField(err) != "clock" {
		t.Errorf("NewValidator(nil clock): %v", err)
	}
	_, err := sso.New(e.st, e.authz, "http://dashboard.example.com")
	wantCode(t, err, sso.CodeConfigInvalid)
	wantErr(t, err, store.ErrInvalid)
	_, err = sso.NewSessions(e.svc, key, sso.WithSessionTTL(25*time.Hour))
	wantCode(t, err, sso.CodeConfigInvalid)
}

// TestLoginDenialsCarryTheirReason: a refused login is store.ErrDenied with the reason's
// value as its code and the LoginReason as its cause, from LoginDecision.Err as from the
// Service.
func TestLoginDenialsCarryTheirReason(t *testing.T) {
	t.Parallel()
	if err := (sso.LoginDecision{Allowed: true, Reason: sso.ReasonSSOLogin}).Err(); err != nil {
		t.Fatalf("allowed decision: %v", err)
	}
	err := sso.LoginDecision{Reason: sso.ReasonSSORequired, Method: sso.MethodPassword}.Err()
	wantDenied(t, err, sso.ReasonSSORequired)
	var reason sso.LoginReason
	if !errors.As(err, &reason) || reason != sso.ReasonSSORequired || !errors.Is(err, sso.ReasonSSORequired) {
		t.Fatalf("error %v does not carry its reason", err)
	}

	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementOff)
	_, err = e.login(idp, "stranger@example.com", "")
	wantDenied(t, err, sso.ReasonNotInvited)
	if !errors.As(err, &reason) || reason != sso.ReasonNotInvited {
		t.Fatalf("error %v does not carry its reason", err)
	}
}
