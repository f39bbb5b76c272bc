package service_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/service"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// TestBuild: every missing part is refused naming it; with all of them the parts are built,
// with a logger even when none was given.
func TestBuild(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plans, err := identity.NewCatalog(identity.Free())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		t.Fatal(err)
	}
	noClock, noRand := service.Defaults(), service.Defaults()
	noClock.Clock, noRand.Rand = nil, nil
	for _, c := range []struct {
		name  string
		st    store.Store
		authz *rbac.Authorizer
		cfg   service.Config
		field string
	}{
		{"no store", nil, authz, service.Defaults(), "store"},
		{"no authorizer", st, nil, service.Defaults(), "authorizer"},
		{"no clock", st, authz, noClock, "clock"},
		{"no randomness", st, authz, noRand, "random"},
		{"complete", st, authz, service.Defaults(), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			parts, err := service.Build(c.st, c.authz, c.cfg)
			var se *store.Error
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("Build: %v", err)
			case c.field == "" && (parts.Clock == nil || parts.IDs == nil || parts.Log == nil):
				t.Fatalf("Build left a part out: %+v", parts)
			case c.field != "" && (!errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != c.field):
				t.Fatalf("Build: %v, want ErrInvalid naming %s", err, c.field)
			}
		})
	}
}
