package main

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/store"
)

// Audit streaming: ngrok's /event_destinations and /event_subscriptions, administrators
// only. A destination's target is a webhook (iamkit's target type; ngrok's are cloud log
// services), and its create response alone carries its signing_secret. The dead letters of
// a destination, and replaying or discarding one, are iamkit's extension.

func (s *server) streamRoutes() {
	dest, sub := func(op string) string { return "event_destinations." + op }, func(op string) string { return "event_subscriptions." + op }
	s.handle("POST /event_destinations", dest("create"), rbac.AccountManage, s.createDestination)
	s.handle("GET /event_destinations", dest("list"), rbac.AccountManage, s.listDestinations)
	s.handle("GET /event_destinations/{id}", dest("get"), rbac.AccountManage, s.getDestination)
	s.handle("PATCH /event_destinations/{id}", dest("update"), rbac.AccountManage, s.updateDestination)
	s.handle("DELETE /event_destinations/{id}", dest("delete"), rbac.AccountManage, s.deleteDestination)
	s.handle("GET /event_destinations/{id}/dead_letters", dest("dead_letters"), rbac.AccountManage, s.listDeadLetters)
	s.handle("POST /dead_letters/{id}/replay", "dead_letters.replay", rbac.AccountManage, s.replayDeadLetter)
	s.handle("DELETE /dead_letters/{id}", "dead_letters.delete", rbac.AccountManage, s.deleteDeadLetter)

	s.handle("POST /event_subscriptions", sub("create"), rbac.AccountManage, s.createSubscription)
	s.handle("GET /event_subscriptions", sub("list"), rbac.AccountManage, s.listSubscriptions)
	s.handle("GET /event_subscriptions/{id}", sub("get"), rbac.AccountManage, s.getSubscription)
	s.handle("PATCH /event_subscriptions/{id}", sub("update"), rbac.AccountManage, s.updateSubscription)
	s.handle("DELETE /event_subscriptions/{id}", sub("delete"), rbac.AccountManage, s.deleteSubscription)
	s.handle("POST /event_subscriptions/{id}/sources", "event_sources.create", rbac.AccountManage, s.createSource)
	s.handle("GET /event_subscriptions/{id}/sources", "event_sources.list", rbac.AccountManage, s.listSources)
	s.handle("GET /event_subscriptions/{id}/sources/{type}", "event_sources.get", rbac.AccountManage, s.getSource)
	s.handle("DELETE /event_subscriptions/{id}/sources/{type}", "event_sources.delete", rbac.AccountManage, s.deleteSource)
}

type destinationJSON struct {
	eventstream.DestinationObject
	URI string `json:"uri"`
	// SigningSecret is in the create response only.
	SigningSecret *string `json:"signing_secret,omitempty"`
}

func destinationOut(base string, d store.EventDestination) destinationJSON {
	return destinationJSON{DestinationObject: eventstream.DestinationObjectOf(d), URI: base + "/event_destinations/" + d.ID}
}

type targetIn struct {
	Webhook *struct {
		URL *string `json:"url"`
	} `json:"webhook"`
}

func (t *targetIn) url() *string {
	if t == nil || t.Webhook == nil {
		return nil
	}
	return t.Webhook.URL
}

type destinationCreate struct {
	Description string    `json:"description"`
	Metadata    string    `json:"metadata"`
	Format      string    `json:"format"`
	Target      *targetIn `json:"target"`
}

type destinationUpdate struct {
	ID          string    `json:"id"`
	Description *string   `json:"description"`
	Metadata    *string   `json:"metadata"`
	Format      *string   `json:"format"`
	Target      *targetIn `json:"target"`
}

func (s *server) createDestination(w http.ResponseWriter, r *http.Request, c *call) error {
	var in destinationCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	u := in.Target.url()
	if u == nil {
		return paramError(http.StatusBadRequest, codeInvalidValue, "target.webhook.url", "A destination needs target.webhook.url, an https URL.")
	}
	d, secret, err := s.IAM.EventStreams().CreateDestination(r.Context(), c.principal, eventstream.DestinationParams{
		Description: in.Description, Metadata: in.Metadata, Format: in.Format, URL: *u,
	})
	if err != nil {
		return err
	}
	out := destinationOut(c.base, d)
	revealed := secret.Reveal()
	out.SigningSecret = &revealed
	return writeJSON(w, http.StatusCreated, out)
}

func (s *server) listDestinations(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ds, err := s.IAM.EventStreams().Destinations(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, ds, func(d store.EventDestination) string { return d.ID }, func(page []store.EventDestination, next *string) any {
		out := make([]destinationJSON, len(page))
		for i, d := range page {
			out[i] = destinationOut(c.base, d)
		}
		return map[string]any{"event_destinations": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getDestination(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	d, err := s.IAM.EventStreams().Destination(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, destinationOut(c.base, d))
}

func (s *server) updateDestination(w http.ResponseWriter, r *http.Request, c *call) error {
	id := pathID(r)
	var in destinationUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
	}
	u := eventstream.DestinationUpdate{Description: in.Description, Metadata: in.Metadata, Format: in.Format, URL: in.Target.url()}
	if u.Description == nil && u.Metadata == nil && u.Format == nil && u.URL == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
	}
	d, err := s.IAM.EventStreams().UpdateDestination(r.Context(), c.principal, id, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, destinationOut(c.base, d))
}

func (s *server) deleteDestination(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if err := s.IAM.EventStreams().DeleteDestination(r.Context(), c.principal, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type deadLetterJSON struct {
	ID          string  `json:"id"`
	URI         string  `json:"uri"`
	Destination refJSON `json:"destination"`
	EventID     string  `json:"event_id"`
	Attempts    int     `json:"attempts"`
	LastStatus  int     `json:"last_status"`
	LastError   string  `json:"last_error"`
	CreatedAt   string  `json:"created_at"`
}

func deadLetterOut(base string, l store.DeadLetter) deadLetterJSON {
	return deadLetterJSON{
		ID: l.ID, URI: base + "/dead_letters/" + l.ID,
		Destination: refJSON{ID: l.DestinationID, URI: base + "/event_destinations/" + l.DestinationID},
		EventID:     l.EventID, Attempts: l.Attempts, LastStatus: l.LastStatus, LastError: l.LastError, CreatedAt: timestamp(l.CreatedAt),
	}
}

func (s *server) listDeadLetters(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ls, err := s.IAM.EventStreams().DeadLetters(r.Context(), c.principal, pathID(r), plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, ls, func(l store.DeadLetter) string { return l.ID }, func(page []store.DeadLetter, next *string) any {
		out := make([]deadLetterJSON, len(page))
		for i, l := range page {
			out[i] = deadLetterOut(c.base, l)
		}
		return map[string]any{"dead_letters": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

// replayDeadLetter delivers a dead letter's event again: 204 when the receiver took it (the
// dead letter is gone), 503 (ERR_NGROK_90503) when it refused again (it stays).
func (s *server) replayDeadLetter(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if err := s.IAM.EventStreams().ReplayDeadLetter(r.Context(), c.principal, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) deleteDeadLetter(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if err := s.IAM.EventStreams().DeleteDeadLetter(r.Context(), c.principal, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// subscriptionJSON is ngrok's EventSubscription: sources by type and destinations by ID,
// each with its uri.
type subscriptionJSON struct {
	ID           string       `json:"id"`
	URI          string       `json:"uri"`
	CreatedAt    string       `json:"created_at"`
	Metadata     string       `json:"metadata"`
	Description  string       `json:"description"`
	Sources      []sourceJSON `json:"sources"`
	Destinations []refJSON    `json:"destinations"`
}

type sourceJSON struct {
	Type string `json:"type"`
	URI  string `json:"uri"`
}

func subscriptionOut(base string, sub store.EventSubscription) subscriptionJSON {
	o := eventstream.SubscriptionObjectOf(sub)
	uri := base + "/event_subscriptions/" + sub.ID
	out := subscriptionJSON{ID: o.ID, URI: uri, CreatedAt: o.CreatedAt, Metadata: o.Metadata, Description: o.Description,
		Sources: make([]sourceJSON, len(o.Sources)), Destinations: make([]refJSON, len(o.Destinations))}
	for i, src := range o.Sources {
		out.Sources[i] = sourceJSON{Type: src.Type, URI: uri + "/sources/" + url.PathEscape(src.Type)}
	}
	for i, d := range o.Destinations {
		out.Destinations[i] = refJSON{ID: d.ID, URI: base + "/event_destinations/" + d.ID}
	}
	return out
}

type sourceIn struct {
	Type string `json:"type"`
}

func typesOf(in []sourceIn) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = s.Type
	}
	return out
}

type subscriptionCreate struct {
	Description    string     `json:"description"`
	Metadata       string     `json:"metadata"`
	Sources        []sourceIn `json:"sources"`
	DestinationIDs []string   `json:"destination_ids"`
}

type subscriptionUpdate struct {
	ID             string      `json:"id"`
	Description    *string     `json:"description"`
	Metadata       *string     `json:"metadata"`
	Sources        *[]sourceIn `json:"sources"`
	DestinationIDs *[]string   `json:"destination_ids"`
}

func (s *server) createSubscription(w http.ResponseWriter, r *http.Request, c *call) error {
	var in subscriptionCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	sub, err := s.IAM.EventStreams().CreateSubscription(r.Context(), c.principal, eventstream.SubscriptionParams{
		Description: in.Description, Metadata: in.Metadata, Types: typesOf(in.Sources), DestinationIDs: in.DestinationIDs,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, subscriptionOut(c.base, sub))
}

func (s *server) listSubscriptions(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	subs, err := s.IAM.EventStreams().Subscriptions(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, subs, func(s store.EventSubscription) string { return s.ID }, func(page []store.EventSubscription, next *string) any {
		out := make([]subscriptionJSON, len(page))
		for i, sub := range page {
			out[i] = subscriptionOut(c.base, sub)
		}
		return map[string]any{"event_subscriptions": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getSubscription(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	sub, err := s.IAM.EventStreams().Subscription(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subscriptionOut(c.base, sub))
}

func (s *server) updateSubscription(w http.ResponseWriter, r *http.Request, c *call) error {
	id := pathID(r)
	var in subscriptionUpdate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != id {
		return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
	}
	u := eventstream.SubscriptionUpdate{Description: in.Description, Metadata: in.Metadata, DestinationIDs: in.DestinationIDs}
	if in.Sources != nil {
		types := typesOf(*in.Sources)
		u.Types = &types
	}
	if u.Description == nil && u.Metadata == nil && u.Types == nil && u.DestinationIDs == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
	}
	sub, err := s.IAM.EventStreams().UpdateSubscription(r.Context(), c.principal, id, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, subscriptionOut(c.base, sub))
}

func (s *server) deleteSubscription(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if err := s.IAM.EventStreams().DeleteSubscription(r.Context(), c.principal, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// The sources of a subscription as a resource of their own: ngrok's EventSources.

func sourceOut(base, subID, eventType string) sourceJSON {
	return sourceJSON{Type: eventType, URI: base + "/event_subscriptions/" + subID + "/sources/" + url.PathEscape(eventType)}
}

// sourceCreate is ngrok's EventSourceCreate: its client repeats the subscription's ID in the
// body.
type sourceCreate struct {
	SubscriptionID string `json:"subscription_id"`
	Type           string `json:"type"`
}

func (s *server) createSource(w http.ResponseWriter, r *http.Request, c *call) error {
	var in sourceCreate
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.SubscriptionID != "" && in.SubscriptionID != pathID(r) {
		return paramError(http.StatusBadRequest, codeInvalidValue, "subscription_id", "The subscription_id in the body does not match the id in the path.")
	}
	sub, err := s.IAM.EventStreams().AddSource(r.Context(), c.principal, pathID(r), in.Type)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, sourceOut(c.base, sub.ID, in.Type))
}

func (s *server) listSources(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	sub, err := s.IAM.EventStreams().Subscription(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	out := make([]sourceJSON, len(sub.Types))
	for i, t := range sub.Types {
		out[i] = sourceOut(c.base, sub.ID, t)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sources": out, "uri": c.base + r.URL.Path})
}

func (s *server) getSource(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	sub, err := s.IAM.EventStreams().Subscription(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	t := r.PathValue("type")
	if !slices.Contains(sub.Types, t) {
		return errNotFound()
	}
	return writeJSON(w, http.StatusOK, sourceOut(c.base, sub.ID, t))
}

func (s *server) deleteSource(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if _, err := s.IAM.EventStreams().RemoveSource(r.Context(), c.principal, pathID(r), r.PathValue("type")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
