package identity

import (
	"fmt"

	"github.com/iamkit/iamkit/store"
)

// The codes of this package's errors (store.CodeOf), besides the store's own (CodeRequired,
// CodeTooLong, CodeInvalidValue, CodeOutOfRange, CodeAlreadyExists). Each error matches the
// store sentinel its comment names.
const (
	// CodeSeatLimit: the change would take the account over its plan's seats
	// (store.ErrLimitExceeded; Limit is the seat limit).
	CodeSeatLimit = "seat_limit"
	// CodeFeatureUnavailable: the account's plan does not include a feature
	// (store.ErrFeatureUnavailable; Field is the Feature).
	CodeFeatureUnavailable = "feature_unavailable"
	// CodeUnknownPlan: a plan, asked for or stored on an account, is not in the catalog
	// (store.ErrInvalid; Field "plan").
	CodeUnknownPlan = "unknown_plan"
	// CodeAlreadyMember: the user, or the invited email's user, is already a member
	// (store.ErrConflict).
	CodeAlreadyMember = "already_member"
	// CodeAlreadyInvited: an unexpired invitation for the email exists in the account
	// (store.ErrConflict).
	CodeAlreadyInvited = "already_invited"
	// CodeInvitationExpired: the invitation can no longer be accepted (store.ErrConflict).
	CodeInvitationExpired = "invitation_expired"
	// CodeLastAdministrator: the change would leave the account without an active
	// administrator (store.ErrConflict).
	CodeLastAdministrator = "last_administrator"
)

// featureUnavailable is the error of a plan without feature f.
func featureUnavailable(plan string, f Feature) error {
	return &store.Error{
		Kind: store.ErrFeatureUnavailable, Code: CodeFeatureUnavailable, Field: string(f),
		Msg: fmt.Sprintf("plan %q does not include %s; upgrade the plan", plan, f),
	}
}

// unknownPlan is the error of a plan name the catalog does not hold.
func unknownPlan() error {
	return store.Invalid("plan", CodeUnknownPlan, 0, "not in the plan catalog")
}
