package rbac

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// Permission is one action on one kind of resource, written "resource:action". Permissions
// are small integers so that a set of them is a fixed array of machine words (Set). The
// built-in ones are the constants below; an embedder registers its own (NewPermissions),
// which get the values after them. Name a permission, and parse one, through the registry:
// Permissions.Name and Permissions.Lookup, or Authorizer.Permission.
type Permission uint8

// The built-in permissions. Their numeric values are not stable across versions: persist
// names.
const (
	AccountRead            Permission = iota + 1 // see the account, its plan and seat usage
	AccountManage                                // rename the account, change its settings (administrators only)
	BillingRead                                  // see plan, payment method and invoices
	BillingManage                                // change plan and payment details
	MembersRead                                  // see members and invitations
	MembersInvite                                // invite new members, revoke invitations
	MembersManage                                // add, disable, enable and remove members, change their roles
	RolesRead                                    // see custom roles
	RolesManage                                  // create, update and delete custom roles (administrators only)
	BotUsersRead                                 // see bot users
	BotUsersWrite                                // create, update, deactivate and delete bot users
	CredentialsRead                              // see authtokens, API keys and SSH credentials
	CredentialsWrite                             // create, update and delete credentials
	CredentialsAssignOwner                       // create credentials owned by another principal (administrators only)
	SSORead                                      // see identity providers and SSO settings
	SSOManage                                    // configure identity providers and SSO (administrators only)
	EventsRead                                   // read the audit event log
	TunnelStart                                  // start an agent session (ngrok's scope tunnel:start)

	numBuiltins = iota // the number of built-in permissions
)

// MaxPermissions is the most permissions a registry holds, built-ins included: a Set is
// setWords 64-bit words.
const MaxPermissions = setWords * 64

// MaxPermissionNameLen is the longest permission name, in bytes.
const MaxPermissionNameLen = 64

var builtinNames = [numBuiltins + 1]string{
	"",
	"account:read", "account:manage",
	"billing:read", "billing:manage",
	"members:read", "members:invite", "members:manage",
	"roles:read", "roles:manage",
	"bot_users:read", "bot_users:write",
	"credentials:read", "credentials:write", "credentials:assign_owner",
	"sso:read", "sso:manage",
	"events:read",
	"tunnel:start",
}

var builtinDescriptions = [numBuiltins + 1]string{
	"",
	"See the account, its plan and seat usage.", "Rename the account and change its settings.",
	"See the plan, payment method and invoices.", "Change the plan and payment details.",
	"See members and invitations.", "Invite new members and revoke invitations.", "Add, disable, enable and remove members and change their roles.",
	"See custom roles.", "Create, update and delete custom roles.",
	"See bot users.", "Create, update, deactivate and delete bot users.",
	"See authtokens, API keys and SSH credentials.", "Create, update and delete credentials.", "Create credentials owned by another principal.",
	"See identity providers and SSO settings.", "Configure identity providers and SSO.",
	"Read the audit event log.",
	"Start agent sessions (tunnels) with an access token.",
}

// builtinFeatures is the plan feature a built-in permission needs, if any: without it the
// permission is denied (ReasonNotInPlan) whatever the principal's roles.
var builtinFeatures = [numBuiltins + 1]identity.Feature{
	RolesManage:            identity.FeatureCustomRoles,
	BotUsersRead:           identity.FeatureBotUsers,
	BotUsersWrite:          identity.FeatureBotUsers,
	CredentialsAssignOwner: identity.FeatureOwnerAssignment,
	SSORead:                identity.FeatureSSO,
	SSOManage:              identity.FeatureSSO,
}

// AdminOnly returns the permissions only the Administrator role grants: custom roles cannot
// include them.
func AdminOnly() Set { return SetOf(AccountManage, RolesManage, CredentialsAssignOwner, SSOManage) }

// PermissionSpec registers a permission of the embedder's (NewPermissions).
type PermissionSpec struct {
	// Name is "resource:action": lower-case ASCII letters, digits and underscores on each
	// side of one colon, each side starting with a letter, at most MaxPermissionNameLen
	// bytes, such as "endpoints:write". It must not be a built-in permission's.
	Name string
	// Description says what the permission allows, for people (at most
	// store.MaxDescriptionLen bytes).
	Description string
	// Roles are the built-in roles that grant the permission (RoleDeveloper, ...).
	// Administrator always does, listed or not. Custom roles may include it too.
	Roles []string
	// Feature, if set, is the plan feature the permission needs: without it the permission
	// is denied (ReasonNotInPlan) whatever the principal's roles.
	Feature identity.Feature
}

// Permissions is a registry of permissions: the built-ins and the embedder's. Names,
// parsing, role grants and plan gates all go through it. It is immutable and safe for
// concurrent use; one registry is passed to rbac.New (WithPermissions).
type Permissions struct {
	names   []string // by Permission; names[0] is ""
	descs   []string
	feature []identity.Feature
	byName  map[string]Permission
	roles   map[string]Set // built-in role name -> what it grants
	all     Set
	service Set // the most a service (bot) user holds: what ServiceUserRoles grant
}

// NewPermissions returns the registry of the built-in permissions and those of specs, which
// get the values after the built-ins, in order. At most MaxPermissions in all. A bad spec is
// an error matching store.ErrInvalid naming it, such as "permissions[2].name".
func NewPermissions(specs ...PermissionSpec) (*Permissions, error) {
	n := numBuiltins + 1 + len(specs)
	if n-1 > MaxPermissions {
		return nil, store.Invalid("permissions", store.CodeOutOfRange, MaxPermissions-numBuiltins,
			"%d permissions may be registered besides the %d built-ins, got %d", MaxPermissions-numBuiltins, numBuiltins, len(specs))
	}
	ps := &Permissions{
		names: make([]string, 0, n), descs: make([]string, 0, n), feature: make([]identity.Feature, 0, n),
		byName: make(map[string]Permission, n), roles: map[string]Set{},
	}
	ps.names = append(ps.names, builtinNames[:]...)
	ps.descs = append(ps.descs, builtinDescriptions[:]...)
	ps.feature = append(ps.feature, builtinFeatures[:]...)
	for _, b := range builtins {
		ps.roles[b.name] = b.perms
	}
	for i, spec := range specs {
		if err := ps.checkSpec(i, spec); err != nil {
			return nil, err
		}
		p := Permission(len(ps.names))
		ps.names = append(ps.names, spec.Name)
		ps.descs = append(ps.descs, spec.Description)
		ps.feature = append(ps.feature, spec.Feature)
		for _, r := range spec.Roles {
			ps.roles[r] = ps.roles[r].With(p)
		}
	}
	for p := Permission(1); int(p) < len(ps.names); p++ {
		ps.byName[ps.names[p]] = p
		ps.all = ps.all.With(p)
	}
	ps.roles[RoleAdministrator] = ps.all
	for _, r := range ServiceUserRoles() {
		ps.service = ps.service.Union(ps.roles[r])
	}
	return ps, nil
}

// ServiceUserGrants returns the most a service (bot) user may hold in this registry: what
// ServiceUserRoles grant together, registered permissions that list them included.
func (ps *Permissions) ServiceUserGrants() Set { return ps.service }

// checkSpec validates the i-th spec against the registry built so far.
func (ps *Permissions) checkSpec(i int, spec PermissionSpec) error {
	field := fmt.Sprintf("permissions[%d]", i)
	if err := checkPermissionName(field+".name", spec.Name); err != nil {
		return err
	}
	if slices.Contains(ps.names, spec.Name) {
		return store.Invalid(field+".name", store.CodeInvalidValue, 0, "%s is already a permission", spec.Name)
	}
	if err := identity.CheckDescription(field+".description", spec.Description, store.MaxDescriptionLen); err != nil {
		return err
	}
	for j, r := range spec.Roles {
		if _, ok := builtin(r); !ok {
			return store.Invalid(fmt.Sprintf("%s.roles[%d]", field, j), store.CodeInvalidValue, 0, "not a built-in role's name")
		}
	}
	return nil
}

// checkPermissionName accepts "resource:action" of lower-case ASCII letters, digits and
// underscores, each side starting with a letter.
func checkPermissionName(field, name string) error {
	if name == "" {
		return store.Invalid(field, store.CodeRequired, 0, "required")
	}
	if len(name) > MaxPermissionNameLen {
		return store.Invalid(field, store.CodeTooLong, MaxPermissionNameLen, "%d bytes at most, got %d", MaxPermissionNameLen, len(name))
	}
	resource, action, ok := strings.Cut(name, ":")
	if !ok || !isIdent(resource) || !isIdent(action) {
		return store.Invalid(field, store.CodeInvalidValue, 0, "must be resource:action in lower-case letters, digits and underscores, such as endpoints:write")
	}
	return nil
}

// isIdent reports whether s is a lower-case letter followed by lower-case letters, digits
// and underscores.
func isIdent(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Valid reports whether p is a permission of the registry.
func (ps *Permissions) Valid(p Permission) bool { return p > 0 && int(p) < len(ps.names) }

// Name returns p's "resource:action" name, or "permission(N)" for a value the registry does
// not hold.
func (ps *Permissions) Name(p Permission) string {
	if !ps.Valid(p) {
		return fmt.Sprintf("permission(%d)", uint8(p))
	}
	return ps.names[p]
}

// Description returns what p allows, for people ("" for a value the registry does not hold).
func (ps *Permissions) Description(p Permission) string {
	if !ps.Valid(p) {
		return ""
	}
	return ps.descs[p]
}

// Feature returns the plan feature p needs, or "" for none.
func (ps *Permissions) Feature(p Permission) identity.Feature {
	if !ps.Valid(p) {
		return ""
	}
	return ps.feature[p]
}

// Lookup parses a "resource:action" name. An unknown name is an error matching
// store.ErrInvalid, code CodeUnknownPermission, Field "permission".
func (ps *Permissions) Lookup(name string) (Permission, error) {
	if p, ok := ps.byName[name]; ok {
		return p, nil
	}
	return 0, store.Invalid("permission", CodeUnknownPermission, 0, "unknown permission; want resource:action such as credentials:read")
}

// All returns every permission of the registry, in order.
func (ps *Permissions) All() []Permission { return ps.all.Permissions() }

// AllSet returns every permission of the registry as a Set: what Administrator grants.
func (ps *Permissions) AllSet() Set { return ps.all }

// Names returns the names of the permissions in s, in order.
func (ps *Permissions) Names(s Set) []string {
	out := make([]string, 0, s.Len())
	for _, p := range s.Permissions() {
		out = append(out, ps.Name(p))
	}
	return out
}

// RoleGrants returns what the built-in role name grants in this registry (the built-in
// permissions of BuiltinRoles, plus the registered permissions that list it), and false for
// a name that is no built-in role.
func (ps *Permissions) RoleGrants(name string) (Set, bool) {
	s, ok := ps.roles[name]
	return s, ok
}

// planMask returns the permissions plan allows.
func (ps *Permissions) planMask(plan identity.Plan) Set {
	m := ps.all
	for p := Permission(1); int(p) < len(ps.names); p++ {
		if f := ps.feature[p]; f != "" && !plan.Has(f) {
			m = m.Without(p)
		}
	}
	return m
}

// setWords is the number of 64-bit words of a Set: those of an identity.Scope, which is a
// Set carried by a principal.
const setWords = identity.ScopeWords

// Set is a set of permissions as a bit set: permission p is bit p-1. The zero Set is empty.
// A Set is a value: its methods return new sets.
type Set [setWords]uint64

// SetOf returns the set holding ps (values outside 1..MaxPermissions are left out).
func SetOf(ps ...Permission) Set {
	var s Set
	for _, p := range ps {
		s = s.With(p)
	}
	return s
}

// bit returns the word index and mask of p, and false for a value outside the set's range.
func bit(p Permission) (int, uint64, bool) {
	if p == 0 || int(p) > MaxPermissions {
		return 0, 0, false
	}
	i := int(p - 1)
	return i >> 6, 1 << (i & 63), true
}

// Has reports whether p is in s.
func (s Set) Has(p Permission) bool { return s.contains(p) }

// contains is Has through a pointer: the warm path of Check reads the word in place rather
// than copying the set first.
func (s *Set) contains(p Permission) bool {
	i := uint(p) - 1 // permission 0 wraps around, out of range
	return i < MaxPermissions && s[i>>6&(setWords-1)]&(1<<(i&63)) != 0
}

// With returns s with p added.
func (s Set) With(p Permission) Set {
	if w, m, ok := bit(p); ok {
		s[w] |= m
	}
	return s
}

// Without returns s with p removed.
func (s Set) Without(p Permission) Set {
	if w, m, ok := bit(p); ok {
		s[w] &^= m
	}
	return s
}

// Union returns the permissions in s or o.
func (s Set) Union(o Set) Set {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

// Intersect returns the permissions in both s and o.
func (s Set) Intersect(o Set) Set {
	for i := range s {
		s[i] &= o[i]
	}
	return s
}

// Minus returns the permissions in s but not in o.
func (s Set) Minus(o Set) Set {
	for i := range s {
		s[i] &^= o[i]
	}
	return s
}

// Covers reports whether every permission of o is in s.
func (s Set) Covers(o Set) bool { return o.Minus(s).IsEmpty() }

// IsEmpty reports whether s holds no permission.
func (s Set) IsEmpty() bool { return s == Set{} }

// Len returns the number of permissions in s.
func (s Set) Len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Permissions returns the permissions in s, in order.
func (s Set) Permissions() []Permission {
	ps := make([]Permission, 0, s.Len())
	for i, w := range s {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			ps = append(ps, Permission(i*64+b+1))
			w &^= 1 << b
		}
	}
	return ps
}
