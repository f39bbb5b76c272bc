package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

type eventRow struct {
	ID, Type, TypeLabel string
	Actor, Source       string
	Credential          string
	About               string
	At                  time.Time
}

type typeOption struct {
	Value, Label string
}

type auditData struct {
	Rows  []eventRow
	Next  string
	Types []typeOption
	// Filtered: the page shows only what the filters match.
	Filtered bool
}

// auditReads bounds how many pages of the log one page of the audit page reads looking for
// events that match its filters.
const auditReads = 20

// auditPage is the audit log: who did what, through which source and with which credential,
// newest first, filtered by actor and event type, a page at a time.
func (s *server) auditPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	q := r.URL.Query()
	actor, typ := strings.TrimSpace(q.Get("actor")), q.Get("type")
	d := auditData{Filtered: actor != "" || typ != ""}
	for _, t := range identity.EventTypes() {
		d.Types = append(d.Types, typeOption{Value: string(t), Label: eventLabel(string(t))})
	}
	matches := func(e store.Event) bool {
		if typ != "" && string(e.Type) != typ {
			return false
		}
		if actor == "" {
			return true
		}
		return e.Principal.ID == actor || (e.Principal.Subject != "" && strings.Contains(strings.ToLower(e.Principal.Subject), strings.ToLower(actor)))
	}
	cursor := q.Get("before")
	next := ""
read:
	for range auditReads {
		page, err := s.IAM.Authorizer().Events(ctx, c.p, store.Page{BeforeID: cursor, Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if !matches(e) {
				continue
			}
			d.Rows = append(d.Rows, rowOf(e))
			if len(d.Rows) == pageSize {
				next = e.ID
				break read
			}
		}
		if next, cursor = page.Next, page.Next; cursor == "" {
			break
		}
	}
	if next != "" {
		v := url.Values{"before": {next}}
		if actor != "" {
			v.Set("actor", actor)
		}
		if typ != "" {
			v.Set("type", typ)
		}
		d.Next = c.base() + "/audit?" + v.Encode()
	}
	form := url.Values{"actor": {actor}, "type": {typ}}
	s.render(w, r, c, http.StatusOK, "audit", &view{Title: "Audit log", Form: form, Data: d})
	return nil
}

func rowOf(e store.Event) eventRow {
	row := eventRow{ID: e.ID, Type: string(e.Type), TypeLabel: eventLabel(string(e.Type)), Actor: e.Principal.Subject,
		Source: e.Principal.Source, Credential: e.Principal.CredentialID, At: e.CreatedAt, About: summary(e.Object)}
	if row.Actor == "" {
		row.Actor = e.Principal.ID
	}
	return row
}

// eventLabel names an event type for people: "member_created.v0" is "Member created".
func eventLabel(t string) string {
	t, _, _ = strings.Cut(t, ".")
	words := strings.Split(t, "_")
	for i, w := range words {
		if acronymWord(w) {
			words[i] = strings.ToUpper(w)
		}
	}
	t = strings.Join(words, " ")
	if t == "" {
		return t
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// acronymWord reports whether a word of an event type is written in capitals.
func acronymWord(w string) bool {
	switch w {
	case "api", "sso", "totp", "ssh":
		return true
	}
	return false
}

// summary names what an event is about, from its object: an email, a name, a description,
// or its ID.
func summary(obj json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(obj, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"email", "name", "description", "enforcement", "method", "id"} {
		if v, ok := m[k].(string); ok && v != "" {
			parts = append(parts, v)
			if len(parts) == 2 {
				break
			}
		}
	}
	return strings.Join(parts, " · ")
}
