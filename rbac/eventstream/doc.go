// Package eventstream streams an account's audit events to outside receivers: ngrok's event
// subscriptions and destinations, with HTTPS webhooks as the destination.
//
// A destination (EventDestination) is a webhook URL and the key its deliveries are signed
// with; a subscription sends the events of the types it lists to the destinations it names.
// Service manages both, for administrators only (rbac.AccountManage), and records an audit
// event for every change. Worker delivers: it follows the store's change feed and, for each
// destination, posts every audit event its subscriptions select, in commit order, one at a
// time, retrying with exponential backoff and jitter, and after the last try moves the event
// to the destination's dead letters, which Service lists and replays.
//
// # Delivery guarantees
//
// Each destination keeps its own position on the change feed in the store
// (store.EventDelivery), written after each stretch of the feed whose events it has
// handled: a worker that stops and a new one that starts on the same store resume where the
// first left off, delivering again at most the events of the stretch it was in (at least
// once: receivers deduplicate by event ID), and nothing from before. The events of one
// account are delivered in the order of their commits. When the feed no longer holds a
// destination's position (trimmed while no worker ran), delivery resumes from the audit log
// after the last event it handled, in event ID order. A new destination starts with the
// events committed after it was created.
//
// Workers may run in several processes on one store: a worker holds a destination under a
// lease stored with its position (renewed as it delivers, WithLease), the others wait, and
// one of them takes the destination over when its holder stops (at once when the holder
// closes, which gives it up; when the lease ends after a crash).
//
// # The signature
//
// Every delivery is a POST of one event as JSON (the log envelope of ngrok's event
// streams: account_id, event_id, event_type, event_timestamp, principal, object) with the
// headers
//
//	Iamkit-Event-Id: ev_...
//	Iamkit-Signature: t=1767225600,v1=5f2b...
//
// where t is the Unix time of the attempt in seconds and v1 is the lowercase hex
// HMAC-SHA256, keyed with the destination's signing secret (its bytes as shown, "whsec_..."
// included), of t, a full stop, and the raw body: the scheme of Stripe's webhooks. A
// receiver recomputes it over the body it read, compares in constant time, and refuses a t
// too far from its clock (Verify does all three), which defeats replays of a captured
// delivery. A signature header may carry several v1 values while a secret is being rolled.
//
// # Receivers are outside URLs
//
// A destination's URL must be https. The worker dials only public addresses (no loopback,
// private, link-local, shared or multicast address, whatever the name resolves to), follows
// no redirect (a 3xx is a failed try), bounds each try by a timeout, and reads at most 4 KiB
// of a response. WithLoopback allows loopback receivers, over http too, for tests.
package eventstream
