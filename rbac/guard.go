package rbac

import (
	"context"
	"fmt"
	"slices"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

var _ identity.Guard = (*Authorizer)(nil)

// MemberRoles implements identity.Guard. Roles are built-in role names or custom role IDs
// of the account (custom roles need identity.FeatureCustomRoles). nil roles (omitted) get
// DefaultMemberRoles; a non-nil empty list is an error matching store.ErrInvalid on "roles".
// On plans without identity.FeatureRBAC the only role is Administrator: every member is
// stored as one, and asking for another role fails with an error matching
// store.ErrFeatureUnavailable (Field "rbac").
func (a *Authorizer) MemberRoles(ctx context.Context, r store.Reader, acct store.Account, roles []string) ([]string, error) {
	if roles != nil && len(roles) == 0 {
		return nil, store.Invalid("roles", store.CodeRequired, 0, "must name at least one role; omit roles for the default roles")
	}
	plan, err := a.plans.PlanOf(acct)
	if err != nil {
		return nil, err
	}
	if !plan.Has(identity.FeatureRBAC) {
		for _, name := range roles {
			if name != RoleAdministrator {
				return nil, plan.Require(identity.FeatureRBAC)
			}
		}
		return []string{RoleAdministrator}, nil
	}
	if roles == nil {
		return DefaultMemberRoles(), nil
	}
	return a.checkRoles(ctx, r, acct, plan, roles)
}

// BotRoles checks roles requested for a bot (service) user of acct and returns the roles to
// store. Empty roles stay empty: the bot acts with DefaultBotRoles. Giving a bot user roles
// needs identity.FeatureRBAC. The roles are limited as ngrok limits a service user's:
// ServiceUserRoles, or custom roles (on plans with custom roles) that grant nothing beyond
// them; any other role, Administrator first, is an error matching store.ErrInvalid naming it
// ("roles" or "roles[i]", in the sorted list). Package botuser calls it.
func (a *Authorizer) BotRoles(ctx context.Context, r store.Reader, acct store.Account, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	plan, err := a.plans.PlanOf(acct)
	if err != nil {
		return nil, err
	}
	if err := plan.Require(identity.FeatureRBAC); err != nil {
		return nil, err
	}
	for _, name := range roles {
		if name == RoleAdministrator {
			return nil, store.Invalid("roles", store.CodeInvalidValue, 0, "a bot user cannot be an administrator")
		}
	}
	out, err := a.checkRoles(ctx, r, acct, plan, roles)
	if err != nil {
		return nil, err
	}
	for i, name := range out {
		if err := a.checkServiceRole(ctx, r, acct, plan, fmt.Sprintf("roles[%d]", i), name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkServiceRole refuses a role (already checked by checkRoles) that a service user may
// not hold: a built-in role other than ServiceUserRoles, or a custom role granting more.
func (a *Authorizer) checkServiceRole(ctx context.Context, r store.Reader, acct store.Account, plan identity.Plan, field, name string) error {
	const allowed = "a service user's roles are developer, developer_read_only and team_manager, or custom roles granting nothing beyond them"
	if _, isBuiltin := builtin(name); isBuiltin {
		if !slices.Contains(ServiceUserRoles(), name) {
			return store.Invalid(field, store.CodeInvalidValue, 0, allowed)
		}
		return nil
	}
	perms, _, err := a.rolePerms(ctx, r, acct, plan, name)
	if err != nil {
		return err
	}
	if !a.perms.ServiceUserGrants().Covers(perms) {
		return store.Invalid(field, store.CodeInvalidValue, 0, allowed)
	}
	return nil
}

func (a *Authorizer) checkRoles(ctx context.Context, r store.Reader, acct store.Account, plan identity.Plan, roles []string) ([]string, error) {
	out := normalizeRoles(roles)
	if len(out) > MaxRoles {
		return nil, store.Invalid("roles", store.CodeOutOfRange, MaxRoles, "%d roles at most, got %d", MaxRoles, len(out))
	}
	for i, name := range out {
		if _, ok := builtin(name); ok {
			continue
		}
		field := fmt.Sprintf("roles[%d]", i)
		if err := id.Check(name, id.Role); err != nil {
			return nil, store.Invalid(field, store.CodeInvalidValue, 0, "not a built-in role name nor a role_ id")
		}
		if err := plan.Require(identity.FeatureCustomRoles); err != nil {
			return nil, err
		}
		role, err := r.Role(ctx, name)
		if err == nil && role.AccountID != acct.ID {
			err = store.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("rbac: %s: %w", field, err)
		}
	}
	return out, nil
}

// need is the permission each identity.Op requires.
var need = [...]Permission{
	identity.OpChangePlan:       BillingManage,
	identity.OpInvite:           MembersInvite,
	identity.OpRevokeInvitation: MembersInvite,
	identity.OpAddMember:        MembersManage,
	identity.OpSetRoles:         MembersManage,
	identity.OpDisableMember:    MembersManage,
	identity.OpEnableMember:     MembersManage,
	identity.OpRemoveMember:     MembersManage,
	identity.OpReadAccount:      AccountRead,
	identity.OpReadMembers:      MembersRead,
}

// Permit implements identity.Guard, reading through r. It returns an error matching
// store.ErrDenied unless:
//   - c.By holds the permission the operation needs (members:invite to invite or revoke an
//     invitation, members:manage to add, change, disable, enable or remove a member,
//     billing:manage to change the plan, account:read to read the account, members:read to
//     read members and invitations);
//   - the roles granted (c.Roles) give no permission c.By does not hold itself
//     (ReasonExceedsGrantor);
//   - if they include Administrator, or the target member is an administrator, c.By is an
//     administrator (ReasonAdminOnly).
func (a *Authorizer) Permit(ctx context.Context, r store.Reader, c identity.Change) error {
	if int(c.Op) >= len(need) || need[c.Op] == 0 {
		return store.Invalid("op", store.CodeInvalidValue, 0, "unknown operation")
	}
	perm := need[c.Op]
	if c.By.AccountID != c.Account.ID {
		return a.deny(perm, ReasonOtherAccount)
	}
	g, err := a.compileFor(ctx, r, c.By)
	if err != nil {
		return err
	}
	if err := a.decideFor(g, &c.By, perm).Err(); err != nil {
		return err
	}
	g = g.within(&c.By)
	if c.Member != nil && identity.IsAdministrator(c.Member.Roles) && !g.admin {
		return a.deny(perm, ReasonAdminOnly)
	}
	if c.Roles != nil {
		return a.permitGrant(ctx, r, g, c.By, c.Account, perm, c.Roles)
	}
	return nil
}

// PermitGrant returns an error matching store.ErrDenied unless by may grant roles in acct:
// by needs every
// permission they give, and must be an administrator to grant Administrator. perm is the
// permission the surrounding operation needs, for the error. Package botuser calls it
// when roles are given to a bot user.
func (a *Authorizer) PermitGrant(ctx context.Context, r store.Reader, by identity.Principal, acct store.Account, perm Permission, roles []string) error {
	if by.AccountID != acct.ID {
		return a.deny(perm, ReasonOtherAccount)
	}
	g, err := a.compileFor(ctx, r, by)
	if err != nil {
		return err
	}
	if err := a.decideFor(g, &by, perm).Err(); err != nil {
		return err
	}
	return a.permitGrant(ctx, r, g.within(&by), by, acct, perm, roles)
}

func (a *Authorizer) permitGrant(ctx context.Context, r store.Reader, g *grants, by identity.Principal, acct store.Account, perm Permission, roles []string) error {
	if identity.IsAdministrator(roles) && !g.admin {
		return a.deny(perm, ReasonAdminOnly)
	}
	plan, err := a.plans.PlanOf(acct)
	if err != nil {
		return err
	}
	granted, err := a.permsOf(ctx, r, acct, plan, roles)
	if err != nil {
		return err
	}
	if !g.holds().Covers(granted) {
		return a.deny(perm, ReasonExceedsGrantor)
	}
	return nil
}
