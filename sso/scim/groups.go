package scim

import (
	"context"
	"net/http"
	"slices"
	"strings"

	scimsrv "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// groups serves /Groups: groups of the account's members that the IdP manages, which its
// identity providers' role rules (sso.SetRoleRules) map to roles by display name. Every
// change to a group's members recalculates the roles of the members it adds or removes.
type groups struct{ h *Handler }

// GroupObject is a group as audit events record it.
type GroupObject struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"display_name"`
	ExternalID  string   `json:"external_id,omitempty"`
	Members     []string `json:"members"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

// Resource returns identity.ResourceGroup.
func (GroupObject) Resource() identity.Resource { return identity.ResourceGroup }

// GroupObjectOf returns the audit object of a group.
func GroupObjectOf(g store.Group) GroupObject {
	ms := slices.Clone(g.Members)
	if ms == nil {
		ms = []string{}
	}
	return GroupObject{ID: g.ID, DisplayName: g.DisplayName, ExternalID: g.ExternalID, Members: ms,
		CreatedAt: identity.Timestamp(g.CreatedAt), UpdatedAt: identity.Timestamp(g.UpdatedAt)}
}

func (h *Handler) groupType() scimsrv.ResourceType {
	return scimsrv.ResourceType{
		ID:          optionalString("Group"),
		Name:        "Group",
		Description: optionalString("A group of members, mapped to roles by the identity providers' role rules."),
		Endpoint:    "/Groups",
		Schema:      groupSchema(),
		Handler:     groups{h},
	}
}

// groupResource returns g as SCIM shows it, without members that left the account.
func (h *Handler) groupResource(g store.Group, inAccount map[string]bool) scimsrv.Resource {
	members := []any{}
	for _, uid := range g.Members {
		if inAccount[uid] {
			m := map[string]any{"value": uid, "type": "User"}
			if h.cfg.baseURL != "" {
				m["$ref"] = h.cfg.baseURL + "/Users/" + uid
			}
			members = append(members, m)
		}
	}
	created, updated := g.CreatedAt, g.UpdatedAt
	res := scimsrv.Resource{ID: g.ID, Attributes: scimsrv.ResourceAttributes{"displayName": g.DisplayName, "members": members},
		Meta: scimsrv.Meta{Created: &created, LastModified: &updated}}
	if g.ExternalID != "" {
		res.ExternalID = optionalString(g.ExternalID)
	}
	return res
}

// Create makes a group with its members, which must be members of the account.
func (gs groups) Create(r *http.Request, attrs scimsrv.ResourceAttributes) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	name, _ := stringAttr(attrs, "displayName")
	if name == "" {
		return scimsrv.Resource{}, invalidValue("displayName is required")
	}
	ext, _ := stringAttr(attrs, "externalId")
	members, err := memberValues(attrs)
	if err != nil {
		return scimsrv.Resource{}, err
	}
	gid, err := gs.h.ids.NewIn(id.Group, p.AccountID)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	now := gs.h.clock.Now().UTC()
	g := store.Group{ID: gid, AccountID: p.AccountID, DisplayName: name, ExternalID: ext, Members: members, CreatedAt: now, UpdatedAt: now}
	inAccount, err := gs.h.changeGroup(ctx, p, nil, &g)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	return gs.h.groupResource(g, inAccount), nil
}

// Get returns a group of the account.
func (gs groups) Get(r *http.Request, gid string) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	g, inAccount, err := gs.h.readGroup(ctx, p, gid)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	return gs.h.groupResource(g, inAccount), nil
}

// GetAll lists the account's groups, filtered and paged.
func (gs groups) GetAll(r *http.Request, params scimsrv.ListRequestParams) (scimsrv.Page, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	if err := gs.h.authz.Require(ctx, p, rbac.MembersRead); err != nil {
		return scimsrv.Page{}, gs.h.fail(r, err)
	}
	var all []store.Group
	var inAccount map[string]bool
	err := gs.h.st.View(ctx, func(rd store.Reader) error {
		var err error
		if all, err = allGroups(ctx, rd, p.AccountID); err != nil {
			return err
		}
		inAccount, err = memberSet(ctx, rd, p.AccountID)
		return err
	})
	if err != nil {
		return scimsrv.Page{}, gs.h.fail(r, err)
	}
	var matched []scimsrv.Resource
	for _, g := range all {
		res := gs.h.groupResource(g, inAccount)
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(withID(res)) != nil {
			continue
		}
		matched = append(matched, res)
	}
	return pageOf(matched, params), nil
}

// Replace sets a group's display name, external ID and members.
func (gs groups) Replace(r *http.Request, gid string, attrs scimsrv.ResourceAttributes) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	before, _, err := gs.h.readGroup(ctx, p, gid)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	name, _ := stringAttr(attrs, "displayName")
	if name == "" {
		return scimsrv.Resource{}, invalidValue("displayName is required")
	}
	members, err := memberValues(attrs)
	if err != nil {
		return scimsrv.Resource{}, err
	}
	after := before.Clone()
	after.DisplayName, after.Members = name, members
	if ext, ok := stringAttr(attrs, "externalId"); ok {
		after.ExternalID = ext
	}
	after.UpdatedAt = gs.h.clock.Now().UTC()
	inAccount, err := gs.h.changeGroup(ctx, p, &before, &after)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	return gs.h.groupResource(after, inAccount), nil
}

// Patch applies Okta's and Entra's PATCH operations: members added, removed (by filter or by
// value) or replaced, and the display name replaced.
func (gs groups) Patch(r *http.Request, gid string, ops []scimsrv.PatchOperation) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	before, _, err := gs.h.readGroup(ctx, p, gid)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	after := before.Clone()
	for _, op := range ops {
		if err := applyGroupOp(&after, op); err != nil {
			return scimsrv.Resource{}, err
		}
	}
	after.UpdatedAt = gs.h.clock.Now().UTC()
	inAccount, err := gs.h.changeGroup(ctx, p, &before, &after)
	if err != nil {
		return scimsrv.Resource{}, gs.h.fail(r, err)
	}
	return gs.h.groupResource(after, inAccount), nil
}

// Delete deletes a group; its members' roles are recalculated without it.
func (gs groups) Delete(r *http.Request, gid string) error {
	ctx, p := r.Context(), principalOf(r.Context())
	before, _, err := gs.h.readGroup(ctx, p, gid)
	if err != nil {
		return gs.h.fail(r, err)
	}
	if _, err := gs.h.changeGroup(ctx, p, &before, nil); err != nil {
		return gs.h.fail(r, err)
	}
	return nil
}

// applyGroupOp applies one PATCH operation to g.
func applyGroupOp(g *store.Group, op scimsrv.PatchOperation) error {
	if op.Path == nil {
		m, ok := op.Value.(map[string]any)
		if !ok {
			return invalidValue("an operation without a path needs an object value")
		}
		for k, v := range m {
			if err := applyGroupAttr(g, op.Op, k, nil, v); err != nil {
				return err
			}
		}
		return nil
	}
	return applyGroupAttr(g, op.Op, op.Path.AttributePath.AttributeName, op.Path.ValueExpression, op.Value)
}

// applyGroupAttr applies an operation on one attribute (with an optional value filter).
func applyGroupAttr(g *store.Group, op, attr string, where filter.Expression, value any) error {
	switch {
	case strings.EqualFold(attr, "displayName"):
		s, ok := value.(string)
		if op == scimsrv.PatchOperationRemove || !ok || s == "" {
			return invalidValue("displayName must be a non-empty string")
		}
		g.DisplayName = s
	case strings.EqualFold(attr, "externalId"):
		s, _ := value.(string)
		g.ExternalID = s
	case strings.EqualFold(attr, "members"):
		return applyMembersOp(g, op, where, value)
	}
	return nil
}

// applyMembersOp adds, removes or replaces members.
func applyMembersOp(g *store.Group, op string, where filter.Expression, value any) error {
	var ids []string
	if value != nil {
		var err error
		if ids, err = memberIDs(value); err != nil {
			return err
		}
	}
	if where != nil {
		e, ok := where.(*filter.AttributeExpression)
		v, isString := any(nil), false
		if ok {
			v = e.CompareValue
			_, isString = v.(string)
		}
		if !ok || e.Operator != filter.EQ || !strings.EqualFold(e.AttributePath.AttributeName, "value") || !isString {
			return scimerrors.ScimErrorInvalidPath
		}
		ids = []string{v.(string)}
	}
	switch op {
	case scimsrv.PatchOperationAdd:
		for _, uid := range ids {
			if !slices.Contains(g.Members, uid) {
				g.Members = append(g.Members, uid)
			}
		}
	case scimsrv.PatchOperationRemove:
		if where == nil && value == nil {
			g.Members = nil
			return nil
		}
		g.Members = slices.DeleteFunc(g.Members, func(uid string) bool { return slices.Contains(ids, uid) })
	case scimsrv.PatchOperationReplace:
		g.Members = dedupe(ids)
	}
	return nil
}

// memberValues returns the user IDs of a resource's "members".
func memberValues(attrs scimsrv.ResourceAttributes) ([]string, error) {
	v, ok := attr(attrs, "members")
	if !ok || v == nil {
		return nil, nil
	}
	return memberIDs(v)
}

// memberIDs returns the user IDs of a members value: a list of {"value": <id>} objects.
func memberIDs(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		if m, isMap := v.(map[string]any); isMap {
			list = []any{m}
		} else {
			return nil, invalidValue("members must be a list of {\"value\": <user id>}")
		}
	}
	var out []string
	for _, item := range list {
		m, _ := item.(map[string]any)
		s, _ := m["value"].(string)
		if s == "" {
			return nil, invalidValue("each member needs a value: a user's id")
		}
		out = append(out, s)
	}
	return dedupe(out), nil
}

func dedupe(ids []string) []string {
	var out []string
	for _, s := range ids {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// readGroup returns a group of p's account (p needs members:read) and the account's members.
func (h *Handler) readGroup(ctx context.Context, p identity.Principal, gid string) (store.Group, map[string]bool, error) {
	if err := h.authz.Require(ctx, p, rbac.MembersRead); err != nil {
		return store.Group{}, nil, err
	}
	if id.Check(gid, id.Group) != nil {
		return store.Group{}, nil, scimerrors.ScimErrorResourceNotFound(gid)
	}
	var g store.Group
	var inAccount map[string]bool
	err := h.st.View(ctx, func(r store.Reader) error {
		var err error
		g, err = r.Group(ctx, gid)
		if err == nil && g.AccountID != p.AccountID {
			err = store.ErrNotFound
		}
		if err != nil {
			return err
		}
		inAccount, err = memberSet(ctx, r, p.AccountID)
		return err
	})
	return g, inAccount, err
}

// changeGroup writes a group change (before nil: created; after nil: deleted) with its
// audit event, then sets the roles the role rules give each member it adds or removes. The
// roles are checked first, for the SCIM principal and for each rules' author: a change
// whose roles either may not grant is refused before anything is written.
func (h *Handler) changeGroup(ctx context.Context, p identity.Principal, before, after *store.Group) (map[string]bool, error) {
	if err := h.authz.Require(ctx, p, rbac.MembersManage); err != nil {
		return nil, err
	}
	var (
		plan      map[string][]string
		inAccount map[string]bool
	)
	err := h.st.View(ctx, func(r store.Reader) error {
		var err error
		if inAccount, err = memberSet(ctx, r, p.AccountID); err != nil {
			return err
		}
		if after != nil {
			for _, uid := range after.Members {
				if !inAccount[uid] && (before == nil || !slices.Contains(before.Members, uid)) {
					return invalidValue("member " + uid + " is not a member of the account")
				}
			}
		}
		plan, err = h.planRoles(ctx, r, p, before, after, inAccount)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := h.writeGroup(ctx, p, before, after); err != nil {
		return nil, err
	}
	for uid, roles := range plan {
		if _, err := h.dir.SetMemberRoles(ctx, p, uid, roles); err != nil {
			return nil, err
		}
	}
	return inAccount, nil
}

// writeGroup puts or deletes the group with its event, in one transaction.
func (h *Handler) writeGroup(ctx context.Context, p identity.Principal, before, after *store.Group) error {
	return h.st.Update(ctx, func(tx store.Tx) error {
		switch {
		case after == nil:
			if err := tx.DeleteGroup(ctx, before.ID); err != nil {
				return err
			}
			return h.rec.Record(ctx, tx, p.AccountID, identity.EventGroupDeleted, p.Audit(), GroupObjectOf(*before))
		case before == nil:
			if err := tx.PutGroup(ctx, *after); err != nil {
				return err
			}
			return h.rec.Record(ctx, tx, p.AccountID, identity.EventGroupCreated, p.Audit(), GroupObjectOf(*after))
		}
		if before.DisplayName == after.DisplayName && before.ExternalID == after.ExternalID && slices.Equal(before.Members, after.Members) {
			return nil
		}
		if err := tx.PutGroup(ctx, *after); err != nil {
			return err
		}
		return h.rec.Record(ctx, tx, p.AccountID, identity.EventGroupUpdated, p.Audit(), GroupObjectOf(*after))
	})
}

// planRoles returns the roles each member touched by the change (added, removed, or in a
// renamed or deleted group) gets under the role rules once the change is made, for members
// under an identity provider with rules. It fails (store.ErrDenied) when p or the rules'
// author may not grant them.
func (h *Handler) planRoles(ctx context.Context, r store.Reader, p identity.Principal, before, after *store.Group, inAccount map[string]bool) (map[string][]string, error) {
	touched := map[string]bool{}
	for _, g := range []*store.Group{before, after} {
		if g != nil {
			for _, uid := range g.Members {
				touched[uid] = inAccount[uid]
			}
		}
	}
	all, err := allGroups(ctx, r, p.AccountID)
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(g store.Group) bool { return before != nil && g.ID == before.ID })
	if after != nil {
		all = append(all, *after)
	}
	acct, err := r.Account(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	plan := map[string][]string{}
	for uid, member := range touched {
		if !member {
			continue
		}
		roles, ok, err := h.mappedRoles(ctx, r, p, acct, uid, groupNamesOf(all, uid))
		if err != nil {
			return nil, err
		}
		if ok {
			plan[uid] = roles
		}
	}
	return plan, nil
}

// mappedRoles returns the roles the role rules of the identity provider governing userID
// give it for groups, checking that both p and the rules' author may grant them; ok is false
// when no identity provider trusted for the user's email domain has rules.
func (h *Handler) mappedRoles(ctx context.Context, r store.Reader, p identity.Principal, acct store.Account, userID string, groups []string) ([]string, bool, error) {
	u, err := r.User(ctx, userID)
	if err != nil {
		return nil, false, err
	}
	idp, found, err := sso.RulesFor(ctx, r, acct.ID, u.Email)
	if err != nil || !found {
		return nil, false, err
	}
	roles, _ := sso.MapRoles(idp.RoleRules, idp.DefaultRoles, groups)
	author, err := sso.RoleRulesAuthor(ctx, r, idp)
	if err == nil {
		err = h.authz.PermitGrant(ctx, r, author, acct, rbac.MembersManage, roles)
	}
	if err != nil {
		return nil, false, &store.Error{Kind: store.ErrDenied, Code: sso.CodeRoleRulesExceedAuthor, Field: "role_rules",
			Msg: "the identity provider's role rules give roles their author may not grant", Err: err}
	}
	if err := h.authz.PermitGrant(ctx, r, p, acct, rbac.MembersManage, roles); err != nil {
		return nil, false, err
	}
	return roles, true, nil
}

// groupNamesOf returns the display names of the groups uid is in.
func groupNamesOf(all []store.Group, uid string) []string {
	var out []string
	for _, g := range all {
		if slices.Contains(g.Members, uid) {
			out = append(out, g.DisplayName)
		}
	}
	return out
}

// allGroups returns every group of an account.
func allGroups(ctx context.Context, r store.Reader, accountID string) ([]store.Group, error) {
	var out []store.Group
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		gs, err := r.Groups(ctx, accountID, page)
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
		if len(gs) < page.Limit {
			return out, nil
		}
		page.BeforeID = gs[len(gs)-1].ID
	}
}

// memberSet returns the user IDs of an account's members.
func memberSet(ctx context.Context, r store.Reader, accountID string) (map[string]bool, error) {
	out := map[string]bool{}
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		ms, err := r.Memberships(ctx, accountID, page)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out[m.UserID] = true
		}
		if len(ms) < page.Limit {
			return out, nil
		}
		page.BeforeID = ms[len(ms)-1].UserID
	}
}

// pageOf returns the page of matched that params ask for.
func pageOf(matched []scimsrv.Resource, params scimsrv.ListRequestParams) scimsrv.Page {
	page := scimsrv.Page{TotalResults: len(matched), Resources: []scimsrv.Resource{}}
	start := max(params.StartIndex, 1) - 1
	if start < len(matched) {
		end := min(start+max(params.Count, 0), len(matched))
		page.Resources = matched[start:end]
	}
	return page
}
