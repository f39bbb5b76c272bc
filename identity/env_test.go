package identity_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

var epoch = testenv.Epoch()

// small is a plan with RBAC and three seats, to reach the limit quickly.
var small = identity.Plan{Name: "small", Seats: 3, Features: []identity.Feature{identity.FeatureRBAC, identity.FeatureBotUsers}}

// env is the shared fixture.
type env = testenv.Env

func newEnv(t *testing.T) *env { return testenv.New(t, []identity.Plan{small}) }

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one matching %v", err, target)
	}
}

// wantCode fails unless err matches kind and has code.
func wantCode(t *testing.T, err, kind error, code string) {
	t.Helper()
	if !errors.Is(err, kind) || store.CodeOf(err) != code {
		t.Fatalf("error = %v (code %q), want one matching %v with code %q", err, store.CodeOf(err), kind, code)
	}
}

// invalidField returns the field an error matching store.ErrInvalid names, or "" for any
// other error.
func invalidField(err error) string {
	var se *store.Error
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) {
		return ""
	}
	return se.Field
}
