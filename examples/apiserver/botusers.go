package main

import (
	"net/http"
	"strings"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// botUserCreate is ngrok's BotUserCreate; roles is iamkit's extension (RBAC plans).
type botUserCreate struct {
	Name   string   `json:"name"`
	Active *bool    `json:"active"`
	Roles  []string `json:"roles"`
}

// botUserUpdate is ngrok's BotUserUpdate: absent (or null) fields are left alone.
type botUserUpdate struct {
	ID     string    `json:"id"`
	Name   *string   `json:"name"`
	Active *bool     `json:"active"`
	Roles  *[]string `json:"roles"`
}

// botView is one of the two collections that serve bot users: ngrok's /bot_users and its
// newer name for the same records, /service_users. They differ only in their path and their
// list's element key; IDs keep the bot_ prefix in both (one record, one ID).
type botView struct {
	path    string // "/bot_users" or "/service_users"
	listKey string // "bot_users" or "service_users"
}

// botRoutes registers the five operations of ngrok's bot users under v.
func (s *server) botRoutes(v botView) {
	op := strings.TrimPrefix(v.path, "/") + "."
	s.handle("POST "+v.path, op+"create", rbac.BotUsersWrite, s.createBotUser(v))
	s.handle("GET "+v.path, op+"list", rbac.BotUsersRead, s.listBotUsers(v))
	s.handle("GET "+v.path+"/{id}", op+"get", rbac.BotUsersRead, s.getBotUser(v))
	s.handle("PATCH "+v.path+"/{id}", op+"update", rbac.BotUsersWrite, s.updateBotUser(v))
	s.handle("DELETE "+v.path+"/{id}", op+"delete", rbac.BotUsersWrite, s.deleteBotUser)
}

func (s *server) createBotUser(v botView) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		return s.createBot(w, r, c, v)
	}
}

func (s *server) createBot(w http.ResponseWriter, r *http.Request, c *call, v botView) error {
	var in botUserCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := checkBotName(in.Name); err != nil {
		return err
	}
	b, err := s.IAM.BotUsers().Create(r.Context(), c.principal, botuser.CreateParams{
		Name: in.Name, Active: in.Active, Roles: in.Roles,
	})
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "roles", in.Roles, err)
	}
	return writeJSON(w, http.StatusCreated, botUserOut(c.base, v, b))
}

func (s *server) listBotUsers(v botView) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		return s.listBots(w, r, c, v)
	}
}

func (s *server) listBots(w http.ResponseWriter, r *http.Request, c *call, v botView) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	bots, err := s.IAM.BotUsers().List(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	page, next := nextPage(r, c, p, bots, func(b store.BotUser) string { return b.ID })
	return s.writeBotUserPage(w, c.base, v, page, c.base+r.URL.Path, next)
}

func (s *server) getBotUser(v botView) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if err := requireNoBody(r); err != nil {
			return err
		}
		b, err := s.IAM.BotUsers().Get(r.Context(), c.principal, pathID(r))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, botUserOut(c.base, v, b))
	}
}

func (s *server) updateBotUser(v botView) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		return s.updateBot(w, r, c, v)
	}
}

func (s *server) updateBot(w http.ResponseWriter, r *http.Request, c *call, v botView) error {
	id := pathID(r)
	var in botUserUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
	}
	if in.Name != nil {
		if err := checkBotName(*in.Name); err != nil {
			return err
		}
	}
	b, err := s.IAM.BotUsers().Update(r.Context(), c.principal, id, botuser.UpdateParams{
		Name: in.Name, Active: in.Active, Roles: in.Roles,
	})
	if err != nil {
		return s.explainRoles(r.Context(), c.principal, "roles", deref(in.Roles), err)
	}
	s.sync(r.Context()) // a deactivated bot's credentials stop working from the next request
	return writeJSON(w, http.StatusOK, botUserOut(c.base, v, b))
}

func (s *server) deleteBotUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	if err := s.IAM.BotUsers().Delete(r.Context(), c.principal, id); err != nil {
		return err
	}
	s.sync(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkBotName gives ngrok's codes for the bot user names ngrok refuses (4109 empty, 4110
// over botuser.MaxNameLen bytes); the library checks the rest (215).
func checkBotName(name string) error {
	switch {
	case name == "":
		return paramError(http.StatusBadRequest, codeBotNameEmpty, "name", "Bot user name must not be empty.")
	case len(name) > botuser.MaxNameLen:
		return paramError(http.StatusBadRequest, codeBotNameTooLong, "name", "Bot user name exceeds max length: %d bytes at most, got %d.", botuser.MaxNameLen, len(name))
	}
	return nil
}
