package eventstream

import (
	"slices"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// DestinationObject is a destination as audit events record it and an API serves it: ngrok's
// EventDestination, whose target here is a webhook (iamkit's target type; ngrok's are cloud
// log services). The signing secret is never part of it.
type DestinationObject struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"created_at"`
	Metadata    string `json:"metadata"`
	Description string `json:"description"`
	Format      string `json:"format"`
	Target      Target `json:"target"`
}

// Target is where a destination sends events.
type Target struct {
	Webhook *WebhookTarget `json:"webhook,omitempty"`
}

// WebhookTarget is an HTTPS endpoint.
type WebhookTarget struct {
	URL string `json:"url"`
}

// Resource returns identity.ResourceEventDestination.
func (DestinationObject) Resource() identity.Resource { return identity.ResourceEventDestination }

// DestinationObjectOf returns the object of a destination.
func DestinationObjectOf(d store.EventDestination) DestinationObject {
	return DestinationObject{
		ID: d.ID, CreatedAt: identity.Timestamp(d.CreatedAt), Metadata: d.Metadata, Description: d.Description,
		Format: d.Format, Target: Target{Webhook: &WebhookTarget{URL: d.URL}},
	}
}

// SubscriptionObject is a subscription as audit events record it: ngrok's
// EventSubscription, with sources by type and destinations by ID.
type SubscriptionObject struct {
	ID           string   `json:"id"`
	CreatedAt    string   `json:"created_at"`
	Metadata     string   `json:"metadata"`
	Description  string   `json:"description"`
	Sources      []Source `json:"sources"`
	Destinations []Ref    `json:"destinations"`
}

// Source is one event type a subscription selects.
type Source struct {
	Type string `json:"type"`
}

// Ref names a destination.
type Ref struct {
	ID string `json:"id"`
}

// Resource returns identity.ResourceEventSubscription.
func (SubscriptionObject) Resource() identity.Resource { return identity.ResourceEventSubscription }

// SubscriptionObjectOf returns the object of a subscription.
func SubscriptionObjectOf(s store.EventSubscription) SubscriptionObject {
	o := SubscriptionObject{
		ID: s.ID, CreatedAt: identity.Timestamp(s.CreatedAt), Metadata: s.Metadata, Description: s.Description,
		Sources: make([]Source, 0, len(s.Types)), Destinations: make([]Ref, 0, len(s.DestinationIDs)),
	}
	for _, t := range s.Types {
		o.Sources = append(o.Sources, Source{Type: t})
	}
	for _, d := range s.DestinationIDs {
		o.Destinations = append(o.Destinations, Ref{ID: d})
	}
	return o
}

// selects reports whether subscriptions send events of type t to destination destID.
func selects(subs []store.EventSubscription, destID string, t store.EventType) bool {
	for _, s := range subs {
		if slices.Contains(s.DestinationIDs, destID) && slices.Contains(s.Types, string(t)) {
			return true
		}
	}
	return false
}
