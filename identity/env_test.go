package identity_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
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
