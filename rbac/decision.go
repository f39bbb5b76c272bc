package rbac

import (
	"errors"
	"fmt"
)

// Reason says why a Decision allowed or denied.
type Reason uint8

// Reasons. ReasonGranted is the only one that allows.
const (
	ReasonGranted        Reason = iota // a role of the principal grants the permission
	ReasonNoRole                       // no role of the principal grants it
	ReasonNotInPlan                    // a role grants it but the account's plan lacks the feature
	ReasonNotMember                    // the principal is not a member (user) or not of the account (bot user)
	ReasonInactive                     // the member is disabled or the bot user deactivated
	ReasonOtherAccount                 // the principal acts in another account
	ReasonNoAccount                    // the account does not exist
	ReasonExceedsGrantor               // the change grants permissions the principal does not hold
	ReasonAdminOnly                    // only administrators may grant, invite or change administrators
)

var reasonText = [...]string{
	ReasonGranted:        "granted by a role",
	ReasonNoRole:         "no role of the principal grants it",
	ReasonNotInPlan:      "the account's plan does not include it",
	ReasonNotMember:      "the principal is not a member of the account",
	ReasonInactive:       "the principal is deactivated",
	ReasonOtherAccount:   "the principal acts in another account",
	ReasonNoAccount:      "the account does not exist",
	ReasonExceedsGrantor: "it would grant permissions the principal does not hold",
	ReasonAdminOnly:      "only administrators may grant, invite or change administrators",
}

// String describes the reason in words.
func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Decision is the answer to a Check. A deny is a Decision, not an error.
type Decision struct {
	Allowed    bool
	Permission Permission
	Reason     Reason
	// Role is, when Allowed, the principal's role that grants the permission: a built-in
	// role's name or a custom role's ID.
	Role string
}

// String returns "allow <permission> (role <role>)" or "deny <permission>: <reason>".
func (d Decision) String() string {
	if d.Allowed {
		return fmt.Sprintf("allow %s (role %s)", d.Permission, d.Role)
	}
	return fmt.Sprintf("deny %s: %s", d.Permission, d.Reason)
}

// ErrDenied is matched (errors.Is) by every *DeniedError.
var ErrDenied = errors.New("permission denied")

// DeniedError is a denied Decision as an error, for middleware. It matches ErrDenied.
type DeniedError struct {
	PrincipalID string
	AccountID   string
	Permission  Permission
	Reason      Reason
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("rbac: %s may not %s in %s: %s", e.PrincipalID, e.Permission, e.AccountID, e.Reason)
}

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }
