package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// credentialKinds returns the kinds the dashboard manages, in the order of its tabs.
func credentialKinds() []store.CredentialKind {
	return []store.CredentialKind{store.Authtoken, store.APIKey, store.SSHCredential}
}

func kindOf(s string) store.CredentialKind {
	for _, k := range credentialKinds() {
		if string(k) == s {
			return k
		}
	}
	return store.Authtoken
}

type credentialRow struct {
	ID          string
	Kind        store.CredentialKind
	Description string
	Owner       string
	OwnerURL    string
	ACL         []string
	Fingerprint string
	Created     time.Time
	LastUsed    time.Time
	LastUsedIP  string
	Expires     time.Time
	Expired     bool
}

type kindTab struct {
	Kind    store.CredentialKind
	Label   string
	URL     string
	Current bool
}

type credentialsData struct {
	Kind     store.CredentialKind
	Tabs     []kindTab
	Rows     []credentialRow
	Next     string
	CanWrite bool
}

func (s *server) rowsOf(ctx context.Context, c *call, cs []credential.Credential) []credentialRow {
	owners := make([]string, len(cs))
	for i, cr := range cs {
		owners[i] = cr.OwnerID
	}
	names := s.subjects(ctx, c, owners)
	now := time.Now()
	rows := make([]credentialRow, len(cs))
	for i, cr := range cs {
		rows[i] = credentialRow{ID: cr.ID, Kind: cr.Kind, Description: cr.Description, Owner: names[cr.OwnerID], ACL: cr.ACL,
			Fingerprint: cr.Fingerprint, Created: cr.CreatedAt, LastUsed: cr.LastUsedAt, Expires: cr.ExpiresAt,
			Expired: !cr.ExpiresAt.IsZero() && !now.Before(cr.ExpiresAt)}
		if cr.LastUsedIP.IsValid() {
			rows[i].LastUsedIP = cr.LastUsedIP.String()
		}
		switch {
		case strings.HasPrefix(cr.OwnerID, "bot_"):
			rows[i].OwnerURL = c.base() + "/bots/" + cr.OwnerID
		case c.may(rbac.MembersRead):
			rows[i].OwnerURL = c.base() + "/members/" + cr.OwnerID
		}
	}
	return rows
}

// credentialsPage lists the account's credentials of one kind, with their owners, last use
// and expiry.
func (s *server) credentialsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	q := r.URL.Query()
	kind := kindOf(q.Get("kind"))
	cs, err := s.IAM.Credentials().List(ctx, c.p, kind, store.Page{BeforeID: q.Get("before"), Limit: pageSize + 1})
	if err != nil {
		return err
	}
	d := credentialsData{Kind: kind, CanWrite: c.may(rbac.CredentialsWrite)}
	for _, k := range credentialKinds() {
		d.Tabs = append(d.Tabs, kindTab{Kind: k, Label: kindLabel(k) + "s", URL: c.base() + "/credentials?kind=" + string(k), Current: k == kind})
	}
	if len(cs) > pageSize {
		cs = cs[:pageSize]
		d.Next = c.base() + "/credentials?" + url.Values{"kind": {string(kind)}, "before": {cs[pageSize-1].ID}}.Encode()
	}
	d.Rows = s.rowsOf(ctx, c, cs)
	s.render(w, r, c, http.StatusOK, "credentials", &view{Title: kindLabel(kind) + "s", Data: d})
	return nil
}

// ownerCredentials lists the credentials one owner holds in the account.
func (s *server) ownerCredentials(ctx context.Context, c *call, ownerID string) ([]credentialRow, error) {
	if err := s.IAM.Require(ctx, c.p, rbac.CredentialsRead); err != nil {
		return nil, err
	}
	var ids []string
	err := s.IAM.Store().View(ctx, func(rd store.Reader) error {
		cs, err := rd.CredentialsByOwner(ctx, c.account.ID, ownerID, store.Page{Limit: store.MaxPageLimit})
		for _, cr := range cs {
			ids = append(ids, cr.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	cs := make([]credential.Credential, 0, len(ids))
	for _, id := range ids {
		cr, err := s.IAM.Credentials().Get(ctx, c.p, id) // with its last use, as the member may read it
		if err != nil {
			return nil, err
		}
		cs = append(cs, cr)
	}
	return s.rowsOf(ctx, c, cs), nil
}

type ownerOption struct {
	ID, Label string
}

type newCredentialData struct {
	Owners  []ownerOption // besides the member itself; empty when it may not name others
	ACLs    bool          // the plan has credential ACLs
	Kinds   []kindTab
	Expires []expiryOption
}

type expiryOption struct {
	Value, Label string
}

// expiryOptions are the expiries the form offers.
func expiryOptions() []expiryOption {
	return []expiryOption{
		{"", "Never"}, {"1d", "In 1 day"}, {"7d", "In 7 days"}, {"30d", "In 30 days"}, {"90d", "In 90 days"}, {"365d", "In 1 year"},
	}
}

// expiryOf returns the expiry an option of the form names, from now.
func expiryOf(v string) (time.Time, bool) {
	days := map[string]int{"": 0, "1d": 1, "7d": 7, "30d": 30, "90d": 90, "365d": 365}
	n, ok := days[v]
	if !ok || n == 0 {
		return time.Time{}, ok
	}
	return time.Now().Add(time.Duration(n) * 24 * time.Hour).Truncate(time.Second), true
}

// newCredentialPage is the form that creates a credential for oneself or, for an
// administrator, for a bot user.
func (s *server) newCredentialPage(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	form := url.Values{"kind": {string(kindOf(q.Get("kind")))}, "owner": {q.Get("owner")}}
	return s.renderNewCredential(w, r, c, http.StatusOK, form, nil)
}

func (s *server) renderNewCredential(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	ctx := r.Context()
	if err := s.IAM.Require(ctx, c.p, rbac.CredentialsWrite); err != nil {
		return err
	}
	plan, err := s.IAM.Directory().Plan(ctx, c.p)
	if err != nil {
		return err
	}
	d := newCredentialData{ACLs: plan.Has(identity.FeatureCredentialACLs), Expires: expiryOptions()}
	for _, k := range credentialKinds() {
		d.Kinds = append(d.Kinds, kindTab{Kind: k, Label: kindLabel(k)})
	}
	if c.may(rbac.CredentialsAssignOwner) && c.may(rbac.BotUsersRead) {
		bots, err := s.IAM.BotUsers().List(ctx, c.p, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, b := range bots {
			if b.Active {
				d.Owners = append(d.Owners, ownerOption{ID: b.ID, Label: b.Name + " (bot user)"})
			}
		}
	}
	s.render(w, r, c, status, "credential-new", &view{Title: "New credential", Form: form, Errors: errs, Data: d})
	return nil
}

type createdData struct {
	Kind        store.CredentialKind
	Token       string
	Fingerprint string
	Description string
	Owner       string
	ListURL     string
	Expires     time.Time
}

// createCredential creates the credential and shows its secret, this once.
func (s *server) createCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	kind := kindOf(f.Get("kind"))
	req := credential.CreateRequest{Kind: kind, Description: strings.TrimSpace(f.Get("description"))}
	if owner := f.Get("owner"); owner != "" && owner != c.p.ID {
		req.OwnerID = owner
	}
	for line := range strings.Lines(f.Get("acl")) {
		if rule := strings.TrimSpace(line); rule != "" {
			req.ACL = append(req.ACL, rule)
		}
	}
	if kind == store.APIKey && len(req.ACL) > 0 {
		return s.renderNewCredential(w, r, c, http.StatusBadRequest, f, []formError{{"acl", "API keys have no ACL: leave it empty, or create an authtoken or SSH key."}})
	}
	exp, ok := expiryOf(f.Get("expires"))
	if !ok {
		return s.renderNewCredential(w, r, c, http.StatusBadRequest, f, []formError{{"expires", "Choose when the credential expires."}})
	}
	req.ExpiresAt = exp
	if kind == store.SSHCredential {
		req.PublicKey = strings.TrimSpace(f.Get("public_key"))
		if req.PublicKey == "" {
			return s.renderNewCredential(w, r, c, http.StatusBadRequest, f, []formError{{"public_key", "Paste the SSH public key (one line of your .pub file)."}})
		}
	}
	issued, err := s.IAM.Credentials().Create(r.Context(), c.p, req)
	if err != nil {
		status, _ := statusOf(err)
		return s.renderNewCredential(w, r, c, status, f, formErrors(err, map[string]string{
			"description": "description", "acl": "acl", "public_key": "public_key", "expires_at": "expires", "owner_id": "owner",
		}))
	}
	owner := s.subjects(r.Context(), c, []string{issued.OwnerID})[issued.OwnerID]
	d := createdData{Kind: kind, Fingerprint: issued.Fingerprint, Description: issued.Description, Owner: owner,
		ListURL: c.base() + "/credentials?kind=" + string(kind), Expires: issued.ExpiresAt}
	if !issued.Token.IsZero() {
		d.Token = issued.Token.Reveal() // the one time it is shown
	}
	s.render(w, r, c, http.StatusOK, "credential-created", &view{Title: kindLabel(kind) + " created", Data: d})
	return nil
}

type revokeData struct {
	Row  credentialRow
	From string // "bot": go back to the bot user's page
}

// revokeCredentialPage asks to confirm a revocation.
func (s *server) revokeCredentialPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	cr, err := s.IAM.Credentials().Get(ctx, c.p, r.PathValue("credential"))
	if err != nil {
		return err
	}
	rows := s.rowsOf(ctx, c, []credential.Credential{cr})
	s.render(w, r, c, http.StatusOK, "credential-revoke", &view{Title: "Revoke " + strings.ToLower(kindLabel(cr.Kind)), Data: revokeData{Row: rows[0], From: r.URL.Query().Get("from")}})
	return nil
}

func (s *server) revokeCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	cr, err := s.IAM.Credentials().Get(ctx, c.p, r.PathValue("credential"))
	if err != nil {
		return err
	}
	if err := s.IAM.Credentials().Delete(ctx, c.p, cr.ID); err != nil {
		return err
	}
	s.sync(ctx)
	target := c.base() + "/credentials?kind=" + string(cr.Kind)
	if strings.HasPrefix(cr.OwnerID, "bot_") && r.PostForm.Get("from") == "bot" {
		target = c.base() + "/bots/" + cr.OwnerID
	}
	s.redirect(w, r, target, kindLabel(cr.Kind)+" revoked: it no longer works.")
	return nil
}
