package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// iamkit's own resources (ngrok has no public API for them), in the same conventions:
// the account, members, invitations, custom roles and the audit event log.

func (s *server) getAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	a, err := s.IAM.Directory().Account(r.Context(), c.principal)
	if err != nil {
		return err
	}
	seats, err := s.IAM.Directory().Seats(r.Context(), c.principal)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, accountJSON{
		AccountObject: identity.AccountObjectOf(a), URI: c.base + "/account",
		Seats: seatsJSON{Limit: seats.Limit, Members: seats.Members, Invitations: seats.Invitations},
	})
}

// credentialPolicyJSON is the account's credential policy, iamkit's extension: the longest
// lifetime of a new credential per kind and the longest rotation overlap, in seconds; a
// value left to the default (no maximum; seven days of overlap) is omitted.
type credentialPolicyJSON struct {
	identity.CredentialPolicyObject
	URI string `json:"uri"`
}

// credentialPolicyUpdate is PATCH /account/credential_policy's body: each field given
// replaces the policy's (0: the default), the others stay. The merge reads the policy and
// writes it back in two calls: of two PATCHes at once, the last one's whole policy wins.
type credentialPolicyUpdate struct {
	AuthtokenMaxLifetime   *int64 `json:"authtoken_max_lifetime"`
	APIKeyMaxLifetime      *int64 `json:"api_key_max_lifetime"`
	SSHKeyMaxLifetime      *int64 `json:"ssh_key_max_lifetime"`
	AccessTokenMaxLifetime *int64 `json:"access_token_max_lifetime"`
	MaxRotationOverlap     *int64 `json:"max_rotation_overlap"`
}

func (s *server) getCredentialPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := s.IAM.Credentials().Policy(r.Context(), c.principal)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, credentialPolicyOut(c.base, p))
}

func (s *server) updateCredentialPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var in credentialPolicyUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	p, err := s.IAM.Credentials().Policy(r.Context(), c.principal)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		in   *int64
		out  *time.Duration
	}{
		{"authtoken_max_lifetime", in.AuthtokenMaxLifetime, &p.AuthtokenMaxLifetime},
		{"api_key_max_lifetime", in.APIKeyMaxLifetime, &p.APIKeyMaxLifetime},
		{"ssh_key_max_lifetime", in.SSHKeyMaxLifetime, &p.SSHKeyMaxLifetime},
		{"access_token_max_lifetime", in.AccessTokenMaxLifetime, &p.AccessTokenMaxLifetime},
		{"max_rotation_overlap", in.MaxRotationOverlap, &p.MaxRotationOverlap},
	} {
		if f.in == nil {
			continue
		}
		if *f.in < 0 || *f.in > maxLifetimeSeconds {
			return paramError(http.StatusBadRequest, codeInvalidValue, f.name,
				"The value provided for %s must be between 0 and %d seconds.", f.name, maxLifetimeSeconds)
		}
		*f.out = time.Duration(*f.in) * time.Second
	}
	if p, err = s.IAM.Credentials().SetPolicy(r.Context(), c.principal, p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, credentialPolicyOut(c.base, p))
}

func credentialPolicyOut(base string, p store.CredentialPolicy) credentialPolicyJSON {
	return credentialPolicyJSON{CredentialPolicyObject: identity.CredentialPolicyObjectOf(p), URI: base + "/account/credential_policy"}
}

// member renders a membership with its user's email and name.
func (s *server) member(r *http.Request, c *call, m store.Membership) (memberJSON, error) {
	u, err := s.IAM.Directory().User(r.Context(), c.principal, m.UserID)
	if err != nil {
		return memberJSON{}, err
	}
	return memberOut(c.base, m, u), nil
}

func (s *server) writeMember(w http.ResponseWriter, r *http.Request, c *call, status int, m store.Membership) error {
	out, err := s.member(r, c, m)
	if err != nil {
		return err
	}
	return writeJSON(w, status, out)
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ms, err := s.IAM.Directory().Members(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	users := make(map[string]store.User, len(ms))
	for _, m := range ms[:min(len(ms), p.Limit)] {
		if users[m.UserID], err = s.IAM.Directory().User(r.Context(), c.principal, m.UserID); err != nil {
			return err
		}
	}
	return list(w, r, c, p, ms, func(m store.Membership) string { return m.UserID }, func(page []store.Membership, next *string) any {
		out := make([]memberJSON, len(page))
		for i, m := range page {
			out[i] = memberOut(c.base, m, users[m.UserID])
		}
		return map[string]any{"members": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	m, err := s.IAM.Directory().Member(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	return s.writeMember(w, r, c, http.StatusOK, m)
}

// memberUpdate is the body of PATCH /members/{id}: roles absent or null change nothing
// (ERR_NGROK_606); "roles": [] reaches the library, which refuses it.
type memberUpdate struct {
	Roles *[]string `json:"roles"`
}

func (s *server) setMemberRoles(w http.ResponseWriter, r *http.Request, c *call) error {
	id := pathID(r)
	var in memberUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Roles == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify roles.")
	}
	m, err := s.IAM.Directory().SetMemberRoles(r.Context(), c.principal, id, *in.Roles)
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "roles", *in.Roles, err)
	}
	s.sync(r.Context())
	return s.writeMember(w, r, c, http.StatusOK, m)
}

func (s *server) disableMember(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.memberStatus(w, r, c, s.IAM.Directory().DisableMember)
}

func (s *server) enableMember(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.memberStatus(w, r, c, s.IAM.Directory().EnableMember)
}

type memberChange func(ctx context.Context, by identity.Principal, userID string) (store.Membership, error)

func (s *server) memberStatus(w http.ResponseWriter, r *http.Request, c *call, change memberChange) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	m, err := change(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	s.sync(r.Context()) // a disabled member's API keys are refused from the next request on
	return s.writeMember(w, r, c, http.StatusOK, m)
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	if err := s.IAM.Directory().RemoveMember(r.Context(), c.principal, id); err != nil {
		return err
	}
	s.sync(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// invitationCreate is the body of POST /invitations. Roles omitted (or null) decode as nil,
// which the library replaces with the default roles; "roles": [] decodes as a non-nil empty
// slice, which it refuses. Pass it through as decoded.
type invitationCreate struct {
	Email string   `json:"email"`
	Roles []string `json:"roles"`
}

func (s *server) createInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	var in invitationCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := checkInvitationEmail(in.Email); err != nil {
		return err
	}
	inv, err := s.IAM.Directory().Invite(r.Context(), c.principal, in.Email, in.Roles)
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "roles", in.Roles, err)
	}
	// The acceptance token (inv.Token) is for the invitee alone, delivered to the invited
	// address by the embedder's mailer; this server has none, and never gives it to the
	// inviter, who could otherwise accept in the invitee's place.
	return writeJSON(w, http.StatusCreated, invitationOut(c.base, inv.Invitation))
}

func (s *server) listInvitations(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	invs, err := s.IAM.Directory().Invitations(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, invs, func(i store.Invitation) string { return i.ID }, func(page []store.Invitation, next *string) any {
		out := make([]invitationJSON, len(page))
		for i, inv := range page {
			out[i] = invitationOut(c.base, inv)
		}
		return map[string]any{"invitations": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	inv, err := s.IAM.Directory().Invitation(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, invitationOut(c.base, inv))
}

func (s *server) deleteInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	if err := s.IAM.Directory().RevokeInvitation(r.Context(), c.principal, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// acceptInvitation accepts an invitation as the calling API key's owner, who must be the
// invited user: the key may belong to any account of that user, not necessarily the
// invitation's. It takes no body and creates no user; for anyone else (another member, an
// administrator, a bot user) the invitation reads as not found, and the events name the
// caller and its key. A person with no user yet joins through SSO or the embedder's own flow
// around identity.Directory.AcceptInvitationToken.
func (s *server) acceptInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	id := pathID(r)
	if err := decodeBody(w, r, &struct{}{}); err != nil {
		return err
	}
	m, err := s.IAM.Directory().AcceptInvitation(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	s.sync(r.Context())
	return s.writeMember(w, r, c, http.StatusCreated, m)
}

type roleCreate struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

type roleUpdate struct {
	ID          string    `json:"id"`
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Permissions *[]string `json:"permissions"`
}

// parsePermissions looks names up in the Authorizer's registry (built-in and registered
// permissions).
func (s *server) parsePermissions(names []string) ([]rbac.Permission, error) {
	out := make([]rbac.Permission, 0, len(names))
	for _, n := range names {
		p, err := s.IAM.Authorizer().Permission(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *server) createRole(w http.ResponseWriter, r *http.Request, c *call) error {
	var in roleCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	perms, err := s.parsePermissions(in.Permissions)
	if err != nil {
		return err
	}
	role, err := s.IAM.Authorizer().CreateRole(r.Context(), c.principal, rbac.RoleSpec{
		Name: in.Name, Description: in.Description, Permissions: perms,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, roleOut(c.base, role))
}

func (s *server) listRoles(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	roles, err := s.IAM.Authorizer().Roles(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, roles, func(r store.Role) string { return r.ID }, func(page []store.Role, next *string) any {
		out := make([]roleJSON, len(page))
		for i, role := range page {
			out[i] = roleOut(c.base, role)
		}
		return map[string]any{"roles": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getRole(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	role, err := s.IAM.Authorizer().Role(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, roleOut(c.base, role))
}

// updateRole applies a partial update: absent fields keep their current values.
func (s *server) updateRole(w http.ResponseWriter, r *http.Request, c *call) error {
	id := pathID(r)
	var in roleUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
	}
	if in.Name == nil && in.Description == nil && in.Permissions == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
	}
	ctx := r.Context()
	cur, err := s.IAM.Authorizer().Role(ctx, c.principal, id)
	if err != nil {
		return err
	}
	spec := rbac.RoleSpec{Name: cur.Name, Description: cur.Description}
	names := cur.Permissions
	if in.Name != nil {
		spec.Name = *in.Name
	}
	if in.Description != nil {
		spec.Description = *in.Description
	}
	if in.Permissions != nil {
		names = *in.Permissions
	}
	if spec.Permissions, err = s.parsePermissions(names); err != nil {
		return err
	}
	role, err := s.IAM.Authorizer().UpdateRole(ctx, c.principal, id, spec)
	if err != nil {
		return err
	}
	s.sync(ctx)
	return writeJSON(w, http.StatusOK, roleOut(c.base, role))
}

func (s *server) deleteRole(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	if err := s.IAM.Authorizer().DeleteRole(r.Context(), c.principal, id); err != nil {
		return err
	}
	s.sync(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listEvents serves the audit log as the caller may read it (rbac.Authorizer.Events): a page
// may hold fewer events than the limit and still be followed by next_page_uri, which
// continues from where the library stopped reading.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	page, err := s.IAM.Authorizer().Events(r.Context(), c.principal, p)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(page.Events))
	for i, e := range page.Events {
		out[i] = eventOut(c.base, e)
	}
	var next *string
	if page.Next != "" {
		q := url.Values{"before_id": {page.Next}}
		if r.URL.Query().Has("limit") {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
		u := c.base + r.URL.Path + "?" + q.Encode()
		next = &u
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": out, "uri": c.base + r.URL.Path, "next_page_uri": next})
}

// checkInvitationEmail gives ngrok's codes for an invitation email that is missing (4400) or
// too long (4401), measured as identity.NormalizeEmail measures it; the library checks the
// rest (215).
func checkInvitationEmail(email string) error {
	normalized := strings.ToLower(strings.TrimSpace(email))
	switch {
	case normalized == "":
		return paramError(http.StatusBadRequest, codeEmailRequired, "email", "An email address is required.")
	case len(normalized) > identity.MaxEmailLen:
		return paramError(http.StatusBadRequest, codeEmailTooLong, "email", "The email address is too long: %d bytes at most, got %d.", identity.MaxEmailLen, len(normalized))
	}
	return nil
}

// deref is *roles, or nil for an absent list.
func deref(roles *[]string) []string {
	if roles == nil {
		return nil
	}
	return *roles
}

// explainRoles turns the not-found of an operation that was given roles (field, e.g.
// "roles") into a 400 naming the role, when one of them is no custom role of the account:
// the request named a bad value; the member, invitation or bot user it acts on may well
// exist. The library reports an unknown or foreign role ID as store.ErrNotFound, as it does
// a missing record, so the account's roles are asked which it was. Other errors pass.
func (s *server) explainRoles(ctx context.Context, by identity.Principal, field string, roles []string, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for i, name := range roles {
		if !strings.HasPrefix(name, "role_") {
			continue // a built-in role's name, or no role ID: the library says what is wrong
		}
		if _, rerr := s.IAM.Authorizer().Role(ctx, by, name); errors.Is(rerr, store.ErrNotFound) || errors.Is(rerr, store.ErrInvalid) {
			param := fmt.Sprintf("%s[%d]", field, i)
			return paramError(http.StatusBadRequest, codeInvalidValue, param, "The value provided for the request parameter %s is invalid: the account has no role with this ID.", param)
		}
	}
	return err
}
