package main

import (
	"net/http"

	"github.com/iamkit/iamkit/botuser"
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

func (s *server) createBotUser(w http.ResponseWriter, r *http.Request, c *call) error {
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
	return writeJSON(w, http.StatusCreated, botUserOut(c.base, b))
}

func (s *server) listBotUsers(w http.ResponseWriter, r *http.Request, c *call) error {
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
	return list(w, r, c, p, bots, func(b store.BotUser) string { return b.ID }, func(page []store.BotUser, next *string) any {
		out := botUserListJSON{BotUsers: make([]botUserJSON, len(page)), URI: c.base + r.URL.Path, NextPageURI: next}
		for i, b := range page {
			out.BotUsers[i] = botUserOut(c.base, b)
		}
		return out
	})
}

func (s *server) getBotUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	id := pathID(r)
	b, err := s.IAM.BotUsers().Get(r.Context(), c.principal, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, botUserOut(c.base, b))
}

func (s *server) updateBotUser(w http.ResponseWriter, r *http.Request, c *call) error {
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
	return writeJSON(w, http.StatusOK, botUserOut(c.base, b))
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
