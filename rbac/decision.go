package rbac

import (
	"fmt"

	"github.com/iamkit/iamkit/store"
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
	ReasonOutOfScope                   // the principal's access token is not scoped for it (identity.Scope)
)

// The codes of this package's errors (store.CodeOf). A denial matches store.ErrDenied, has
// the code of its Reason (Reason.Code) and names the permission denied in Field.
const (
	CodeNoRole         = "no_role"            // ReasonNoRole
	CodeNotInPlan      = "not_in_plan"        // ReasonNotInPlan
	CodeNotMember      = "not_member"         // ReasonNotMember
	CodeInactive       = "principal_inactive" // ReasonInactive
	CodeOtherAccount   = "other_account"      // ReasonOtherAccount
	CodeNoAccount      = "no_account"         // ReasonNoAccount
	CodeExceedsGrantor = "exceeds_grantor"    // ReasonExceedsGrantor
	CodeAdminOnly      = "admin_only"         // ReasonAdminOnly
	CodeOutOfScope     = "out_of_scope"       // ReasonOutOfScope

	// CodeUnknownPermission: a permission name the registry does not hold (store.ErrInvalid).
	CodeUnknownPermission = "unknown_permission"
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
	ReasonOutOfScope:     "the access token's scopes do not include it",
}

var reasonCode = [...]string{
	ReasonGranted:        "",
	ReasonNoRole:         CodeNoRole,
	ReasonNotInPlan:      CodeNotInPlan,
	ReasonNotMember:      CodeNotMember,
	ReasonInactive:       CodeInactive,
	ReasonOtherAccount:   CodeOtherAccount,
	ReasonNoAccount:      CodeNoAccount,
	ReasonExceedsGrantor: CodeExceedsGrantor,
	ReasonAdminOnly:      CodeAdminOnly,
	ReasonOutOfScope:     CodeOutOfScope,
}

// String describes the reason in words.
func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Code returns the code of a denial for this reason (CodeNoRole, ...), or "" for
// ReasonGranted and unknown values.
func (r Reason) Code() string {
	if int(r) < len(reasonCode) {
		return reasonCode[r]
	}
	return ""
}

// Decision is the answer to a Check. A deny is a Decision, not an error.
type Decision struct {
	Allowed    bool
	Permission Permission
	// Name is the permission's "resource:action" name.
	Name   string
	Reason Reason
	// Role is, when Allowed, the principal's role that grants the permission: a built-in
	// role's name or a custom role's ID.
	Role string
}

// String returns "allow <permission> (role <role>)" or "deny <permission>: <reason>".
func (d Decision) String() string {
	if d.Allowed {
		return fmt.Sprintf("allow %s (role %s)", d.Name, d.Role)
	}
	return fmt.Sprintf("deny %s: %s", d.Name, d.Reason)
}

// Err returns nil for an allowed decision, and for a denied one an error matching
// store.ErrDenied with the reason's code, naming the permission in Field.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &store.Error{
		Kind: store.ErrDenied, Code: d.Reason.Code(), Field: d.Name,
		Msg: fmt.Sprintf("may not %s: %s", d.Name, d.Reason),
	}
}
