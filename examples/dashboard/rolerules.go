package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// Roles from groups. An identity provider's page shows its role rules (ordered: group →
// roles) and the attribute or claim that carries the groups, and lets a member with
// sso:manage change them in one form; a member's page says why the member has each role.

// ruleRow is a role rule as the IdP's page lists it.
type ruleRow struct {
	Group string
	Roles []string // labels
}

// ruleSep separates a rule's group from its roles in the rules text area.
const ruleSep = "="

// rulesText writes rules as the text area shows them: one per line, "group = role, role",
// roles by name (a built-in role's name or a custom role's ID).
func rulesText(rules []store.RoleRule) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%s %s %s\n", r.Group, ruleSep, strings.Join(r.Roles, ", "))
	}
	return b.String()
}

// parseRules reads the rules text area: one rule per line, "group = role, role", blank lines
// skipped. A role may be named by its name or its label (case does not matter). The group is
// what precedes the last "=". It returns a message naming the line of the first problem.
func parseRules(text string, rs roles) ([]store.RoleRule, string) {
	var out []store.RoleRule
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		i := strings.LastIndex(line, ruleSep)
		if i < 0 {
			return nil, fmt.Sprintf("Line %d: write a group, “=”, then its roles, such as “Engineering = developer”.", n+1)
		}
		group := strings.TrimSpace(line[:i])
		if group == "" {
			return nil, fmt.Sprintf("Line %d: name the group before “=”.", n+1)
		}
		rule := store.RoleRule{Group: group}
		for _, name := range strings.Split(line[i+1:], ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			role, ok := rs.lookup(name)
			if !ok {
				return nil, fmt.Sprintf("Line %d: this account has no role “%s”.", n+1, name)
			}
			rule.Roles = append(rule.Roles, role)
		}
		if len(rule.Roles) == 0 {
			return nil, fmt.Sprintf("Line %d: give the group “%s” at least one role after “=”.", n+1, group)
		}
		out = append(out, rule)
	}
	return out, ""
}

// lookup returns the role a name or a label names, ignoring case.
func (rs roles) lookup(name string) (string, bool) {
	for id, label := range rs.names {
		if strings.EqualFold(id, name) || strings.EqualFold(label, name) {
			return id, true
		}
	}
	return "", false
}

// setRoleRules saves an identity provider's groups attribute (or claim) and role rules.
func (s *server) setRoleRules(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	ctx, f := r.Context(), r.PostForm
	rs, err := s.accountRoles(ctx, c, false)
	if err != nil {
		return err
	}
	rules, problem := parseRules(f.Get("role_rules"), rs)
	if problem != "" {
		return s.renderRulesError(w, r, c, http.StatusBadRequest, f, []formError{{"role_rules", problem}})
	}
	attr := strings.TrimSpace(f.Get("groups_attribute"))
	idpID := r.PathValue("idp")
	if _, err := s.IAM.SSO().UpdateIdentityProvider(ctx, c.p, idpID, sso.IdPUpdate{GroupsAttribute: &attr}); err != nil {
		status, _ := statusOf(err)
		return s.renderRulesError(w, r, c, status, f, formErrors(err, map[string]string{"": "groups_attribute", "groups_attribute": "groups_attribute"}))
	}
	if _, err := s.IAM.SSO().SetRoleRules(ctx, c.p, idpID, rules); err != nil {
		status, _ := statusOf(err)
		return s.renderRulesError(w, r, c, status, f, formErrors(err, map[string]string{"": "role_rules", "role_rules": "role_rules"}))
	}
	s.sync(ctx)
	s.redirect(w, r, c.base()+"/settings/sso/"+idpID, "Role rules saved. They apply at each member's next sign-in through this identity provider.")
	return nil
}

// renderRulesError shows the IdP's page again with the rules form as sent and its errors,
// the IdP's other settings as they are.
func (s *server) renderRulesError(w http.ResponseWriter, r *http.Request, c *call, status int, f url.Values, errs []formError) error {
	p, err := s.IAM.SSO().IdentityProvider(r.Context(), c.p, r.PathValue("idp"))
	if err != nil {
		return err
	}
	form := idpForm(p)
	form.Set("groups_attribute", f.Get("groups_attribute"))
	form.Set("role_rules", f.Get("role_rules"))
	return s.renderIdP(w, r, c, status, form, errs)
}

// roleWhy is one of a member's roles and why the member has it.
type roleWhy struct {
	Role, Why string
}

// roleExplanation explains a member's roles on their page.
type roleExplanation struct {
	// Source says what the reasons come from: the member's last sign-in through an identity
	// provider with role rules, or the SCIM groups they are in; empty when no rules apply.
	Source string
	Groups []string
	Roles  []roleWhy
	// Partial: the viewer may not read the audit log, where SSO sign-ins record their
	// groups, so roles given at a sign-in cannot be told from roles set by hand.
	Partial bool
}

// explainMemberRoles says why a member has each of held: from the groups their last SSO
// sign-in asserted, under the rules of the IdP they came through; else from the SCIM groups
// they are in (sso.Service.ExplainMemberRoles); a role no rule explains was set by an
// administrator.
func (s *server) explainMemberRoles(ctx context.Context, c *call, userID string, held []string, rs roles) (roleExplanation, error) {
	var out roleExplanation
	var reasons []sso.RoleReason
	out.Partial = !c.may(rbac.EventsRead)
	var idp store.IdentityProvider
	var signIn sso.SignInObject
	found := false
	if !out.Partial {
		var err error
		if idp, signIn, found, err = s.lastRuledSignIn(ctx, c, userID); err != nil {
			return out, err
		}
	}
	if found {
		reasons, out.Groups = sso.ExplainRoles(idp.RoleRules, idp.DefaultRoles, signIn.Groups), signIn.Groups
		out.Source = fmt.Sprintf("their last sign-in through %s", idpName(idp))
	} else if exp, err := s.IAM.SSO().ExplainMemberRoles(ctx, c.p, userID); err == nil && exp.IdPID != "" {
		reasons, out.Groups, out.Source = exp.Reasons, exp.Groups, "the groups their identity provider manages (SCIM)"
		if p, err := s.IAM.SSO().IdentityProvider(ctx, c.p, exp.IdPID); err == nil {
			idp = p
		}
	} else if err != nil && !errors.Is(err, store.ErrFeatureUnavailable) && !errors.Is(err, store.ErrDenied) {
		return out, err
	}
	for _, role := range held {
		why := whyRole(role, reasons, idp)
		if out.Partial && why == setByHand {
			why = "Set by an administrator, or by an identity provider's rules at a sign-in"
		}
		out.Roles = append(out.Roles, roleWhy{Role: rs.labels([]string{role})[0], Why: why})
	}
	return out, nil
}

// setByHand is why a member has a role no rule gave.
const setByHand = "Set by an administrator"

// whyRole says why a member has role under reasons from idp's rules.
func whyRole(role string, reasons []sso.RoleReason, idp store.IdentityProvider) string {
	i := slices.IndexFunc(reasons, func(x sso.RoleReason) bool { return x.Role == role })
	switch {
	case i < 0:
		return setByHand
	case reasons[i].Default:
		return fmt.Sprintf("Default roles of %s: none of its rules matched the member's groups", idpName(idp))
	default:
		return fmt.Sprintf("Rule %d of %s: group “%s”", reasons[i].Rule+1, idpName(idp), reasons[i].Group)
	}
}

func idpName(p store.IdentityProvider) string {
	if p.Description != "" {
		return p.Description
	}
	return p.EntityID
}

// explainReads bounds how many pages of the audit log a member's page reads looking for
// their last SSO sign-in.
const explainReads = auditReads

// lastRuledSignIn finds the member's last sign-in through an identity provider, in the audit
// log (the groups it asserted are in the sign_in_succeeded event), and that IdP when it has
// role rules. A viewer who may not read the log (rbac.EventsRead) gets found false.
func (s *server) lastRuledSignIn(ctx context.Context, c *call, userID string) (store.IdentityProvider, sso.SignInObject, bool, error) {
	var none store.IdentityProvider
	cursor := ""
	for range explainReads {
		page, err := s.IAM.Authorizer().Events(ctx, c.p, store.Page{BeforeID: cursor, Limit: store.MaxPageLimit})
		if errors.Is(err, store.ErrDenied) || errors.Is(err, store.ErrFeatureUnavailable) {
			return none, sso.SignInObject{}, false, nil
		} else if err != nil {
			return none, sso.SignInObject{}, false, err
		}
		for _, e := range page.Events {
			var o sso.SignInObject
			if e.Type != identity.EventSignInSucceeded || json.Unmarshal(e.Object, &o) != nil || o.ID != userID || o.Method != string(sso.MethodSSO) {
				continue
			}
			p, err := s.IAM.SSO().IdentityProvider(ctx, c.p, o.IdPID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && len(p.RoleRules) == 0) {
				return none, o, false, nil
			}
			return p, o, err == nil, err
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	return none, sso.SignInObject{}, false, nil
}

// ruleRows lists an IdP's rules for its page, roles by label.
func ruleRows(rules []store.RoleRule, rs roles) []ruleRow {
	out := make([]ruleRow, 0, len(rules))
	for _, r := range rules {
		out = append(out, ruleRow{Group: r.Group, Roles: rs.labels(r.Roles)})
	}
	return out
}

// rulesForm fills the role rules form from an IdP.
func rulesForm(form url.Values, p store.IdentityProvider) {
	form.Set("groups_attribute", p.GroupsAttribute)
	form.Set("role_rules", rulesText(p.RoleRules))
}
