package scim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	scimsrv "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// users serves /Users: a SCIM User is a member of the principal's account. Its id is the
// user's ID, userName and the one email the user's email; active is the membership's
// status. The user is global (it may belong to other accounts), so its email never changes
// through SCIM (mutability) and displayName is taken when the user is created, not later.
type users struct{ h *Handler }

// member is a membership with its user.
type member struct {
	user store.User
	m    store.Membership
}

func (v member) resource() scimsrv.Resource {
	created, modified := v.m.CreatedAt, v.m.UpdatedAt
	attrs := scimsrv.ResourceAttributes{
		"userName": v.user.Email,
		"active":   v.m.Status == store.MemberActive,
		"emails":   []any{map[string]any{"value": v.user.Email, "type": "work", "primary": true}},
	}
	if v.user.Name != "" {
		attrs["displayName"] = v.user.Name
	}
	return scimsrv.Resource{ID: v.user.ID, Attributes: attrs, Meta: scimsrv.Meta{Created: &created, LastModified: &modified}}
}

// Create makes the user (if no user has the email) and a member of the account with the
// directory's default roles. The email's domain must be one an identity provider of the
// account is trusted for, as for just-in-time sign-in: users are global, so creating or
// adding one on any other email would claim someone else's address.
func (u users) Create(r *http.Request, attrs scimsrv.ResourceAttributes) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	email, err := userNameOf(attrs)
	if err != nil {
		return scimsrv.Resource{}, err
	}
	active, _ := boolAttr(attrs, "active")
	if _, given := attr(attrs, "active"); !given {
		active = true
	}
	if err := u.h.authz.Require(ctx, p, rbac.MembersManage); err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	if err := u.h.checkTrusted(ctx, p.AccountID, email); err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	name, _ := stringAttr(attrs, "displayName")
	if identity.CheckName("name", name, false) != nil {
		name = ""
	}
	user, _, err := u.h.dir.EnsureUser(ctx, email, name)
	if err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	roles, err := u.h.newMemberRoles(ctx, p, user.ID)
	if err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	m, err := u.h.dir.AddMember(ctx, p, user.ID, roles)
	if err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	if m, err = u.h.setActive(ctx, p, m, active); err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	return member{user, m}.resource(), nil
}

// newMemberRoles returns the roles a member SCIM adds gets: what the role rules of the
// identity provider governing its email give the groups it is already listed in (usually
// none: the rules' default roles), or nil (the directory's defaults) without rules.
func (h *Handler) newMemberRoles(ctx context.Context, p identity.Principal, userID string) ([]string, error) {
	var roles []string
	err := h.st.View(ctx, func(r store.Reader) error {
		acct, err := r.Account(ctx, p.AccountID)
		if err != nil {
			return err
		}
		all, err := allGroups(ctx, r, p.AccountID)
		if err != nil {
			return err
		}
		roles, _, err = h.mappedRoles(ctx, r, p, acct, userID, groupNamesOf(all, userID))
		return err
	})
	return roles, err
}

// Get returns a member of the account by user ID.
func (u users) Get(r *http.Request, id string) (scimsrv.Resource, error) {
	v, err := u.h.member(r.Context(), principalOf(r.Context()), id)
	if err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	return v.resource(), nil
}

// GetAll lists the account's members. A filter `userName eq "<email>"` is one lookup; any
// other filter is evaluated over the members, at most WithMaxMembers of them.
func (u users) GetAll(r *http.Request, params scimsrv.ListRequestParams) (scimsrv.Page, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	var all []member
	var err error
	if email, ok := userNameEq(params); ok {
		all, err = u.h.memberByEmail(ctx, p, email)
	} else {
		all, err = u.h.members(ctx, p)
	}
	if err != nil {
		return scimsrv.Page{}, u.h.fail(r, err)
	}
	var matched []scimsrv.Resource
	for _, v := range all {
		res := v.resource()
		if params.FilterValidator != nil {
			if params.FilterValidator.PassesFilter(withID(res)) != nil {
				continue
			}
		}
		matched = append(matched, res)
	}
	return pageOf(matched, params), nil
}

// withID returns a resource's attributes with its id, for filters that name it.
func withID(res scimsrv.Resource) map[string]any {
	m := make(map[string]any, len(res.Attributes)+1)
	for k, v := range res.Attributes {
		m[k] = v
	}
	m["id"] = res.ID
	return m
}

// userNameEq returns the email of a filter `userName eq "<email>"`.
func userNameEq(params scimsrv.ListRequestParams) (string, bool) {
	if params.FilterValidator == nil {
		return "", false
	}
	e, ok := params.FilterValidator.GetFilter().(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil ||
		!strings.EqualFold(e.AttributePath.AttributeName, "userName") {
		return "", false
	}
	s, ok := e.CompareValue.(string)
	return s, ok
}

// Replace sets a member's active state; userName must stay the user's email.
func (u users) Replace(r *http.Request, id string, attrs scimsrv.ResourceAttributes) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	v, err := u.h.member(ctx, p, id)
	if err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	email, err := userNameOf(attrs)
	if err != nil {
		return scimsrv.Resource{}, err
	}
	if email != v.user.Email {
		return scimsrv.Resource{}, errEmailFixed
	}
	if active, ok := boolAttr(attrs, "active"); ok {
		if v.m, err = u.h.setActive(ctx, p, v.m, active); err != nil {
			return scimsrv.Resource{}, u.h.fail(r, err)
		}
	}
	return v.resource(), nil
}

var errEmailFixed = mutability("userName is the user's email, which SCIM does not change: users are shared by every account they belong to")

// Patch applies PATCH operations: "active" (as Okta's {"op":"replace","value":{"active":
// false}} and Entra's {"op":"Replace","path":"active","value":"False"} send it) sets the
// member's state; userName may only be set to the email it has; other attributes are accepted
// and not kept.
func (u users) Patch(r *http.Request, id string, ops []scimsrv.PatchOperation) (scimsrv.Resource, error) {
	ctx, p := r.Context(), principalOf(r.Context())
	v, err := u.h.member(ctx, p, id)
	if err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	want := v.m.Status == store.MemberActive
	for _, op := range ops {
		if want, err = applyUserOp(v, want, op); err != nil {
			return scimsrv.Resource{}, err
		}
	}
	if v.m, err = u.h.setActive(ctx, p, v.m, want); err != nil {
		return scimsrv.Resource{}, u.h.fail(r, err)
	}
	return v.resource(), nil
}

// applyUserOp applies one PATCH operation to the wanted active state.
func applyUserOp(v member, active bool, op scimsrv.PatchOperation) (bool, error) {
	if op.Op == scimsrv.PatchOperationRemove {
		return active, nil
	}
	values := map[string]any{}
	if op.Path == nil {
		m, ok := op.Value.(map[string]any)
		if !ok {
			return active, invalidValue("an operation without a path needs an object value")
		}
		values = m
	} else if op.Path.ValueExpression == nil && op.Path.AttributePath.SubAttribute == nil {
		values[op.Path.AttributePath.AttributeName] = op.Value
	}
	for k, val := range values {
		switch {
		case strings.EqualFold(k, "active"):
			b, ok := val.(bool)
			if !ok {
				return active, invalidValue("active must be a boolean")
			}
			active = b
		case strings.EqualFold(k, "userName"):
			s, _ := val.(string)
			if e, err := identity.NormalizeEmail(s); err != nil || e != v.user.Email {
				return active, errEmailFixed
			}
		}
	}
	return active, nil
}

// Delete removes the member from the account: its sessions end and its credentials are
// revoked in that commit.
func (u users) Delete(r *http.Request, id string) error {
	ctx, p := r.Context(), principalOf(r.Context())
	if _, err := u.h.member(ctx, p, id); err != nil {
		return u.h.fail(r, err)
	}
	if err := u.h.dir.RemoveMember(ctx, p, id); err != nil {
		return u.h.fail(r, err)
	}
	if err := u.h.leaveGroups(ctx, p, id); err != nil {
		return u.h.fail(r, err)
	}
	return nil
}

// leaveGroups takes a removed member out of every group of the account, so that it does not
// find its old groups (and their roles) if it is provisioned again.
func (h *Handler) leaveGroups(ctx context.Context, p identity.Principal, userID string) error {
	var all []store.Group
	if err := h.st.View(ctx, func(r store.Reader) error {
		var err error
		all, err = allGroups(ctx, r, p.AccountID)
		return err
	}); err != nil {
		return err
	}
	for _, g := range all {
		if !slices.Contains(g.Members, userID) {
			continue
		}
		after := g.Clone()
		after.Members = slices.DeleteFunc(after.Members, func(uid string) bool { return uid == userID })
		after.UpdatedAt = h.clock.Now().UTC()
		if err := h.writeGroup(ctx, p, &g, &after); err != nil {
			return err
		}
	}
	return nil
}

// setActive enables or disables a member as active asks; disabling ends its sessions and
// suspends its credentials in one commit (identity.Directory.DisableMember).
func (h *Handler) setActive(ctx context.Context, p identity.Principal, m store.Membership, active bool) (store.Membership, error) {
	switch {
	case active && m.Status != store.MemberActive:
		return h.dir.EnableMember(ctx, p, m.UserID)
	case !active && m.Status == store.MemberActive:
		return h.dir.DisableMember(ctx, p, m.UserID)
	}
	return m, nil
}

// member reads a member of p's account and its user; an ID that names none is not found.
func (h *Handler) member(ctx context.Context, p identity.Principal, userID string) (member, error) {
	m, err := h.dir.Member(ctx, p, userID)
	if errors.Is(err, store.ErrInvalid) {
		return member{}, scimerrors.ScimErrorResourceNotFound(userID)
	}
	if err != nil {
		return member{}, err
	}
	u, err := h.dir.User(ctx, p, userID)
	if err != nil {
		return member{}, err
	}
	return member{u, m}, nil
}

// memberByEmail returns the member with an email, if there is one: whether a user has the
// email elsewhere is not told.
func (h *Handler) memberByEmail(ctx context.Context, p identity.Principal, email string) ([]member, error) {
	if err := h.authz.Require(ctx, p, rbac.MembersRead); err != nil {
		return nil, err
	}
	u, err := h.dir.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := h.member(ctx, p, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	var se scimerrors.ScimError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []member{v}, nil
}

// members returns every member of p's account, newest user first, with their users: at most
// maxMembers, else SCIM's tooMany.
func (h *Handler) members(ctx context.Context, p identity.Principal) ([]member, error) {
	var out []member
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		ms, err := h.dir.Members(ctx, p, page)
		if err != nil {
			return nil, err
		}
		if len(out)+len(ms) > h.cfg.maxMembers {
			return nil, scimerrors.ScimErrorTooMany
		}
		err = h.st.View(ctx, func(r store.Reader) error {
			for _, m := range ms {
				u, err := r.User(ctx, m.UserID)
				if err != nil {
					return err
				}
				out = append(out, member{u, m})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(ms) < page.Limit {
			return out, nil
		}
		page.BeforeID = ms[len(ms)-1].UserID
	}
}

// checkTrusted returns a denial unless an identity provider of the account is trusted for
// the email's domain.
func (h *Handler) checkTrusted(ctx context.Context, accountID, email string) error {
	domain := email[strings.LastIndexByte(email, '@')+1:]
	trusted := false
	err := h.st.View(ctx, func(r store.Reader) error {
		page := store.Page{Limit: store.MaxPageLimit}
		for {
			idps, err := r.IdentityProviders(ctx, accountID, page)
			if err != nil {
				return err
			}
			for _, idp := range idps {
				for _, d := range idp.Domains {
					trusted = trusted || d == domain
				}
			}
			if trusted || len(idps) < page.Limit {
				return nil
			}
			page.BeforeID = idps[len(idps)-1].ID
		}
	})
	if err != nil {
		return err
	}
	if !trusted {
		return &store.Error{Kind: store.ErrDenied, Code: CodeUntrustedDomain, Field: "userName",
			Msg: "the email's domain is not one an identity provider of the account is trusted for"}
	}
	return nil
}

// CodeUntrustedDomain is the code of a SCIM user whose email's domain no identity provider
// of the account is trusted for (store.ErrDenied).
const CodeUntrustedDomain = "scim_untrusted_domain"

// userNameOf returns the normalised email a resource's userName holds.
func userNameOf(attrs scimsrv.ResourceAttributes) (string, error) {
	s, ok := stringAttr(attrs, "userName")
	if !ok || s == "" {
		return "", invalidValue("userName is required")
	}
	email, err := identity.NormalizeEmail(s)
	if err != nil {
		return "", invalidValue("userName must be an email address (ASCII, internationalised domains in punycode)")
	}
	return email, nil
}

// attr returns the attribute named name, in any case.
func attr(attrs scimsrv.ResourceAttributes, name string) (any, bool) {
	for k, v := range attrs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func stringAttr(attrs scimsrv.ResourceAttributes, name string) (string, bool) {
	v, _ := attr(attrs, name)
	s, ok := v.(string)
	return s, ok
}

func boolAttr(attrs scimsrv.ResourceAttributes, name string) (bool, bool) {
	v, _ := attr(attrs, name)
	b, ok := v.(bool)
	return b, ok
}
