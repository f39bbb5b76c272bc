package main

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

type botRow struct {
	ID, Name string
	Active   bool
	Roles    []string // labels; empty: acts as a developer
	Created  time.Time
}

type botsData struct {
	Bots     []botRow
	Next     string
	CanWrite bool
	Roles    []roleOption
}

// botsPage lists the bot users and has the form to create one.
func (s *server) botsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderBots(w, r, c, http.StatusOK, nil, nil)
}

func (s *server) renderBots(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	ctx := r.Context()
	before := r.URL.Query().Get("before")
	bots, err := s.IAM.BotUsers().List(ctx, c.p, store.Page{BeforeID: before, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	rs, err := s.accountRoles(ctx, c, true)
	if err != nil {
		return err
	}
	d := botsData{CanWrite: c.may(rbac.BotUsersWrite), Roles: rs.grantable}
	if len(bots) > pageSize {
		bots = bots[:pageSize]
		d.Next = c.base() + "/bots?" + url.Values{"before": {bots[pageSize-1].ID}}.Encode()
	}
	for _, b := range bots {
		d.Bots = append(d.Bots, botRow{ID: b.ID, Name: b.Name, Active: b.Active, Roles: rs.labels(b.Roles), Created: b.CreatedAt})
	}
	s.render(w, r, c, status, "bots", &view{Title: "Bot users", Form: form, Errors: errs, Data: d})
	return nil
}

func (s *server) createBot(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	name := f.Get("name")
	if strings.TrimSpace(name) == "" {
		return s.renderBots(w, r, c, http.StatusBadRequest, f, []formError{{"name", "Enter a name for the bot user."}})
	}
	b, err := s.IAM.BotUsers().Create(r.Context(), c.p, botuser.CreateParams{Name: name, Roles: f["roles"]})
	if err != nil {
		status, _ := statusOf(err)
		return s.renderBots(w, r, c, status, f, formErrors(err, map[string]string{"name": "name", "roles": "roles"}))
	}
	s.sync(r.Context())
	s.redirect(w, r, c.base()+"/bots/"+b.ID, "Bot user "+b.Name+" created. Give it a credential below.")
	return nil
}

type botData struct {
	Bot         botRow
	CanWrite    bool
	Credentials []credentialRow
	CanCreds    bool
	CanCreate   bool
}

// botPage shows a bot user: its name (to change), whether it is active (to deactivate or
// reactivate it), and the credentials it owns.
func (s *server) botPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderBot(w, r, c, http.StatusOK, nil, nil)
}

func (s *server) renderBot(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	ctx := r.Context()
	b, err := s.IAM.BotUsers().Get(ctx, c.p, r.PathValue("bot"))
	if err != nil {
		return err
	}
	rs, err := s.accountRoles(ctx, c, true)
	if err != nil {
		return err
	}
	d := botData{Bot: botRow{ID: b.ID, Name: b.Name, Active: b.Active, Roles: rs.labels(b.Roles), Created: b.CreatedAt},
		CanWrite: c.may(rbac.BotUsersWrite), CanCreds: c.may(rbac.CredentialsRead),
		CanCreate: c.may(rbac.CredentialsWrite) && c.may(rbac.CredentialsAssignOwner)}
	if d.CanCreds {
		if d.Credentials, err = s.ownerCredentials(ctx, c, b.ID); err != nil {
			return err
		}
	}
	if form == nil {
		form = url.Values{"name": {b.Name}}
	}
	s.render(w, r, c, status, "bot", &view{Title: b.Name, Form: form, Errors: errs, Data: d})
	return nil
}

func (s *server) renameBot(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	name := r.PostForm.Get("name")
	if strings.TrimSpace(name) == "" {
		return s.renderBot(w, r, c, http.StatusBadRequest, r.PostForm, []formError{{"name", "Enter a name for the bot user."}})
	}
	b, err := s.IAM.BotUsers().Update(r.Context(), c.p, r.PathValue("bot"), botuser.UpdateParams{Name: &name})
	if err != nil {
		status, _ := statusOf(err)
		return s.renderBot(w, r, c, status, r.PostForm, formErrors(err, map[string]string{"name": "name"}))
	}
	s.redirect(w, r, c.base()+"/bots/"+b.ID, "Bot user renamed to "+b.Name+".")
	return nil
}

func (s *server) setBotActive(w http.ResponseWriter, r *http.Request, c *call, active bool) error {
	b, err := s.IAM.BotUsers().Update(r.Context(), c.p, r.PathValue("bot"), botuser.UpdateParams{Active: &active})
	if err != nil {
		status, _ := statusOf(err)
		return s.renderBot(w, r, c, status, nil, formErrors(err, nil))
	}
	s.sync(r.Context()) // its credentials stop (or start) working at the next verification
	notice := b.Name + " deactivated: its credentials stopped working."
	if active {
		notice = b.Name + " reactivated: its credentials work again."
	}
	s.redirect(w, r, c.base()+"/bots/"+b.ID, notice)
	return nil
}

func (s *server) deactivateBot(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.setBotActive(w, r, c, false)
}

func (s *server) activateBot(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.setBotActive(w, r, c, true)
}

type deleteBotData struct {
	Bot         botRow
	Credentials []kindCount
	Total       int
	CanCount    bool
}

// deleteBotPage asks to confirm deleting a bot user, saying which of its credentials the
// deletion revokes.
func (s *server) deleteBotPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	b, err := s.IAM.BotUsers().Get(ctx, c.p, r.PathValue("bot"))
	if err != nil {
		return err
	}
	d := deleteBotData{Bot: botRow{ID: b.ID, Name: b.Name, Active: b.Active}, CanCount: c.may(rbac.CredentialsRead)}
	if d.CanCount {
		if d.Credentials, err = s.ownedCredentials(ctx, c, b.ID); err != nil {
			return err
		}
		for _, k := range d.Credentials {
			d.Total += k.Count
		}
	}
	s.render(w, r, c, http.StatusOK, "bot-delete", &view{Title: "Delete " + b.Name, Data: d})
	return nil
}

func (s *server) deleteBot(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	b, err := s.IAM.BotUsers().Get(ctx, c.p, r.PathValue("bot"))
	if err != nil {
		return err
	}
	if err := s.IAM.BotUsers().Delete(ctx, c.p, b.ID); err != nil {
		return err
	}
	s.sync(ctx)
	s.redirect(w, r, c.base()+"/bots", "Bot user "+b.Name+" deleted; its credentials were revoked.")
	return nil
}
