package store

import (
	"context"
	"slices"
	"time"
)

// Audit streaming: the records that say where an account's audit events go (destinations),
// which events go there (subscriptions), how far delivery to each destination has come (its
// durable cursor on the change feed) and which events it gave up on (dead letters). Package
// rbac/eventstream gives them their meaning; the store keeps them and their indexes, and
// checks that a subscription names destinations of its own account.

// The record kinds of audit streaming.
const (
	KindEventDestination  Kind = "event_destination"
	KindEventSubscription Kind = "event_subscription"
	KindEventDelivery     Kind = "event_delivery"
	KindDeadLetter        Kind = "dead_letter"
)

// IndexDestination lists an account's dead letters by destination.
const IndexDestination = "destination"

// Limits of the audit streaming records.
const (
	MaxWebhookURLLen           = 2048 // bytes, EventDestination.URL
	MaxSubscriptionTypes       = 64   // entries of EventSubscription.Types
	MaxEventTypeLen            = 64   // bytes, one entry of EventSubscription.Types
	MaxSubscriptionDestination = 16   // entries of EventSubscription.DestinationIDs
	MaxDeliveryErrorLen        = 255  // bytes, DeadLetter.LastError
	MaxCursorLen               = 8192 // bytes, EventDelivery.Cursor
)

// EventDestination is where an account's audit events are delivered: an HTTPS webhook. Secret
// is the key its deliveries are signed with (HMAC-SHA256); unlike a token's it is kept as
// is, since signing needs it.
type EventDestination struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Description string    `json:"description,omitempty"`
	Metadata    string    `json:"metadata,omitempty"`
	Format      string    `json:"format"` // "json"
	URL         string    `json:"url"`
	Secret      string    `json:"secret"`
	CreatedAt   time.Time `json:"created_at"`
}

// EventSubscription sends the events of the listed types to the listed destinations, all of
// its own account.
type EventSubscription struct {
	ID             string    `json:"id"`
	AccountID      string    `json:"account_id"`
	Description    string    `json:"description,omitempty"`
	Metadata       string    `json:"metadata,omitempty"`
	Types          []string  `json:"types"`
	DestinationIDs []string  `json:"destination_ids"`
	CreatedAt      time.Time `json:"created_at"`
}

// EventDelivery is how far delivery to one destination has come: every event committed
// before Cursor has been delivered or dead-lettered, and LastEventID is the last event it
// handled (where delivery resumes from the audit log when the feed no longer holds Cursor).
// Its key is the destination's ID. Holder names the delivery worker that holds the
// destination until HeldUntil (a lease, so that one of several workers delivers).
type EventDelivery struct {
	DestinationID string    `json:"destination_id"`
	AccountID     string    `json:"account_id"`
	Cursor        Cursor    `json:"cursor"`
	LastEventID   string    `json:"last_event_id,omitempty"`
	Holder        string    `json:"holder,omitempty"`
	HeldUntil     time.Time `json:"held_until,omitzero"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// DeadLetter is an event whose delivery to a destination failed every try.
type DeadLetter struct {
	ID            string    `json:"id"`
	AccountID     string    `json:"account_id"`
	DestinationID string    `json:"destination_id"`
	EventID       string    `json:"event_id"`
	Attempts      int       `json:"attempts"`
	LastStatus    int       `json:"last_status,omitempty"` // the receiver's last HTTP status, 0 for none
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// streamTables are the tables of audit streaming, for Schema.
func streamTables() []Table {
	return []Table{
		newTable(KindEventDestination, false, func(d *EventDestination) string { return d.ID }, func(d *EventDestination) string { return d.AccountID }, nil, EventDestination.clone,
			listing(IndexAccount, false, func(d *EventDestination) ([]string, bool) { return []string{d.AccountID}, true }),
			listing(IndexAll, true, func(*EventDestination) ([]string, bool) { return []string{}, true })),
		newTable(KindEventSubscription, false, func(s *EventSubscription) string { return s.ID }, func(s *EventSubscription) string { return s.AccountID }, nil, EventSubscription.Clone,
			listing(IndexAccount, false, func(s *EventSubscription) ([]string, bool) { return []string{s.AccountID}, true })),
		newTable(KindEventDelivery, false, func(d *EventDelivery) string { return d.DestinationID }, func(d *EventDelivery) string { return d.AccountID }, nil, EventDelivery.clone),
		newTable(KindDeadLetter, false, func(l *DeadLetter) string { return l.ID }, func(l *DeadLetter) string { return l.AccountID }, nil, DeadLetter.clone,
			listing(IndexDestination, false, func(l *DeadLetter) ([]string, bool) { return []string{l.AccountID, l.DestinationID}, true })),
	}
}

// Validate checks an EventDestination.
func (d EventDestination) Validate() error {
	if err := firstError(
		required("event_destination.id", d.ID),
		required("event_destination.account_id", d.AccountID),
		required("event_destination.url", d.URL),
		maxLen("event_destination.url", d.URL, MaxWebhookURLLen),
		required("event_destination.secret", d.Secret),
		maxLen("event_destination.secret", d.Secret, MaxSecretLen),
		maxLen("event_destination.description", d.Description, MaxDescriptionLen),
		maxLen("event_destination.metadata", d.Metadata, MaxMetadataLen),
	); err != nil {
		return err
	}
	if d.Format != "json" {
		return Invalid("event_destination.format", CodeInvalidValue, 0, `must be "json"`)
	}
	return nil
}

// Validate checks an EventSubscription.
func (s EventSubscription) Validate() error {
	if err := firstError(
		required("event_subscription.id", s.ID),
		required("event_subscription.account_id", s.AccountID),
		maxLen("event_subscription.description", s.Description, MaxDescriptionLen),
		maxLen("event_subscription.metadata", s.Metadata, MaxMetadataLen),
	); err != nil {
		return err
	}
	if len(s.Types) > MaxSubscriptionTypes {
		return Invalid("event_subscription.types", CodeTooLong, MaxSubscriptionTypes, "%d entries at most", MaxSubscriptionTypes)
	}
	for _, t := range s.Types {
		if err := firstError(required("event_subscription.types", t), maxLen("event_subscription.types", t, MaxEventTypeLen)); err != nil {
			return err
		}
	}
	if len(s.DestinationIDs) > MaxSubscriptionDestination {
		return Invalid("event_subscription.destination_ids", CodeTooLong, MaxSubscriptionDestination, "%d entries at most", MaxSubscriptionDestination)
	}
	for _, d := range s.DestinationIDs {
		if err := required("event_subscription.destination_ids", d); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks an EventDelivery.
func (d EventDelivery) Validate() error {
	return firstError(
		required("event_delivery.destination_id", d.DestinationID),
		required("event_delivery.account_id", d.AccountID),
		maxLen("event_delivery.cursor", string(d.Cursor), MaxCursorLen),
		maxLen("event_delivery.holder", d.Holder, MaxTagLen),
	)
}

// Validate checks a DeadLetter.
func (l DeadLetter) Validate() error {
	return firstError(
		required("dead_letter.id", l.ID),
		required("dead_letter.account_id", l.AccountID),
		required("dead_letter.destination_id", l.DestinationID),
		required("dead_letter.event_id", l.EventID),
		notNegative("dead_letter.attempts", l.Attempts),
		maxLen("dead_letter.last_error", l.LastError, MaxDeliveryErrorLen),
	)
}

func (d EventDestination) clone() EventDestination { return d }

// Clone returns a deep copy of s.
func (s EventSubscription) Clone() EventSubscription {
	s.Types = slices.Clone(s.Types)
	s.DestinationIDs = slices.Clone(s.DestinationIDs)
	return s
}

func (d EventDelivery) clone() EventDelivery { return d }

func (l DeadLetter) clone() DeadLetter { return l }

// StreamReader reads the records of audit streaming. Reader includes it.
type StreamReader interface {
	// Event returns one audit event.
	Event(ctx context.Context, id string) (Event, error)
	// EventsAfter lists an account's audit events oldest first (ascending ID), starting
	// above afterID (from the oldest when empty), at most limit (1 to MaxPageLimit).
	EventsAfter(ctx context.Context, accountID, afterID string, limit int) ([]Event, error)
	EventDestination(ctx context.Context, id string) (EventDestination, error)
	EventDestinations(ctx context.Context, accountID string, p Page) ([]EventDestination, error)
	// EveryEventDestination lists the destinations of every account, by descending ID;
	// Page.BeforeID is a destination ID. A delivery worker pages through it when it starts.
	EveryEventDestination(ctx context.Context, p Page) ([]EventDestination, error)
	EventSubscription(ctx context.Context, id string) (EventSubscription, error)
	EventSubscriptions(ctx context.Context, accountID string, p Page) ([]EventSubscription, error)
	// EventDelivery returns a destination's delivery position.
	EventDelivery(ctx context.Context, destinationID string) (EventDelivery, error)
	DeadLetter(ctx context.Context, id string) (DeadLetter, error)
	// DeadLetters lists a destination's dead letters, newest first; Page.BeforeID is a dead
	// letter ID.
	DeadLetters(ctx context.Context, accountID, destinationID string, p Page) ([]DeadLetter, error)
}

// StreamWriter writes the records of audit streaming. Tx includes it.
type StreamWriter interface {
	// PutEventDestination writes a destination; its AccountID is fixed at creation.
	PutEventDestination(ctx context.Context, d EventDestination) error
	DeleteEventDestination(ctx context.Context, id string) error
	// PutEventSubscription writes a subscription; its AccountID is fixed at creation and
	// every destination it names must be a destination of its account (ErrInvalid, field
	// event_subscription.destination_ids, otherwise).
	PutEventSubscription(ctx context.Context, s EventSubscription) error
	DeleteEventSubscription(ctx context.Context, id string) error
	// PutEventDelivery writes a destination's delivery position; the destination must exist
	// in the account.
	PutEventDelivery(ctx context.Context, d EventDelivery) error
	DeleteEventDelivery(ctx context.Context, destinationID string) error
	PutDeadLetter(ctx context.Context, l DeadLetter) error
	DeleteDeadLetter(ctx context.Context, id string) error
}

func (r *reader) Event(ctx context.Context, id string) (Event, error) {
	return get[Event](ctx, r.ops, KindEvent, id)
}

func (r *reader) EventsAfter(ctx context.Context, accountID, afterID string, limit int) ([]Event, error) {
	if err := (Page{Limit: limit}).Validate(); err != nil {
		return nil, err
	}
	recs, err := r.ops.ListAscending(ctx, KindEvent, IndexAccount, []string{accountID}, afterID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(recs))
	for i, rec := range recs {
		if out[i], err = as[Event](KindEvent, rec); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *reader) EventDestination(ctx context.Context, id string) (EventDestination, error) {
	return get[EventDestination](ctx, r.ops, KindEventDestination, id)
}

func (r *reader) EventDestinations(ctx context.Context, accountID string, p Page) ([]EventDestination, error) {
	return list[EventDestination](ctx, r.ops, KindEventDestination, IndexAccount, []string{accountID}, p)
}

func (r *reader) EveryEventDestination(ctx context.Context, p Page) ([]EventDestination, error) {
	return list[EventDestination](ctx, r.ops, KindEventDestination, IndexAll, []string{}, p)
}

func (r *reader) EventSubscription(ctx context.Context, id string) (EventSubscription, error) {
	return get[EventSubscription](ctx, r.ops, KindEventSubscription, id)
}

func (r *reader) EventSubscriptions(ctx context.Context, accountID string, p Page) ([]EventSubscription, error) {
	return list[EventSubscription](ctx, r.ops, KindEventSubscription, IndexAccount, []string{accountID}, p)
}

func (r *reader) EventDelivery(ctx context.Context, destinationID string) (EventDelivery, error) {
	return get[EventDelivery](ctx, r.ops, KindEventDelivery, destinationID)
}

func (r *reader) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	return get[DeadLetter](ctx, r.ops, KindDeadLetter, id)
}

func (r *reader) DeadLetters(ctx context.Context, accountID, destinationID string, p Page) ([]DeadLetter, error) {
	return list[DeadLetter](ctx, r.ops, KindDeadLetter, IndexDestination, []string{accountID, destinationID}, p)
}

func (w *writer) PutEventDestination(ctx context.Context, d EventDestination) error {
	if err := d.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[EventDestination](ctx, w.ops, KindEventDestination, d.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindEventDestination, prev.AccountID, d.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindEventDestination, d)
}

func (w *writer) DeleteEventDestination(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindEventDestination, id)
}

func (w *writer) PutEventSubscription(ctx context.Context, s EventSubscription) error {
	if err := s.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[EventSubscription](ctx, w.ops, KindEventSubscription, s.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindEventSubscription, prev.AccountID, s.AccountID); err != nil {
			return err
		}
	}
	for _, did := range s.DestinationIDs {
		if err := w.checkDestinationIn(ctx, s.AccountID, did, "event_subscription.destination_ids"); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindEventSubscription, s)
}

// checkDestinationIn returns an ErrInvalid error naming field unless destinationID is a
// destination of accountID.
func (w *writer) checkDestinationIn(ctx context.Context, accountID, destinationID, field string) error {
	d, err := get[EventDestination](ctx, w.ops, KindEventDestination, destinationID)
	switch {
	case isNotFound(err) || (err == nil && d.AccountID != accountID):
		return Invalid(field, CodeInvalidValue, 0, "not an event destination of the account")
	case err != nil:
		return err
	}
	return nil
}

func (w *writer) DeleteEventSubscription(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindEventSubscription, id)
}

func (w *writer) PutEventDelivery(ctx context.Context, d EventDelivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if err := w.checkDestinationIn(ctx, d.AccountID, d.DestinationID, "event_delivery.destination_id"); err != nil {
		return err
	}
	return w.w.Put(ctx, KindEventDelivery, d)
}

func (w *writer) DeleteEventDelivery(ctx context.Context, destinationID string) error {
	return w.w.Delete(ctx, KindEventDelivery, destinationID)
}

func (w *writer) PutDeadLetter(ctx context.Context, l DeadLetter) error {
	if err := l.Validate(); err != nil {
		return err
	}
	prev, found, err := previous[DeadLetter](ctx, w.ops, KindDeadLetter, l.ID)
	if err != nil {
		return err
	}
	if found {
		if err := checkAccountFixed(KindDeadLetter, prev.AccountID, l.AccountID); err != nil {
			return err
		}
	}
	return w.w.Put(ctx, KindDeadLetter, l)
}

func (w *writer) DeleteDeadLetter(ctx context.Context, id string) error {
	return w.w.Delete(ctx, KindDeadLetter, id)
}
