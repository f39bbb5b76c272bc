package eventstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Limits per account and destination.
const (
	MaxDestinations  = 10  // destinations per account
	MaxSubscriptions = 50  // subscriptions per account
	MaxDeadLetters   = 100 // dead letters per destination: past it, delivery to the destination pauses
)

// The codes of this package's errors, besides the store's and rbac's.
const (
	// CodeUnknownEventType: a subscription names an event type iamkit does not write
	// (store.ErrInvalid, Field "sources[i].type").
	CodeUnknownEventType = "unknown_event_type"
	// CodeDeliveryFailed: replaying a dead letter failed; it stays (store.ErrUnavailable).
	CodeDeliveryFailed = "delivery_failed"
	// CodeEventGone: a dead letter's event was pruned from the audit log (store.ErrNotFound).
	CodeEventGone = "event_gone"
	// CodeDestinationLimit and CodeSubscriptionLimit: the account has MaxDestinations,
	// respectively MaxSubscriptions, already (store.ErrLimitExceeded, Limit set).
	CodeDestinationLimit  = "destination_limit"
	CodeSubscriptionLimit = "subscription_limit"
)

// Service manages an account's event destinations, subscriptions and dead letters. Every
// call needs rbac.AccountManage (administrators). It is safe for concurrent use.
type Service struct {
	st    store.Store
	authz *rbac.Authorizer
	cfg   *config
	ids   *id.Generator
	rec   audit.Recorder[identity.Resource]
	send  *sender
}

// New returns a Service over st that authorizes with authz.
func New(st store.Store, authz *rbac.Authorizer, opts ...Option) (*Service, error) {
	switch {
	case st == nil:
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	case authz == nil:
		return nil, store.Invalid("authorizer", store.CodeRequired, 0, "required")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ids := id.NewGenerator(c.clock, c.rand)
	return &Service{st: st, authz: authz, cfg: c, ids: ids, rec: audit.New(ids, c.clock, identity.ResourceOf), send: newSender(c)}, nil
}

// DestinationParams describes a new destination, like ngrok's EventDestinationCreate.
type DestinationParams struct {
	Description string
	Metadata    string
	Format      string // "json", the default
	URL         string // https (see WithLoopback)
}

// DestinationUpdate changes a destination: nil fields are left alone.
type DestinationUpdate struct {
	Description *string
	Metadata    *string
	Format      *string
	URL         *string
}

// SubscriptionParams describes a new subscription, like ngrok's EventSubscriptionCreate.
type SubscriptionParams struct {
	Description    string
	Metadata       string
	Types          []string // event types (identity.EventTypes)
	DestinationIDs []string // destinations of the account
}

// SubscriptionUpdate changes a subscription: nil fields are left alone.
type SubscriptionUpdate struct {
	Description    *string
	Metadata       *string
	Types          *[]string
	DestinationIDs *[]string
}

// permit checks that by may manage streaming in its account, inside tx.
func (s *Service) permit(ctx context.Context, r store.Reader, by identity.Principal) error {
	return s.authz.RequireIn(ctx, r, by, rbac.AccountManage)
}

// CreateDestination creates a destination in by's account and returns it (without its
// secret) with its signing secret, which is shown this once.
func (s *Service) CreateDestination(ctx context.Context, by identity.Principal, p DestinationParams) (store.EventDestination, SigningSecret, error) {
	if err := by.Validate(); err != nil {
		return store.EventDestination{}, SigningSecret{}, err
	}
	p.Format = strings.ToLower(p.Format) // ngrok documents "JSON" and answers "json"
	if p.Format == "" {
		p.Format = "json"
	}
	if err := s.checkDestination(p.Format, p.URL); err != nil {
		return store.EventDestination{}, SigningSecret{}, err
	}
	did, err := s.ids.NewIn(id.EventDestination, by.AccountID)
	if err != nil {
		return store.EventDestination{}, SigningSecret{}, err
	}
	secret, err := s.newSecret()
	if err != nil {
		return store.EventDestination{}, SigningSecret{}, err
	}
	d := store.EventDestination{ID: did, AccountID: by.AccountID, Description: p.Description, Metadata: p.Metadata,
		Format: p.Format, URL: p.URL, Secret: secret}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.permit(ctx, tx, by); err != nil {
			return err
		}
		have, err := tx.EventDestinations(ctx, by.AccountID, store.Page{Limit: MaxDestinations})
		if err != nil {
			return err
		}
		if len(have) >= MaxDestinations {
			return &store.Error{Kind: store.ErrLimitExceeded, Code: CodeDestinationLimit, Limit: MaxDestinations,
				Msg: fmt.Sprintf("an account has at most %d event destinations", MaxDestinations)}
		}
		d.CreatedAt = s.cfg.clock.Now().UTC()
		if err := tx.PutEventDestination(ctx, d); err != nil {
			return fieldsOf(err)
		}
		// Delivery starts after the event of the destination's creation, from the log.
		eid, err := s.ids.NewIn(id.Event, by.AccountID)
		if err != nil {
			return err
		}
		start := store.EventDelivery{DestinationID: d.ID, AccountID: d.AccountID, LastEventID: eid, UpdatedAt: d.CreatedAt}
		if err := tx.PutEventDelivery(ctx, start); err != nil {
			return err
		}
		return s.rec.RecordAs(ctx, tx, eid, by.AccountID, identity.EventEventDestinationCreated, by.Audit(), DestinationObjectOf(d))
	})
	if err != nil {
		return store.EventDestination{}, SigningSecret{}, err
	}
	d.Secret = ""
	return d, SigningSecret{&secret}, nil
}

func (s *Service) checkDestination(format, url string) error {
	if format != "json" {
		return store.Invalid("format", store.CodeInvalidValue, 0, `must be "json"`)
	}
	return checkURL(url, s.cfg.loopback)
}

// newSecret returns "whsec_" and 32 random bytes in unpadded base64url.
func (s *Service) newSecret() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.cfg.rand, b[:]); err != nil {
		return "", fmt.Errorf("eventstream: reading randomness: %w", err)
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// fieldsOf renames the store's fields of a destination or subscription to the API's.
func fieldsOf(err error) error {
	se, ok := err.(*store.Error)
	if !ok {
		return err
	}
	out := *se
	switch se.Field {
	case "event_destination.url":
		out.Field = "target.webhook.url"
	case "event_destination.description", "event_subscription.description":
		out.Field = "description"
	case "event_destination.metadata", "event_subscription.metadata":
		out.Field = "metadata"
	case "event_subscription.types":
		out.Field = "sources"
	case "event_subscription.destination_ids":
		out.Field = "destination_ids"
	}
	return &out
}

// UpdateDestination changes a destination of by's account. Delivery picks the change up
// from the next event on.
func (s *Service) UpdateDestination(ctx context.Context, by identity.Principal, destID string, u DestinationUpdate) (store.EventDestination, error) {
	if err := s.checkIDArg(by, "id", destID, id.EventDestination); err != nil {
		return store.EventDestination{}, err
	}
	var d store.EventDestination
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if d, err = s.destination(ctx, tx, by, destID); err != nil {
			return err
		}
		set(&d.Description, u.Description)
		set(&d.Metadata, u.Metadata)
		set(&d.Format, u.Format)
		d.Format = strings.ToLower(d.Format)
		set(&d.URL, u.URL)
		if err := s.checkDestination(d.Format, d.URL); err != nil {
			return err
		}
		if err := tx.PutEventDestination(ctx, d); err != nil {
			return fieldsOf(err)
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventEventDestinationUpdated, by.Audit(), DestinationObjectOf(d))
	})
	d.Secret = ""
	return d, err
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Service) checkIDArg(by identity.Principal, field, v string, want id.Prefix) error {
	if err := by.Validate(); err != nil {
		return err
	}
	return id.CheckArg(field, v, want)
}

// destination reads a destination of by's account, after checking by's permission; one of
// another account is not found.
func (s *Service) destination(ctx context.Context, r store.Reader, by identity.Principal, destID string) (store.EventDestination, error) {
	if err := s.permit(ctx, r, by); err != nil {
		return store.EventDestination{}, err
	}
	d, err := r.EventDestination(ctx, destID)
	if err == nil && d.AccountID != by.AccountID {
		err = store.NewError(store.ErrNotFound, "not_found", "no such event destination")
	}
	return d, err
}

// DeleteDestination deletes a destination of by's account with its delivery position and
// dead letters, and takes it out of the subscriptions that name it (each recorded as
// updated).
func (s *Service) DeleteDestination(ctx context.Context, by identity.Principal, destID string) error {
	if err := s.checkIDArg(by, "id", destID, id.EventDestination); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		d, err := s.destination(ctx, tx, by, destID)
		if err != nil {
			return err
		}
		if err := s.unsubscribe(ctx, tx, by, destID); err != nil {
			return err
		}
		dead, err := tx.DeadLetters(ctx, d.AccountID, d.ID, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, l := range dead {
			if err := tx.DeleteDeadLetter(ctx, l.ID); err != nil {
				return err
			}
		}
		if err := tx.DeleteEventDelivery(ctx, d.ID); err != nil && !isNotFound(err) {
			return err
		}
		if err := tx.DeleteEventDestination(ctx, d.ID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventEventDestinationDeleted, by.Audit(), DestinationObjectOf(d))
	})
}

func (s *Service) unsubscribe(ctx context.Context, tx store.Tx, by identity.Principal, destID string) error {
	subs, err := tx.EventSubscriptions(ctx, by.AccountID, store.Page{Limit: MaxSubscriptions})
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if !slices.Contains(sub.DestinationIDs, destID) {
			continue
		}
		sub.DestinationIDs = slices.DeleteFunc(slices.Clone(sub.DestinationIDs), func(d string) bool { return d == destID })
		if err := tx.PutEventSubscription(ctx, sub); err != nil {
			return err
		}
		if err := s.rec.Record(ctx, tx, by.AccountID, identity.EventEventSubscriptionUpdated, by.Audit(), SubscriptionObjectOf(sub)); err != nil {
			return err
		}
	}
	return nil
}

// Destination returns a destination of by's account, without its secret.
func (s *Service) Destination(ctx context.Context, by identity.Principal, destID string) (store.EventDestination, error) {
	if err := s.checkIDArg(by, "id", destID, id.EventDestination); err != nil {
		return store.EventDestination{}, err
	}
	var d store.EventDestination
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		d, err = s.destination(ctx, r, by, destID)
		return err
	})
	d.Secret = ""
	return d, err
}

// Destinations lists the destinations of by's account, newest first, without secrets.
func (s *Service) Destinations(ctx context.Context, by identity.Principal, p store.Page) ([]store.EventDestination, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.EventDestination); err != nil {
		return nil, err
	}
	var out []store.EventDestination
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.permit(ctx, r, by); err != nil {
			return err
		}
		var err error
		out, err = r.EventDestinations(ctx, by.AccountID, p)
		return err
	})
	for i := range out {
		out[i].Secret = ""
	}
	return out, err
}

// checkTypes returns an error unless every type is one iamkit writes, listed once.
func checkTypes(types []string) error {
	if len(types) > store.MaxSubscriptionTypes {
		return store.Invalid("sources", store.CodeTooLong, store.MaxSubscriptionTypes, "%d event types at most", store.MaxSubscriptionTypes)
	}
	for i, t := range types {
		if identity.ResourceOf(store.EventType(t)) == "" {
			return store.Invalid(fmt.Sprintf("sources[%d].type", i), CodeUnknownEventType, 0, "not an event type iamkit writes")
		}
		if slices.Contains(types[:i], t) {
			return store.Invalid(fmt.Sprintf("sources[%d].type", i), store.CodeInvalidValue, 0, "listed twice")
		}
	}
	return nil
}

func checkDestinationIDs(ids []string) error {
	for i, d := range ids {
		if err := id.CheckArg(fmt.Sprintf("destination_ids[%d]", i), d, id.EventDestination); err != nil {
			return err
		}
	}
	return nil
}

// CreateSubscription creates a subscription in by's account.
func (s *Service) CreateSubscription(ctx context.Context, by identity.Principal, p SubscriptionParams) (store.EventSubscription, error) {
	if err := by.Validate(); err != nil {
		return store.EventSubscription{}, err
	}
	if err := firstErr(checkTypes(p.Types), checkDestinationIDs(p.DestinationIDs)); err != nil {
		return store.EventSubscription{}, err
	}
	sid, err := s.ids.NewIn(id.EventSubscription, by.AccountID)
	if err != nil {
		return store.EventSubscription{}, err
	}
	sub := store.EventSubscription{ID: sid, AccountID: by.AccountID, Description: p.Description, Metadata: p.Metadata,
		Types: slices.Clone(p.Types), DestinationIDs: slices.Clone(p.DestinationIDs)}
	if sub.Types == nil {
		sub.Types = []string{}
	}
	if sub.DestinationIDs == nil {
		sub.DestinationIDs = []string{}
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.permit(ctx, tx, by); err != nil {
			return err
		}
		have, err := tx.EventSubscriptions(ctx, by.AccountID, store.Page{Limit: MaxSubscriptions})
		if err != nil {
			return err
		}
		if len(have) >= MaxSubscriptions {
			return &store.Error{Kind: store.ErrLimitExceeded, Code: CodeSubscriptionLimit, Limit: MaxSubscriptions,
				Msg: fmt.Sprintf("an account has at most %d event subscriptions", MaxSubscriptions)}
		}
		sub.CreatedAt = s.cfg.clock.Now().UTC()
		if err := tx.PutEventSubscription(ctx, sub); err != nil {
			return fieldsOf(err)
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventEventSubscriptionCreated, by.Audit(), SubscriptionObjectOf(sub))
	})
	if err != nil {
		return store.EventSubscription{}, err
	}
	return sub, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// subscription reads a subscription of by's account, after checking by's permission.
func (s *Service) subscription(ctx context.Context, r store.Reader, by identity.Principal, subID string) (store.EventSubscription, error) {
	if err := s.permit(ctx, r, by); err != nil {
		return store.EventSubscription{}, err
	}
	sub, err := r.EventSubscription(ctx, subID)
	if err == nil && sub.AccountID != by.AccountID {
		err = store.NewError(store.ErrNotFound, "not_found", "no such event subscription")
	}
	return sub, err
}

// UpdateSubscription changes a subscription of by's account.
func (s *Service) UpdateSubscription(ctx context.Context, by identity.Principal, subID string, u SubscriptionUpdate) (store.EventSubscription, error) {
	if u.Types != nil {
		if err := checkTypes(*u.Types); err != nil {
			return store.EventSubscription{}, err
		}
	}
	if u.DestinationIDs != nil {
		if err := checkDestinationIDs(*u.DestinationIDs); err != nil {
			return store.EventSubscription{}, err
		}
	}
	return s.changeSubscription(ctx, by, subID, func(sub *store.EventSubscription) error {
		set(&sub.Description, u.Description)
		set(&sub.Metadata, u.Metadata)
		if u.Types != nil {
			sub.Types = append([]string{}, *u.Types...)
		}
		if u.DestinationIDs != nil {
			sub.DestinationIDs = append([]string{}, *u.DestinationIDs...)
		}
		return nil
	})
}

// CodeSourceNotFound: RemoveSource names a type the subscription does not list
// (store.ErrNotFound).
const CodeSourceNotFound = "source_not_found"

// AddSource adds an event type to a subscription of by's account (ngrok's EventSources
// create); a type it lists already is ErrInvalid, field "type".
func (s *Service) AddSource(ctx context.Context, by identity.Principal, subID, eventType string) (store.EventSubscription, error) {
	return s.changeSubscription(ctx, by, subID, func(sub *store.EventSubscription) error {
		if slices.Contains(sub.Types, eventType) {
			return store.Invalid("type", store.CodeInvalidValue, 0, "the subscription lists this event type already")
		}
		types := append(slices.Clone(sub.Types), eventType)
		if err := checkTypes(types); err != nil {
			var se *store.Error
			if errors.As(err, &se) {
				named := *se
				named.Field = "type"
				return &named
			}
			return err
		}
		sub.Types = types
		return nil
	})
}

// RemoveSource removes an event type from a subscription of by's account.
func (s *Service) RemoveSource(ctx context.Context, by identity.Principal, subID, eventType string) (store.EventSubscription, error) {
	return s.changeSubscription(ctx, by, subID, func(sub *store.EventSubscription) error {
		i := slices.Index(sub.Types, eventType)
		if i < 0 {
			return store.NewError(store.ErrNotFound, CodeSourceNotFound, "the subscription does not list this event type")
		}
		sub.Types = slices.Delete(slices.Clone(sub.Types), i, i+1)
		return nil
	})
}

// changeSubscription applies change to a subscription of by's account and records it, in
// one transaction.
func (s *Service) changeSubscription(ctx context.Context, by identity.Principal, subID string, change func(*store.EventSubscription) error) (store.EventSubscription, error) {
	if err := s.checkIDArg(by, "id", subID, id.EventSubscription); err != nil {
		return store.EventSubscription{}, err
	}
	var sub store.EventSubscription
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if sub, err = s.subscription(ctx, tx, by, subID); err != nil {
			return err
		}
		if err := change(&sub); err != nil {
			return err
		}
		if err := tx.PutEventSubscription(ctx, sub); err != nil {
			return fieldsOf(err)
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventEventSubscriptionUpdated, by.Audit(), SubscriptionObjectOf(sub))
	})
	return sub, err
}

// DeleteSubscription deletes a subscription of by's account.
func (s *Service) DeleteSubscription(ctx context.Context, by identity.Principal, subID string) error {
	if err := s.checkIDArg(by, "id", subID, id.EventSubscription); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		sub, err := s.subscription(ctx, tx, by, subID)
		if err != nil {
			return err
		}
		if err := tx.DeleteEventSubscription(ctx, sub.ID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventEventSubscriptionDeleted, by.Audit(), SubscriptionObjectOf(sub))
	})
}

// Subscription returns a subscription of by's account.
func (s *Service) Subscription(ctx context.Context, by identity.Principal, subID string) (store.EventSubscription, error) {
	if err := s.checkIDArg(by, "id", subID, id.EventSubscription); err != nil {
		return store.EventSubscription{}, err
	}
	var sub store.EventSubscription
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		sub, err = s.subscription(ctx, r, by, subID)
		return err
	})
	return sub, err
}

// Subscriptions lists the subscriptions of by's account, newest first.
func (s *Service) Subscriptions(ctx context.Context, by identity.Principal, p store.Page) ([]store.EventSubscription, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.EventSubscription); err != nil {
		return nil, err
	}
	var out []store.EventSubscription
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.permit(ctx, r, by); err != nil {
			return err
		}
		var err error
		out, err = r.EventSubscriptions(ctx, by.AccountID, p)
		return err
	})
	return out, err
}

// DeadLetters lists a destination's dead letters, newest first.
func (s *Service) DeadLetters(ctx context.Context, by identity.Principal, destID string, p store.Page) ([]store.DeadLetter, error) {
	if err := s.checkIDArg(by, "id", destID, id.EventDestination); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.DeadLetter); err != nil {
		return nil, err
	}
	var out []store.DeadLetter
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := s.destination(ctx, r, by, destID); err != nil {
			return err
		}
		var err error
		out, err = r.DeadLetters(ctx, by.AccountID, destID, p)
		return err
	})
	return out, err
}

// deadLetter reads a dead letter of by's account with its destination.
func (s *Service) deadLetter(ctx context.Context, r store.Reader, by identity.Principal, letterID string) (store.DeadLetter, store.EventDestination, error) {
	if err := s.permit(ctx, r, by); err != nil {
		return store.DeadLetter{}, store.EventDestination{}, err
	}
	l, err := r.DeadLetter(ctx, letterID)
	if err == nil && l.AccountID != by.AccountID {
		err = store.NewError(store.ErrNotFound, "not_found", "no such dead letter")
	}
	if err != nil {
		return store.DeadLetter{}, store.EventDestination{}, err
	}
	d, err := r.EventDestination(ctx, l.DestinationID)
	return l, d, err
}

// ReplayDeadLetter delivers a dead letter's event to its destination again, once, now (out
// of order, by nature). On success the dead letter is deleted; on failure it stays with the
// try counted, and the error matches store.ErrUnavailable (code CodeDeliveryFailed). An
// event pruned from the audit log since cannot be replayed (store.ErrNotFound, code
// CodeEventGone).
func (s *Service) ReplayDeadLetter(ctx context.Context, by identity.Principal, letterID string) error {
	if err := s.checkIDArg(by, "id", letterID, id.DeadLetter); err != nil {
		return err
	}
	var (
		l  store.DeadLetter
		d  store.EventDestination
		ev store.Event
	)
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if l, d, err = s.deadLetter(ctx, r, by, letterID); err != nil {
			return err
		}
		ev, err = r.Event(ctx, l.EventID)
		if isNotFound(err) {
			return store.NewError(store.ErrNotFound, CodeEventGone, "the event was pruned from the audit log")
		}
		return err
	})
	if err != nil {
		return err
	}
	fail := s.send.send(ctx, d, ev)
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, _, err := s.deadLetter(ctx, tx, by, letterID); err != nil {
			return err
		}
		if fail == nil {
			return tx.DeleteDeadLetter(ctx, letterID)
		}
		l.Attempts++
		l.LastStatus, l.LastError = fail.status, fail.reason
		return tx.PutDeadLetter(ctx, l)
	})
	if err != nil || fail == nil {
		return err
	}
	return store.NewError(store.ErrUnavailable, CodeDeliveryFailed, "the receiver refused the event again: %s", fail.reason)
}

// DeleteDeadLetter discards a dead letter without delivering it.
func (s *Service) DeleteDeadLetter(ctx context.Context, by identity.Principal, letterID string) error {
	if err := s.checkIDArg(by, "id", letterID, id.DeadLetter); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, _, err := s.deadLetter(ctx, tx, by, letterID); err != nil {
			return err
		}
		return tx.DeleteDeadLetter(ctx, letterID)
	})
}
