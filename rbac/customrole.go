package rbac

import (
	"context"

	"fmt"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// RoleSpec describes a custom role.
type RoleSpec struct {
	Name        string // required, unique per account, not a built-in name; see identity.CheckName
	Description string // free text; see identity.CheckDescription (at most store.MaxDescriptionLen bytes)
	Permissions []Permission
}

func (s RoleSpec) validate() (Set, error) {
	if err := identity.CheckName("name", s.Name, true); err != nil {
		return 0, err
	}
	if err := identity.CheckDescription("description", s.Description, store.MaxDescriptionLen); err != nil {
		return 0, err
	}
	if _, ok := builtin(s.Name); ok {
		return 0, &identity.ValidationError{Field: "name", Reason: "is the name of a built-in role"}
	}
	var set Set
	for i, p := range s.Permissions {
		field := fmt.Sprintf("permissions[%d]", i)
		switch {
		case !p.Valid():
			return 0, &identity.ValidationError{Field: field, Reason: "unknown permission"}
		case AdminOnly.Has(p):
			return 0, &identity.ValidationError{Field: field, Reason: p.String() + " is reserved to administrators"}
		}
		set |= 1 << p
	}
	return set, nil
}

// CreateRole creates a custom role in an account. The plan must include
// identity.FeatureCustomRoles, by must hold roles:manage (administrators), and the role
// cannot include AdminOnly permissions.
func (a *Authorizer) CreateRole(ctx context.Context, by identity.Principal, accountID string, spec RoleSpec) (store.Role, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return store.Role{}, err
	}
	perms, err := spec.validate()
	if err != nil {
		return store.Role{}, err
	}
	roleID, err := a.ids.NewIn(id.Role, accountID)
	if err != nil {
		return store.Role{}, err
	}
	var role store.Role
	err = a.st.Update(ctx, func(tx store.Tx) error {
		if err := a.permitRoles(ctx, tx, by, accountID); err != nil {
			return err
		}
		role = store.Role{
			ID: roleID, AccountID: accountID, Name: spec.Name, Description: spec.Description,
			Permissions: perms.Strings(), CreatedAt: a.clock.Now().UTC(),
		}
		if err := tx.PutRole(ctx, role); err != nil {
			return err
		}
		return a.rec.Record(ctx, tx, accountID, audit.RoleCreated, by.Audit(), role)
	})
	if err != nil {
		return store.Role{}, err
	}
	return role, nil
}

// UpdateRole replaces a custom role's name, description and permissions. Members holding
// it gain or lose permissions at once (the cache is invalidated by the commit).
func (a *Authorizer) UpdateRole(ctx context.Context, by identity.Principal, accountID, roleID string, spec RoleSpec) (store.Role, error) {
	if err := checkRoleArgs(accountID, roleID); err != nil {
		return store.Role{}, err
	}
	perms, err := spec.validate()
	if err != nil {
		return store.Role{}, err
	}
	var role store.Role
	err = a.st.Update(ctx, func(tx store.Tx) error {
		if err := a.permitRoles(ctx, tx, by, accountID); err != nil {
			return err
		}
		var err error
		if role, err = roleIn(ctx, tx, accountID, roleID); err != nil {
			return err
		}
		role.Name, role.Description, role.Permissions = spec.Name, spec.Description, perms.Strings()
		if err := tx.PutRole(ctx, role); err != nil {
			return err
		}
		return a.rec.Record(ctx, tx, accountID, audit.RoleUpdated, by.Audit(), role)
	})
	if err != nil {
		return store.Role{}, err
	}
	return role, nil
}

// DeleteRole deletes a custom role. Members, invitations and bot users that reference it
// keep the reference, which grants nothing from then on.
func (a *Authorizer) DeleteRole(ctx context.Context, by identity.Principal, accountID, roleID string) error {
	if err := checkRoleArgs(accountID, roleID); err != nil {
		return err
	}
	return a.st.Update(ctx, func(tx store.Tx) error {
		if err := a.permitRoles(ctx, tx, by, accountID); err != nil {
			return err
		}
		role, err := roleIn(ctx, tx, accountID, roleID)
		if err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, roleID); err != nil {
			return err
		}
		return a.rec.Record(ctx, tx, accountID, audit.RoleDeleted, by.Audit(), role)
	})
}

// Role returns a custom role of an account.
func (a *Authorizer) Role(ctx context.Context, accountID, roleID string) (store.Role, error) {
	if err := checkRoleArgs(accountID, roleID); err != nil {
		return store.Role{}, err
	}
	var role store.Role
	err := a.st.View(ctx, func(r store.Reader) error {
		var err error
		role, err = roleIn(ctx, r, accountID, roleID)
		return err
	})
	return role, err
}

// Roles lists an account's custom roles, newest first.
func (a *Authorizer) Roles(ctx context.Context, accountID string, p store.Page) ([]store.Role, error) {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return nil, err
	}
	if err := identity.CheckPage(p, id.Role); err != nil {
		return nil, err
	}
	var roles []store.Role
	err := a.st.View(ctx, func(r store.Reader) error {
		var err error
		roles, err = r.Roles(ctx, accountID, p)
		return err
	})
	return roles, err
}

func (a *Authorizer) permitRoles(ctx context.Context, tx store.Tx, by identity.Principal, accountID string) error {
	if err := by.Validate(accountID); err != nil {
		return err
	}
	acct, err := tx.Account(ctx, accountID)
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
	return a.RequireIn(ctx, tx, by, accountID, RolesManage)
}

func checkRoleArgs(accountID, roleID string) error {
	if err := identity.CheckID("account_id", accountID, id.Account); err != nil {
		return err
	}
	return identity.CheckID("role_id", roleID, id.Role)
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
