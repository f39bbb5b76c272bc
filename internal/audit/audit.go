package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Object is what an event records: a resource's public representation, such as
// identity.MemberObject or botuser.BotUserObject, which names its resource. R is
// identity.Resource; this package cannot name it (identity records through it).
type Object[R ~string] interface {
	Resource() R
}

// Recorder writes events. Every field is required. It is safe for concurrent use (the
// Generator and Clock are).
type Recorder[R ~string] struct {
	IDs   *id.Generator
	Clock store.Clock
	// ResourceOf is identity.ResourceOf: the resource events of a type are about, or "" for
	// a type iamkit does not write.
	ResourceOf func(store.EventType) R
}

// New returns a Recorder.
func New[R ~string](ids *id.Generator, c store.Clock, resourceOf func(store.EventType) R) Recorder[R] {
	return Recorder[R]{IDs: ids, Clock: c, ResourceOf: resourceOf}
}

// Record appends one event of type t to accountID's log inside tx, attributed to by. obj is
// the resource after the change in its public representation. Record fails, aborting the
// transaction, for a type iamkit does not write, for an object about another resource than
// t's, for an object that does not encode as a JSON object, and on the store's errors.
func (r Recorder[R]) Record(ctx context.Context, tx store.Tx, accountID string, t store.EventType, by store.Principal, obj Object[R]) error {
	eid, err := r.IDs.NewIn(id.Event, accountID)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", t, err)
	}
	return r.RecordAs(ctx, tx, eid, accountID, t, by, obj)
}

// RecordAs is Record of an event whose ID the caller made (with IDs, in accountID), for a
// transaction that must name its own event: a new event destination starts delivering
// after the event that records its creation.
func (r Recorder[R]) RecordAs(ctx context.Context, tx store.Tx, eventID, accountID string, t store.EventType, by store.Principal, obj Object[R]) error {
	if obj == nil {
		return fmt.Errorf("audit: %s: no object", t)
	}
	want := r.ResourceOf(t)
	if want == "" {
		return fmt.Errorf("audit: %s is not an event type iamkit writes", t)
	}
	if got := obj.Resource(); got != want {
		return fmt.Errorf("audit: %s: the object is a %s", t, got)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", t, err)
	}
	if !bytes.HasPrefix(raw, []byte("{")) {
		return fmt.Errorf("audit: %s: the object is not a JSON object", t)
	}
	return tx.AppendEvent(ctx, store.Event{
		ID:        eventID,
		AccountID: accountID,
		Type:      t,
		Principal: by,
		Object:    raw,
		CreatedAt: r.Clock.Now().UTC(),
	})
}
