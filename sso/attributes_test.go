package sso

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/store"
)

func TestMapIdentity(t *testing.T) {
	t.Parallel()
	entra := []samlAttribute{
		{name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", values: []string{"Alice"}},
		{name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", values: []string{"Example"}},
		{name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", values: []string{"alice@contoso.example"}},
		{name: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", values: []string{"6f1c-aa", "7b2d-bb", "6f1c-aa"}},
	}
	email, name, groups, err := mapIdentity(AttributeMapping{}.withDefaults(), entra, "opaque-object-id")
	if err != nil || email != "alice@contoso.example" || name != "Alice Example" || !slices.Equal(groups, []string{"6f1c-aa", "7b2d-bb"}) {
		t.Fatalf("entra: %q %q %v %v", email, name, groups, err)
	}

	keycloak := []samlAttribute{
		{name: "urn:oid:1.2.840.113549.1.9.1", friendlyName: "email", values: []string{"bob@example.com"}},
		{name: "Role", values: []string{"dev"}},
	}
	email, _, groups, err = mapIdentity(AttributeMapping{}.withDefaults(), keycloak, "f:123:bob")
	if err != nil || email != "bob@example.com" || !slices.Equal(groups, []string{"dev"}) {
		t.Fatalf("keycloak (FriendlyName): %q %v %v", email, groups, err)
	}

	// An empty, non-nil mapping disables the attribute.
	_, _, groups, err = mapIdentity(AttributeMapping{Groups: []string{}}.withDefaults(), keycloak, "bob@example.com")
	if err != nil || groups != nil {
		t.Fatalf("disabled groups: %v %v", groups, err)
	}
	for _, bad := range []string{"", "alice", "@example.com", "alice@", "a@b@c", "Alice <a@b.c>", "a b@c.d", strings.Repeat("a", 250) + "@x.io", "\u212Aim@example.com"} {
		if _, _, _, err := mapIdentity(AttributeMapping{}.withDefaults(), nil, bad); store.CodeOf(err) != CodeNoEmail {
			t.Errorf("NameID %q: %v, want CodeNoEmail", bad, err)
		}
	}
	if email, _, _, err := mapIdentity(AttributeMapping{}.withDefaults(), nil, "Alice@Example.COM"); err != nil || email != "alice@example.com" {
		t.Errorf("NameID is not normalised: %q %v", email, err)
	}
	if d := DefaultAttributeMapping(); &d.Email[0] == &DefaultAttributeMapping().Email[0] {
		t.Fatal("DefaultAttributeMapping shares its slices")
	}
}

func TestErrorTypes(t *testing.T) {
	t.Parallel()
	cause := &store.Error{Kind: store.ErrConflict, Code: store.CodeAlreadyExists, Field: "key"}
	var err error = respErrCause(CodeReplay, "assertion ID already used", cause)
	var se *store.Error
	if !errors.As(err, &se) || se.Code != CodeReplay || !errors.Is(err, store.ErrConflict) || !errors.Is(err, store.ErrUnauthenticated) ||
		!isResponseErr(err) || store.CodeOf(err) != CodeReplay || se.Msg == "" {
		t.Fatalf("response error: %v", err)
	}
	err = metadataErr("KeyDescriptor", "bad", errors.New("inner"))
	if !isMetadataErr(err) || errors.Unwrap(err) == nil || store.CodeOf(err) != CodeMetadataInvalid {
		t.Fatalf("metadata error: %v", err)
	}
	err = configErr("base_url", "bad", nil)
	if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != CodeConfigInvalid || invalidField(err) != "base_url" {
		t.Fatalf("config error: %v", err)
	}
	for _, r := range []LoginReason{ReasonNotInvited, ReasonBotUser, ReasonSSOEnforced} {
		err := loginDenied(r)
		if !errors.Is(err, store.ErrDenied) || store.CodeOf(err) != string(r) || !isLoginReason(r) {
			t.Fatalf("login denied for %s: %v", r, err)
		}
	}
}
