package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// pageSize is how many rows a listing shows at once.
const pageSize = 50

type memberRow struct {
	ID, Email, Name string
	Roles           []string // labels
	Status          string
	Joined          time.Time
	You             bool
}

type invitationRow struct {
	ID, Email, InvitedBy string
	Roles                []string // labels
	Expires              time.Time
	Expired              bool
}

type roleOption struct {
	Value, Label, Description string
}

type membersData struct {
	Seats       identity.Seats
	SeatsLeft   int
	Members     []memberRow
	Next        string
	FirstPage   bool
	Invitations []invitationRow
	CanInvite   bool
	CanManage   bool
	Roles       []roleOption // the roles the member may grant
}

// roles is what a page needs to know of an account's roles: what the member may grant, and
// every role's name for people.
type roles struct {
	grantable []roleOption
	names     map[string]string // role (built-in name or custom role ID) -> label
}

func (rs roles) labels(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = rs.names[id]
		if out[i] == "" {
			out[i] = roleLabel(id)
		}
	}
	return out
}

func (rs roles) mayGrant(id string) bool {
	return slices.ContainsFunc(rs.grantable, func(o roleOption) bool { return o.Value == id })
}

// accountRoles reads the roles of the account: the built-in ones, and its custom roles when
// the plan has them. A member may grant a role whose permissions it holds (Administrator:
// only administrators), as the library's Guard requires; the page offers no other.
func (s *server) accountRoles(ctx context.Context, c *call, forBots bool) (roles, error) {
	rs := roles{names: map[string]string{}}
	plan, err := s.IAM.Directory().Plan(ctx, c.p)
	if err != nil {
		return rs, err
	}
	isAdmin := c.held.Covers(s.perms.AllSet())
	builtin := rbac.BuiltinRoles()
	if forBots {
		builtin = slices.DeleteFunc(builtin, func(b rbac.BuiltinRole) bool { return !slices.Contains(rbac.ServiceUserRoles(), b.Name) })
	}
	for _, b := range builtin {
		rs.names[b.Name] = roleLabel(b.Name)
		grants, _ := s.perms.RoleGrants(b.Name)
		switch {
		case !plan.Has(identity.FeatureRBAC) && b.Name != rbac.RoleAdministrator:
		case b.Name == rbac.RoleAdministrator && !isAdmin:
		case !c.held.Covers(grants):
		default:
			rs.grantable = append(rs.grantable, roleOption{Value: b.Name, Label: roleLabel(b.Name), Description: b.Description})
		}
	}
	if !plan.Has(identity.FeatureCustomRoles) || !c.may(rbac.RolesRead) {
		return rs, nil
	}
	custom, err := s.IAM.Authorizer().Roles(ctx, c.p, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return rs, err
	}
	for _, role := range custom {
		rs.names[role.ID] = role.Name
		var set rbac.Set
		for _, name := range role.Permissions {
			if p, err := s.perms.Lookup(name); err == nil {
				set = set.With(p)
			}
		}
		if c.held.Covers(set) && (!forBots || s.perms.ServiceUserGrants().Covers(set)) {
			rs.grantable = append(rs.grantable, roleOption{Value: role.ID, Label: role.Name, Description: role.Description})
		}
	}
	return rs, nil
}

// subjects returns, for principal IDs (users and bot users of the account), how the page names
// them: an email or a bot user's name when the member may read it, else the ID.
func (s *server) subjects(ctx context.Context, c *call, ids []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if _, done := out[id]; done || id == "" {
			continue
		}
		out[id] = id
		switch {
		case id == c.p.ID:
			out[id] = c.p.Subject + " (you)"
		case strings.HasPrefix(id, "bot_"):
			if b, err := s.IAM.BotUsers().Get(ctx, c.p, id); err == nil {
				out[id] = b.Name + " (bot)"
			}
		default:
			if u, err := s.IAM.Directory().User(ctx, c.p, id); err == nil {
				out[id] = u.Email
			}
		}
	}
	return out
}

// membersPage lists the members with their roles and status, the seats they use, the
// pending invitations, and the form to invite someone.
func (s *server) membersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderMembers(w, r, c, http.StatusOK, nil, nil)
}

func (s *server) renderMembers(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	ctx := r.Context()
	dir := s.IAM.Directory()
	before := r.URL.Query().Get("before")
	ms, err := dir.Members(ctx, c.p, store.Page{BeforeID: before, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	rs, err := s.accountRoles(ctx, c, false)
	if err != nil {
		return err
	}
	d := membersData{FirstPage: before == "", CanInvite: c.may(rbac.MembersInvite), CanManage: c.may(rbac.MembersManage), Roles: rs.grantable}
	if d.Seats, err = dir.Seats(ctx, c.p); err != nil {
		return err
	}
	if d.Seats.Limit > 0 {
		d.SeatsLeft = max(0, d.Seats.Limit-d.Seats.Used())
	}
	if len(ms) > pageSize {
		ms = ms[:pageSize]
		d.Next = c.base() + "/members?" + url.Values{"before": {ms[pageSize-1].UserID}}.Encode()
	}
	for _, m := range ms {
		u, err := dir.User(ctx, c.p, m.UserID)
		if err != nil {
			return err
		}
		d.Members = append(d.Members, memberRow{ID: m.UserID, Email: u.Email, Name: u.Name, Roles: rs.labels(m.Roles),
			Status: m.Status, Joined: m.CreatedAt, You: m.UserID == c.p.ID})
	}
	if d.FirstPage {
		invs, err := dir.Invitations(ctx, c.p, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		by := make([]string, len(invs))
		for i, inv := range invs {
			by[i] = inv.InvitedBy
		}
		names := s.subjects(ctx, c, by)
		now := time.Now()
		for _, inv := range invs {
			d.Invitations = append(d.Invitations, invitationRow{ID: inv.ID, Email: inv.Email, InvitedBy: names[inv.InvitedBy],
				Roles: rs.labels(inv.Roles), Expires: inv.ExpiresAt, Expired: !now.Before(inv.ExpiresAt)})
		}
	}
	if form == nil {
		form = url.Values{}
		for _, role := range rbac.DefaultMemberRoles() {
			if rs.mayGrant(role) {
				form.Add("roles", role)
			}
		}
	}
	s.render(w, r, c, status, "members", &view{Title: "Team members", Form: form, Errors: errs, Data: d})
	return nil
}

// readForm reads an account page's posted form (SessionAuth has refused other origins).
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return store.Invalid("form", store.CodeInvalidValue, maxFormBody, "the form could not be read")
	}
	return nil
}

// invite invites an email address with the roles chosen, and mails the invitation's link to
// it.
func (s *server) invite(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	email, roleIDs := strings.TrimSpace(f.Get("email")), f["roles"]
	var errs []formError
	if email == "" {
		errs = append(errs, formError{"email", "Enter the email address of the person to invite."})
	}
	if len(roleIDs) == 0 {
		errs = append(errs, formError{"roles", "Choose at least one role."})
	}
	if len(errs) > 0 {
		return s.renderMembers(w, r, c, http.StatusBadRequest, f, errs)
	}
	inv, err := s.IAM.Directory().Invite(r.Context(), c.p, email, roleIDs)
	if err != nil {
		status, _ := statusOf(err)
		return s.renderMembers(w, r, c, status, f, formErrors(err, map[string]string{"email": "email", "roles": "roles"}))
	}
	s.mailInvitation(r.Context(), c, inv)
	s.sync(r.Context())
	s.redirect(w, r, c.base()+"/members", "Invitation sent to "+inv.Email+".")
	return nil
}

func (s *server) mailInvitation(ctx context.Context, c *call, inv identity.Invited) {
	link := s.BaseURL + "/invitations/accept?" + url.Values{"token": {inv.Token.Reveal()}}.Encode()
	err := s.Mailer.Send(ctx, Mail{To: inv.Email, Subject: "You are invited to join " + c.account.Name,
		Body: c.p.Subject + " invited you to join " + c.account.Name + ". The invitation expires on " + when(inv.ExpiresAt) + ".",
		Link: link})
	if err != nil {
		s.Logger.Error("mailing an invitation", "invitation_id", inv.ID, "err", err)
	}
}

type memberData struct {
	Member     memberRow
	Roles      []roleOption // what the viewer may grant
	CanEdit    bool         // the viewer may change this member's roles
	CanManage  bool
	LastAdmin  bool
	IsAdmin    bool
	Sessions   []sessionRow
	CanSession bool
	// Explain says why the member has each role (nil: the viewer may not read members).
	Explain *roleExplanation
}

type sessionRow struct {
	ID, Method, Detail, UserAgent, IP string
	Created, LastSeen, Expires        time.Time
	Current                           bool
}

// memberPage shows a member: their roles (to change), status (to disable or enable), their
// sessions, and the way to remove them.
func (s *server) memberPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderMember(w, r, c, http.StatusOK, nil)
}

func (s *server) renderMember(w http.ResponseWriter, r *http.Request, c *call, status int, errs []formError) error {
	ctx := r.Context()
	userID := r.PathValue("user")
	m, err := s.IAM.Directory().Member(ctx, c.p, userID)
	if err != nil {
		return err
	}
	u, err := s.IAM.Directory().User(ctx, c.p, userID)
	if err != nil {
		return err
	}
	rs, err := s.accountRoles(ctx, c, false)
	if err != nil {
		return err
	}
	d := memberData{
		Member: memberRow{ID: m.UserID, Email: u.Email, Name: u.Name, Roles: rs.labels(m.Roles), Status: m.Status,
			Joined: m.CreatedAt, You: m.UserID == c.p.ID},
		Roles: rs.grantable, CanManage: c.may(rbac.MembersManage), IsAdmin: identity.IsAdministrator(m.Roles),
	}
	d.CanEdit = d.CanManage && !slices.ContainsFunc(m.Roles, func(role string) bool { return !rs.mayGrant(role) })
	if d.IsAdmin && m.Status == store.MemberActive {
		n, err := s.activeAdministrators(ctx, c)
		if err != nil {
			return err
		}
		d.LastAdmin = n <= 1
	}
	if d.CanSession = c.may(rbac.MembersRead) || d.Member.You; d.CanSession {
		if d.Sessions, err = s.sessionRows(ctx, c, userID); err != nil {
			return err
		}
	}
	if c.may(rbac.MembersRead) {
		x, err := s.explainMemberRoles(ctx, c, userID, m.Roles, rs)
		if err != nil {
			return err
		}
		d.Explain = &x
	}
	form := url.Values{"roles": m.Roles}
	s.render(w, r, c, status, "member", &view{Title: u.Email, Form: form, Errors: errs, Data: d})
	return nil
}

// activeAdministrators counts the account's active administrators.
func (s *server) activeAdministrators(ctx context.Context, c *call) (int, error) {
	n, page := 0, store.Page{Limit: store.MaxPageLimit}
	for {
		ms, err := s.IAM.Directory().Members(ctx, c.p, page)
		if err != nil {
			return 0, err
		}
		for _, m := range ms {
			if m.Status == store.MemberActive && identity.IsAdministrator(m.Roles) {
				n++
			}
		}
		if len(ms) < page.Limit {
			return n, nil
		}
		page.BeforeID = ms[len(ms)-1].UserID
	}
}

// sessionRows lists a member's live sessions.
func (s *server) sessionRows(ctx context.Context, c *call, userID string) ([]sessionRow, error) {
	ss, err := s.dash.Sessions(ctx, c.p, userID, store.Page{Limit: 20})
	if err != nil {
		return nil, err
	}
	rows := make([]sessionRow, len(ss))
	for i, x := range ss {
		method := "Password"
		detail := ""
		switch {
		case x.Method == "sso":
			method = "Single sign-on"
			detail = x.IdPID
		case x.SecondFactor != "":
			detail = "with " + strings.ReplaceAll(string(x.SecondFactor), "_", " ")
		}
		rows[i] = sessionRow{ID: x.ID, Method: method, Detail: detail, UserAgent: x.UserAgent, IP: x.IP,
			Created: x.IssuedAt, LastSeen: x.LastSeenAt, Expires: x.ExpiresAt, Current: x.ID == c.session.ID}
	}
	return rows, nil
}

// memberChange applies a change to a member and shows the result, or the member's page with
// what went wrong.
func (s *server) memberChange(w http.ResponseWriter, r *http.Request, c *call, notice string,
	change func(ctx context.Context, by identity.Principal, userID string) (store.Membership, error)) error {
	userID := r.PathValue("user")
	if _, err := change(r.Context(), c.p, userID); err != nil {
		status, _ := statusOf(err)
		return s.renderMember(w, r, c, status, formErrors(err, nil))
	}
	s.sync(r.Context())
	s.redirect(w, r, c.base()+"/members/"+url.PathEscape(userID), notice)
	return nil
}

func (s *server) setRoles(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	roleIDs := r.PostForm["roles"]
	if len(roleIDs) == 0 {
		return s.renderMember(w, r, c, http.StatusBadRequest, []formError{{"roles", "Choose at least one role. To take someone's access away, disable or remove them."}})
	}
	return s.memberChange(w, r, c, "Roles updated.", func(ctx context.Context, by identity.Principal, userID string) (store.Membership, error) {
		return s.IAM.Directory().SetMemberRoles(ctx, by, userID, roleIDs)
	})
}

func (s *server) disableMember(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.memberChange(w, r, c, "Member disabled: their sessions ended and their credentials stopped working.", s.IAM.Directory().DisableMember)
}

func (s *server) enableMember(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.memberChange(w, r, c, "Member enabled: their credentials work again.", s.IAM.Directory().EnableMember)
}

type removeData struct {
	Member      memberRow
	Credentials []kindCount
	CanCount    bool
}

type kindCount struct {
	Kind  store.CredentialKind
	Count int
}

// removeMemberPage asks to confirm a removal, saying what it does to the member's
// credentials.
func (s *server) removeMemberPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	userID := r.PathValue("user")
	u, err := s.IAM.Directory().User(ctx, c.p, userID)
	if err != nil {
		return err
	}
	if _, err := s.IAM.Directory().Member(ctx, c.p, userID); err != nil {
		return err
	}
	d := removeData{Member: memberRow{ID: userID, Email: u.Email, You: userID == c.p.ID}, CanCount: c.may(rbac.CredentialsRead)}
	if d.CanCount {
		if d.Credentials, err = s.ownedCredentials(ctx, c, userID); err != nil {
			return err
		}
	}
	s.render(w, r, c, http.StatusOK, "member-remove", &view{Title: "Remove " + u.Email, Data: d})
	return nil
}

// ownedCredentials counts the credentials an owner holds in the account, by kind. The member
// must be allowed to read credentials.
func (s *server) ownedCredentials(ctx context.Context, c *call, ownerID string) ([]kindCount, error) {
	if err := s.IAM.Require(ctx, c.p, rbac.CredentialsRead); err != nil {
		return nil, err
	}
	counts := map[store.CredentialKind]int{}
	err := s.IAM.Store().View(ctx, func(rd store.Reader) error {
		page := store.Page{Limit: store.MaxPageLimit}
		for {
			cs, err := rd.CredentialsByOwner(ctx, c.account.ID, ownerID, page)
			if err != nil {
				return err
			}
			for _, cr := range cs {
				counts[cr.Kind]++
			}
			if len(cs) < page.Limit {
				return nil
			}
			page.BeforeID = cs[len(cs)-1].ID
		}
	})
	var out []kindCount
	for _, k := range []store.CredentialKind{store.Authtoken, store.APIKey, store.SSHCredential, store.AccessToken} {
		if counts[k] > 0 {
			out = append(out, kindCount{k, counts[k]})
		}
	}
	return out, err
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	userID := r.PathValue("user")
	u, err := s.IAM.Directory().User(ctx, c.p, userID)
	if err != nil {
		return err
	}
	if err := s.IAM.Directory().RemoveMember(ctx, c.p, userID); err != nil {
		status, _ := statusOf(err)
		return s.renderMember(w, r, c, status, formErrors(err, nil))
	}
	s.sync(ctx)
	if userID == c.p.ID {
		clearSessionCookie(w, c.account.ID)
		s.redirect(w, r, "/login", "You have left "+c.account.Name+".")
		return nil
	}
	s.redirect(w, r, c.base()+"/members", u.Email+" was removed from the account.")
	return nil
}

func (s *server) endMemberSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	userID := r.PathValue("user")
	n, err := s.dash.EndSessions(r.Context(), c.p, userID)
	if err != nil {
		status, _ := statusOf(err)
		return s.renderMember(w, r, c, status, formErrors(err, nil))
	}
	if userID == c.p.ID {
		clearSessionCookie(w, c.account.ID)
		s.redirect(w, r, "/a/"+c.account.ID+"/login", "You have signed out everywhere.")
		return nil
	}
	s.redirect(w, r, c.base()+"/members/"+url.PathEscape(userID), "Ended "+plural(n, "session", "sessions")+".")
	return nil
}

// resendInvitation replaces an invitation with a new one for the same address and roles,
// and mails it: the earlier link stops working.
func (s *server) resendInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	dir := s.IAM.Directory()
	old, err := dir.Invitation(ctx, c.p, r.PathValue("invitation"))
	if err != nil {
		return err
	}
	if err := dir.RevokeInvitation(ctx, c.p, old.ID); err != nil {
		return err
	}
	inv, err := dir.Invite(ctx, c.p, old.Email, old.Roles)
	if err != nil {
		status, _ := statusOf(err)
		return s.renderMembers(w, r, c, status, nil, []formError{{"", "The invitation to " + old.Email + " was withdrawn but could not be sent again: " + message(err)}})
	}
	s.mailInvitation(ctx, c, inv)
	s.sync(ctx)
	s.redirect(w, r, c.base()+"/members", "Invitation sent to "+inv.Email+" again. The earlier link no longer works.")
	return nil
}

func (s *server) revokeInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	inv, err := s.IAM.Directory().Invitation(ctx, c.p, r.PathValue("invitation"))
	if err != nil {
		return err
	}
	if err := s.IAM.Directory().RevokeInvitation(ctx, c.p, inv.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		status, _ := statusOf(err)
		return s.renderMembers(w, r, c, status, nil, formErrors(err, nil))
	}
	s.sync(ctx)
	s.redirect(w, r, c.base()+"/members", "Invitation to "+inv.Email+" revoked.")
	return nil
}
