package identity

import (
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/store"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError of iamkit's domain packages.
var ErrInvalid = errors.New("invalid input")

// ValidationError names an input field and what is wrong with it (including the limit it
// broke). It never repeats the value: a value may be secret.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Sentinel errors of this package, matched with errors.Is.
var (
	// ErrNotFound is store.ErrNotFound (the same value): a record, or a principal in an
	// account, does not exist.
	ErrNotFound = store.ErrNotFound
	// ErrSeatLimit: the change would take the account over its plan's seats. Matched by
	// *SeatLimitError.
	ErrSeatLimit = errors.New("seat limit reached")
	// ErrFeatureUnavailable: the account's plan does not include a feature. Matched by
	// *FeatureError.
	ErrFeatureUnavailable = errors.New("feature not available on this plan")
	// ErrUnknownPlan: an account names a plan the catalog does not hold.
	ErrUnknownPlan = errors.New("unknown plan")
	// ErrAlreadyMember: the user, or the invited email's user, is already a member.
	ErrAlreadyMember = errors.New("already a member of the account")
	// ErrAlreadyInvited: an unexpired invitation for the email exists in the account.
	ErrAlreadyInvited = errors.New("email already invited to the account")
	// ErrInvitationExpired: the invitation can no longer be accepted.
	ErrInvitationExpired = errors.New("invitation expired")
	// ErrLastAdministrator: the change would leave the account without an active administrator.
	ErrLastAdministrator = errors.New("an account must keep at least one active administrator")
)

// SeatLimitError says how many seats the plan allows and how many are in use (active
// members plus pending invitations). It matches ErrSeatLimit.
type SeatLimitError struct {
	Limit int
	Used  int
}

func (e *SeatLimitError) Error() string {
	return fmt.Sprintf("seat limit of %d reached: %d in use by active members and pending invitations; add seats or change plan", e.Limit, e.Used)
}

// Is reports whether target is ErrSeatLimit.
func (e *SeatLimitError) Is(target error) bool { return target == ErrSeatLimit }

// FeatureError names the feature an account's plan lacks. It matches ErrFeatureUnavailable.
type FeatureError struct {
	Plan    string
	Feature Feature
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("plan %q does not include %s; upgrade the plan", e.Plan, e.Feature)
}

// Is reports whether target is ErrFeatureUnavailable.
func (e *FeatureError) Is(target error) bool { return target == ErrFeatureUnavailable }
