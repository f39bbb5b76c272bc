package pgstore

import (
	"time"

	"github.com/iamkit/iamkit/store"
)

// streamTableDefs maps the tables of audit streaming (migration 7).
func streamTableDefs() map[store.Kind]*table {
	return map[store.Kind]*table{
		store.KindEventDestination: {
			name:    "event_destinations",
			columns: []string{"id", "account_id", "description", "metadata", "format", "url", "secret", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexAccount: {"account_id"}, store.IndexAll: {}},
			encode:  encodeEventDestination, scan: scanEventDestination,
		},
		store.KindEventSubscription: {
			name:    "event_subscriptions",
			columns: []string{"id", "account_id", "description", "metadata", "types", "destination_ids", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexAccount: {"account_id"}},
			encode:  encodeEventSubscription, scan: scanEventSubscription,
		},
		store.KindEventDelivery: {
			name:    "event_deliveries",
			columns: []string{"destination_id", "account_id", "cursor", "last_event_id", "holder", "held_until", "updated_at"},
			key:     []string{"destination_id"},
			encode:  encodeEventDelivery, scan: scanEventDelivery,
		},
		store.KindDeadLetter: {
			name:    "dead_letters",
			columns: []string{"id", "account_id", "destination_id", "event_id", "attempts", "last_status", "last_error", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexDestination: {"account_id", "destination_id"}},
			encode:  encodeDeadLetter, scan: scanDeadLetter,
		},
	}
}

func encodeEventDestination(e *encoder, rec any) []any {
	d := record[store.EventDestination](e, rec)
	return []any{e.text("id", d.ID), e.text("account_id", d.AccountID), e.text("description", d.Description),
		e.text("metadata", d.Metadata), e.text("format", d.Format), e.text("url", d.URL), e.text("secret", d.Secret),
		e.time(d.CreatedAt)}
}

func scanEventDestination(row scanner) (any, error) {
	var d store.EventDestination
	var created *time.Time
	err := row.Scan(&d.ID, &d.AccountID, &d.Description, &d.Metadata, &d.Format, &d.URL, &d.Secret, &created)
	d.CreatedAt = utc(created)
	return d, err
}

func encodeEventSubscription(e *encoder, rec any) []any {
	s := record[store.EventSubscription](e, rec)
	return []any{e.text("id", s.ID), e.text("account_id", s.AccountID), e.text("description", s.Description),
		e.text("metadata", s.Metadata), e.texts("types", s.Types), e.texts("destination_ids", s.DestinationIDs),
		e.time(s.CreatedAt)}
}

func scanEventSubscription(row scanner) (any, error) {
	var s store.EventSubscription
	var created *time.Time
	err := row.Scan(&s.ID, &s.AccountID, &s.Description, &s.Metadata, &s.Types, &s.DestinationIDs, &created)
	s.CreatedAt = utc(created)
	return s, err
}

func encodeEventDelivery(e *encoder, rec any) []any {
	d := record[store.EventDelivery](e, rec)
	return []any{e.text("destination_id", d.DestinationID), e.text("account_id", d.AccountID),
		e.text("cursor", string(d.Cursor)), e.text("last_event_id", d.LastEventID), e.text("holder", d.Holder),
		e.time(d.HeldUntil), e.time(d.UpdatedAt)}
}

func scanEventDelivery(row scanner) (any, error) {
	var d store.EventDelivery
	var held, updated *time.Time
	err := row.Scan(&d.DestinationID, &d.AccountID, &d.Cursor, &d.LastEventID, &d.Holder, &held, &updated)
	d.HeldUntil, d.UpdatedAt = utc(held), utc(updated)
	return d, err
}

func encodeDeadLetter(e *encoder, rec any) []any {
	l := record[store.DeadLetter](e, rec)
	return []any{e.text("id", l.ID), e.text("account_id", l.AccountID), e.text("destination_id", l.DestinationID),
		e.text("event_id", l.EventID), l.Attempts, l.LastStatus, e.text("last_error", l.LastError), e.time(l.CreatedAt)}
}

func scanDeadLetter(row scanner) (any, error) {
	var l store.DeadLetter
	var created *time.Time
	err := row.Scan(&l.ID, &l.AccountID, &l.DestinationID, &l.EventID, &l.Attempts, &l.LastStatus, &l.LastError, &created)
	l.CreatedAt = utc(created)
	return l, err
}
