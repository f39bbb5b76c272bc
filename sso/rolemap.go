package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Group-to-role mapping. An identity provider's RoleRules are ordered rules, each giving
// roles to the members of one group (a SAML attribute's value, a SCIM group's display name,
// an OIDC claim's value); a member gets every role of every rule whose group it is in, or
// the IdP's DefaultRoles (the account's defaults when it has none) when no rule matches.
// Roles are recalculated at every sign-in through the IdP and at every SCIM change, and are
// never above what the rules' author (RoleRulesBy) may grant: SetRoleRules checks it when
// the rules are set, and every application checks it again.

// RoleReason says why a member has a role under an IdP's rules: the first rule, in order,
// whose group gave it (Rule, Group), or the default roles (Default, Rule -1).
type RoleReason struct {
	Role    string
	Rule    int
	Group   string
	Default bool
}

// MapRoles returns the roles rules give a member of groups (group names compare exactly),
// sorted and without repeats, and def when no rule matches. ok is false when rules is empty:
// there is no mapping to apply.
func MapRoles(rules []store.RoleRule, def, groups []string) (roles []string, ok bool) {
	if len(rules) == 0 {
		return nil, false
	}
	for _, r := range ExplainRoles(rules, def, groups) {
		roles = append(roles, r.Role)
	}
	slices.Sort(roles)
	return roles, true
}

// ExplainRoles returns, for each role rules give a member of groups, why it has it: the
// first rule in order that grants it, or the default roles. It is what a dashboard shows
// beside a member's roles.
func ExplainRoles(rules []store.RoleRule, def, groups []string) []RoleReason {
	var out []RoleReason
	seen := map[string]bool{}
	for i, r := range rules {
		if !slices.Contains(groups, r.Group) {
			continue
		}
		for _, role := range r.Roles {
			if !seen[role] {
				seen[role] = true
				out = append(out, RoleReason{Role: role, Rule: i, Group: r.Group})
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if len(def) == 0 {
		def = rbac.DefaultMemberRoles()
	}
	for _, role := range def {
		if !seen[role] {
			seen[role] = true
			out = append(out, RoleReason{Role: role, Rule: -1, Default: true})
		}
	}
	return out
}

// CodeRoleRulesExceedAuthor is the code of rules (or default roles) that would grant more
// than their author may: store.ErrDenied.
const CodeRoleRulesExceedAuthor = "role_rules_exceed_author"

// SetRoleRules replaces the group-to-role rules of an identity provider of by's account; an
// empty list removes the mapping. by needs rbac.SSOManage and must be able to grant every
// rule's roles and the IdP's default roles (rbac.Authorizer.PermitGrant); otherwise the
// error matches store.ErrDenied. Each rule names a group (at most store.MaxNameLen bytes) and
// at least one role; at most store.MaxRoleRules rules. by becomes the rules' author. It
// records an identity_provider_updated event.
func (s *Service) SetRoleRules(ctx context.Context, by identity.Principal, idpID string, rules []store.RoleRule) (store.IdentityProvider, error) {
	if err := by.Validate(); err != nil {
		return store.IdentityProvider{}, err
	}
	if err := id.CheckArg("idp_id", idpID, id.IdentityProvider); err != nil {
		return store.IdentityProvider{}, err
	}
	if len(rules) > store.MaxRoleRules {
		return store.IdentityProvider{}, store.Invalid("role_rules", store.CodeTooLong, store.MaxRoleRules, "%d rules at most", store.MaxRoleRules)
	}
	var rec store.IdentityProvider
	err := s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := s.permit(ctx, tx, by, rbac.SSOManage)
		if err != nil {
			return err
		}
		if rec, err = idpIn(ctx, tx, by.AccountID, idpID); err != nil {
			return err
		}
		checked, err := s.checkRoleRules(ctx, tx, acct, rules)
		if err != nil {
			return err
		}
		if err := s.permitRules(ctx, tx, by, acct, checked, rec.DefaultRoles); err != nil {
			return err
		}
		rec.RoleRules, rec.RoleRulesBy = checked, by.ID
		if len(checked) == 0 {
			rec.RoleRulesBy = ""
		}
		if err := putIdP(ctx, tx, rec); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventIdentityProviderUpdated, by.Audit(), IdentityProviderObjectOf(rec))
	})
	if err != nil {
		return store.IdentityProvider{}, err
	}
	return rec.Clone(), nil
}

// checkRoleRules validates rules and returns them with their roles as the Guard stores them.
func (s *Service) checkRoleRules(ctx context.Context, r store.Reader, acct store.Account, rules []store.RoleRule) ([]store.RoleRule, error) {
	var out []store.RoleRule
	for i, rule := range rules {
		field := fmt.Sprintf("role_rules[%d]", i)
		if rule.Group == "" || len(rule.Group) > store.MaxNameLen || identity.CheckName(field+".group", rule.Group, true) != nil {
			return nil, store.Invalid(field+".group", store.CodeInvalidValue, store.MaxNameLen, "a group name of at most %d bytes is required", store.MaxNameLen)
		}
		if len(rule.Roles) == 0 {
			return nil, store.Invalid(field+".roles", store.CodeRequired, 0, "at least one role")
		}
		roles, err := s.authz.MemberRoles(ctx, r, acct, rule.Roles)
		if err != nil {
			return nil, fmt.Errorf("sso: %s.roles: %w", field, err)
		}
		out = append(out, store.RoleRule{Group: rule.Group, Roles: roles})
	}
	return out, nil
}

// permitRules returns a denial (CodeRoleRulesExceedAuthor) unless author may grant the roles
// of every rule and the default roles.
func (s *Service) permitRules(ctx context.Context, r store.Reader, author identity.Principal, acct store.Account, rules []store.RoleRule, def []string) error {
	sets := [][]string{def}
	for _, rule := range rules {
		sets = append(sets, rule.Roles)
	}
	for _, roles := range sets {
		if len(roles) == 0 {
			continue
		}
		if err := s.authz.PermitGrant(ctx, r, author, acct, rbac.MembersManage, roles); err != nil {
			return exceedsAuthor(err)
		}
	}
	return nil
}

func exceedsAuthor(err error) error {
	if errors.Is(err, store.ErrDenied) {
		return &store.Error{Kind: store.ErrDenied, Code: CodeRoleRulesExceedAuthor, Field: "role_rules",
			Msg: "the rules would grant roles their author may not grant", Err: err}
	}
	return err
}

// RoleRulesAuthor returns the principal an IdP's rules act for: their author, as it is now
// (a removed or disabled author is an error). SCIM changes check it with PermitGrant as well.
func RoleRulesAuthor(ctx context.Context, r store.Reader, idp store.IdentityProvider) (identity.Principal, error) {
	return identity.PrincipalFor(ctx, r, idp.AccountID, idp.RoleRulesBy, identity.SourceDashboard, "")
}

// applyRoleRules sets a signed-in member's roles to what idp's rules give groups, as the
// rules' author, if the IdP has rules and the author may grant them now. A refusal leaves
// the member's roles as they are and is logged: it does not stop the sign-in.
func (s *Service) applyRoleRules(ctx context.Context, idp store.IdentityProvider, userID string, groups []string) {
	roles, ok := MapRoles(idp.RoleRules, idp.DefaultRoles, groups)
	if !ok {
		return
	}
	var author identity.Principal
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		author, err = RoleRulesAuthor(ctx, r, idp)
		return err
	})
	if err == nil {
		_, err = s.dir.SetMemberRoles(ctx, author, userID, roles)
	}
	if err != nil {
		s.log.WarnContext(ctx, "sso: role rules not applied", "account_id", idp.AccountID, "idp_id", idp.ID,
			"user_id", userID, "author", idp.RoleRulesBy, "err", err)
	}
}

// jitRoles returns the roles a member provisioned just in time through idp gets: what the
// rules give groups when the author may grant them, else the IdP's default roles.
func (s *Service) jitRoles(ctx context.Context, acct store.Account, idp store.IdentityProvider, groups []string) []string {
	roles, ok := MapRoles(idp.RoleRules, idp.DefaultRoles, groups)
	if !ok {
		return idp.DefaultRoles
	}
	err := s.st.View(ctx, func(r store.Reader) error {
		author, err := RoleRulesAuthor(ctx, r, idp)
		if err != nil {
			return err
		}
		return s.authz.PermitGrant(ctx, r, author, acct, rbac.MembersManage, roles)
	})
	if err != nil {
		s.log.WarnContext(ctx, "sso: role rules not applied", "account_id", idp.AccountID, "idp_id", idp.ID, "author", idp.RoleRulesBy, "err", err)
		return idp.DefaultRoles
	}
	return roles
}

// RulesFor returns the identity provider whose role rules govern a member of accountID with
// email for SCIM groups: the oldest one trusted for the email's domain that has rules. found
// is false when there is none.
func RulesFor(ctx context.Context, r store.Reader, accountID, email string) (idp store.IdentityProvider, found bool, err error) {
	domain := email[strings.LastIndexByte(email, '@')+1:]
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		idps, err := r.IdentityProviders(ctx, accountID, page)
		if err != nil {
			return store.IdentityProvider{}, false, err
		}
		for _, p := range idps { // newest first: the last match is the oldest
			if len(p.RoleRules) > 0 && slices.Contains(p.Domains, domain) {
				idp, found = p, true
			}
		}
		if len(idps) < page.Limit {
			return idp, found, nil
		}
		page.BeforeID = idps[len(idps)-1].ID
	}
}

// MemberRoleExplanation is why a member has the roles it has, for a dashboard.
type MemberRoleExplanation struct {
	// IdPID is the identity provider whose role rules govern the member ("" for none: its
	// roles are managed in iamkit).
	IdPID string
	// Groups are the SCIM groups the member is in, by display name.
	Groups []string
	// Reasons give, for each role the rules give those groups, the rule behind it.
	Reasons []RoleReason
}

// ExplainMemberRoles explains a member's roles under the role rules that govern it for the
// SCIM groups it is in (RulesFor). by needs members:read (rbac) and SSO on the plan. Roles
// the member holds that no reason names were given another way (by hand, or at a SAML
// sign-in from the groups its IdP asserted then).
func (s *Service) ExplainMemberRoles(ctx context.Context, by identity.Principal, userID string) (MemberRoleExplanation, error) {
	if err := by.Validate(); err != nil {
		return MemberRoleExplanation{}, err
	}
	var out MemberRoleExplanation
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := s.permit(ctx, r, by, rbac.MembersRead); err != nil {
			return err
		}
		if _, err := r.Membership(ctx, by.AccountID, userID); err != nil {
			return fmt.Errorf("sso: member %s: %w", userID, err)
		}
		u, err := r.User(ctx, userID)
		if err != nil {
			return err
		}
		idp, found, err := RulesFor(ctx, r, by.AccountID, u.Email)
		if err != nil || !found {
			return err
		}
		if out.Groups, err = groupsOf(ctx, r, by.AccountID, userID); err != nil {
			return err
		}
		out.IdPID = idp.ID
		out.Reasons = ExplainRoles(idp.RoleRules, idp.DefaultRoles, out.Groups)
		return nil
	})
	return out, err
}

// groupsOf returns the display names of the groups of an account a user is in.
func groupsOf(ctx context.Context, r store.Reader, accountID, userID string) ([]string, error) {
	var out []string
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		gs, err := r.Groups(ctx, accountID, page)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			if slices.Contains(g.Members, userID) {
				out = append(out, g.DisplayName)
			}
		}
		if len(gs) < page.Limit {
			return out, nil
		}
		page.BeforeID = gs[len(gs)-1].ID
	}
}
