package rbac

import (
	"context"
	"fmt"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// RoleSpec describes a custom role.
type RoleSpec struct {
	Name        string // required, unique per account, not a built-in name; see identity.CheckName
	Description string // free text; see identity.CheckDescription (at most store.MaxDescriptionLen bytes)
	// Permissions are built-in or registered permissions, AdminOnly ones excepted.
	Permissions []Permission
}

func (a *Authorizer) validateSpec(s RoleSpec) (Set, error) {
	if err := identity.CheckName("name", s.Name, true); err != nil {
		return Set{}, err
	}
	if err := identity.CheckDescription("description", s.Description, store.MaxDescriptionLen); err != nil {
		return Set{}, err
	}
	if _, ok := builtin(s.Name); ok {
		return Set{}, store.Invalid("name", store.CodeInvalidValue, 0, "is the name of a built-in role")
	}
	var set Set
	for i, p := range s.Permissions {
		field := fmt.Sprintf("permissions[%d]", i)
		switch {
		case !a.perms.Valid(p):
			return Set{}, store.Invalid(field, CodeUnknownPermission, 0, "unknown permission")
		case AdminOnly().Has(p):
			return Set{}, store.Invalid(field, store.CodeInvalidValue, 0, "%s is reserved to administrators", a.perms.Name(p))
		}
		set = set.With(p)
	}
	return set, nil
}

// RoleObject is a custom role as audit events record it and an API serves it (its public
// representation).
type RoleObject struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
	CreatedAt   string   `json:"created_at"`
}

// Resource returns identity.ResourceRole.
func (RoleObject) Resource() identity.Resource { return identity.ResourceRole }

// RoleObjectOf returns the object of a custom role.
func RoleObjectOf(r store.Role) RoleObject {
	perms := append([]string{}, r.Permissions...)
	return RoleObject{
		ID: r.ID, Name: r.Name, Description: r.Description, Permissions: perms,
		CreatedAt: identity.Timestamp(r.CreatedAt),
	}
}

// CreateRole creates a custom role in by's account. The plan must include
// identity.FeatureCustomRoles, by must hold roles:manage (administrators), and the role
// cannot include AdminOnly permissions.
func (a *Authorizer) CreateRole(ctx context.Context, by identity.Principal, spec RoleSpec) (store.Role, error) {
	if err := by.Validate(); err != nil {
		return store.Role{}, err
	}
	perms, err := a.validateSpec(spec)
	if err != nil {
		return store.Role{}, err
	}
	roleID, err := a.ids.NewIn(id.Role, by.AccountID)
	if err != nil {
		return store.Role{}, err
	}
	var role store.Role
	err = a.st.Update(ctx, func(tx store.Tx) error {
		if err := a.permitRoles(ctx, tx, by); err != nil {
			return err
		}
		role = store.Role{
			ID: roleID, AccountID: by.AccountID, Name: spec.Name, Description: spec.Description,
			Permissions: a.perms.Names(perms), CreatedAt: a.clock.Now().UTC(),
		}
		if err := tx.PutRole(ctx, role); err != nil {
			return err
		}
		return a.rec.Record(ctx, tx, by.AccountID, identity.EventRoleCreated, by.Audit(), RoleObjectOf(role))
	})
	if err != nil {
		return store.Role{}, err
	}
	return role, nil
}

// UpdateRole replaces a custom role's name, description and permissions. Members holding
// it gain or lose permissions at once (the cache is invalidated by the commit).
func (a *Authorizer) UpdateRole(ctx context.Context, by identity.Principal, roleID string, spec RoleSpec) (store.Role, error) {
	if err := checkRoleArgs(by, roleID); err != nil {
		return store.Role{}, err
	}
	perms, err := a.validateSpec(spec)
	if err != nil {
		return store.Role{}, err
	}
	var role store.Role
	err = a.st.Update(ctx, func(tx store.Tx) error {
		if err := a.permitRoles(ctx, tx, by); err != nil {
			return err
		}
		var err error
		if role, err = roleIn(ctx, tx, by.AccountID, roleID); err != nil {
			return err
		}
		role.Name, role.Description, role.Permissions = spec.Name, spec.Description, a.perms.Names(perms)
		if err := tx.PutRole(ctx, role); err != nil {
			return err
		}
		return a.rec.Record(ctx, tx, by.AccountID, identity.EventRoleUpdated, by.Audit(), RoleObjectOf(role))
	})
	if err != nil {
		return store.Role{}, err
	}
	return role, nil
}

// DeleteRole deletes a custom role of by's account. Members, invitations and bot users that
// reference it keep the reference, which grants nothing from then on.
func (a *Authorizer) DeleteRole(ctx context.Context, by identity.Principal, roleID string) error {
	if err := checkRoleArgs(by, roleID); err != nil {
		return err
	}
	return a.st.Update(ctx, func(tx store.Tx) error {
		if err := a.permitRoles(ctx, tx, by); err != nil {
			return err
		}
		role, err := roleIn(ctx, tx, by.AccountID, roleID)
		if err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, roleID); err != nil {
			return err
		}
		return a.rec.Record(ctx, tx, by.AccountID, identity.EventRoleDeleted, by.Audit(), RoleObjectOf(role))
	})
}

// Role returns a custom role of by's account; by needs roles:read.
func (a *Authorizer) Role(ctx context.Context, by identity.Principal, roleID string) (store.Role, error) {
	if err := checkRoleArgs(by, roleID); err != nil {
		return store.Role{}, err
	}
	var role store.Role
	err := a.st.View(ctx, func(r store.Reader) error {
		if err := a.RequireIn(ctx, r, by, RolesRead); err != nil {
			return err
		}
		var err error
		role, err = roleIn(ctx, r, by.AccountID, roleID)
		return err
	})
	if err != nil {
		return store.Role{}, err
	}
	return role, nil
}

// Roles lists the custom roles of by's account, newest first; by needs roles:read.
func (a *Authorizer) Roles(ctx context.Context, by identity.Principal, p store.Page) ([]store.Role, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.Role); err != nil {
		return nil, err
	}
	var roles []store.Role
	err := a.st.View(ctx, func(r store.Reader) error {
		if err := a.RequireIn(ctx, r, by, RolesRead); err != nil {
			return err
		}
		var err error
		roles, err = r.Roles(ctx, by.AccountID, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return roles, nil
}

func (a *Authorizer) permitRoles(ctx context.Context, tx store.Tx, by identity.Principal) error {
	acct, err := tx.Account(ctx, by.AccountID)
	if err != nil {
		return err
	}
	plan, err := a.plans.PlanOf(acct)
	if err != nil {
		return err
	}
	if err := plan.Require(identity.FeatureCustomRoles); err != nil {
		return err
	}
	return a.RequireIn(ctx, tx, by, RolesManage)
}

func checkRoleArgs(by identity.Principal, roleID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	return id.CheckArg("role_id", roleID, id.Role)
}

func roleIn(ctx context.Context, r store.Reader, accountID, roleID string) (store.Role, error) {
	role, err := r.Role(ctx, roleID)
	if err == nil && role.AccountID != accountID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Role{}, fmt.Errorf("rbac: role %s: %w", roleID, err)
	}
	return role, nil
}
