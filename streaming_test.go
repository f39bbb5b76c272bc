package iamkit_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/pgstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// receiver is a webhook receiver as a customer would write it: it checks each delivery's
// signature with its own HMAC code (not the sender's), refuses the first failFirst tries,
// and records what it accepted, in arrival order.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	failFirst int
	tries     int
	badSig    int
	accepted  []eventstream.Envelope // every accepted delivery, duplicates included
	refuseAll bool
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	rc := &receiver{t: t, failFirst: failFirst}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tries++
	if !rc.signed(r.Header.Get(eventstream.HeaderSignature), body) {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.tries <= rc.failFirst || rc.refuseAll {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	var env eventstream.Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.EventID != r.Header.Get(eventstream.HeaderEventID) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.accepted = append(rc.accepted, env)
	w.WriteHeader(http.StatusNoContent)
}

// signed checks "t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>", with t within 5 minutes.
func (rc *receiver) signed(header string, body []byte) bool {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(secs, 0)).Abs() > 5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	got, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(got, m.Sum(nil))
}

func (rc *receiver) snapshot() (accepted []eventstream.Envelope, badSig int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.accepted), rc.badSig
}

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

func (rc *receiver) setRefuseAll(v bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.refuseAll = v
}

// streamingStores are the stores the done-when test runs on.
func streamingStores() []struct {
	name string
	open func(t *testing.T) store.Store
} {
	return []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memstore", func(t *testing.T) store.Store {
			b, err := memstore.NewBackend()
			if err != nil {
				t.Fatal(err)
			}
			st := store.New(b)
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"redis", func(t *testing.T) store.Store {
			srv := redistest.Start(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
				MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
			t.Cleanup(func() { client.Close() })
			st, err := redisstore.New(t.Context(), client, redisstore.WithPrefix(srv.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(t *testing.T) store.Store {
			srv := pgtest.Start(t)
			st, err := pgstore.New(t.Context(), srv.Pool(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	}
}

// streamingIAM returns an IAM with audit streaming to loopback receivers whose certificates
// come from httptest, with short retry waits: 4 tries, from 2ms to 20ms.
func streamingIAM(t *testing.T, st store.Store, roots *x509.CertPool) *iamkit.IAM {
	t.Helper()
	iam, err := iamkit.New(st, plans(t), iamkit.WithPollInterval(100*time.Millisecond), iamkit.WithAuditStreaming(
		eventstream.WithLoopback(), eventstream.WithRootCAs(roots), eventstream.WithRetry(4, 2*time.Millisecond, 20*time.Millisecond),
		eventstream.WithTimeout(5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(context.Background()) })
	return iam
}

func rootsOf(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

// TestAuditStreamingDelivery (on memstore, Redis and PostgreSQL) is the done-when test of
// audit streaming: a webhook receiver
// sees every audit event of a scripted session exactly once after dedup by event ID, in
// commit order, each with a signature it verifies, across a restart of the sender (the first
// IAM is closed mid-stream, events are written while no sender runs, and a second IAM on the
// same store takes over) and a receiver that refuses the first 3 tries. What the first
// sender had delivered and recorded as delivered is not sent again (no flood). A second
// destination whose receiver refuses everything gets each event dead-lettered after the
// last try, without holding back the first, and a replay delivers it.
func TestAuditStreamingDelivery(t *testing.T) {
	for _, sc := range streamingStores() {
		t.Run(sc.name, func(t *testing.T) {
			testStreaming(t, sc.open(t))
		})
	}
}

func testStreaming(t *testing.T, st store.Store) {
	ctx := t.Context()
	rc := newReceiver(t, 3)
	dead := newReceiver(t, 0)
	dead.setRefuseAll(true)
	roots := rootsOf(rc.srv)
	roots.AddCert(dead.srv.Certificate())

	first := streamingIAM(t, st, roots)
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	boot, err := first.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.Enterprise().Name, AdminEmail: "admin@acme.test", AdminName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	admin := boot.Admin
	streams := first.EventStreams()
	dest, secret, err := streams.CreateDestination(ctx, admin, eventstream.DestinationParams{URL: rc.srv.URL + "/hooks/iamkit"})
	if err != nil {
		t.Fatal(err)
	}
	rc.setSecret(secret.Reveal())
	deadDest, deadSecret, err := streams.CreateDestination(ctx, admin, eventstream.DestinationParams{URL: dead.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	dead.setSecret(deadSecret.Reveal())
	types := subscribedTypes()
	if _, err := streams.CreateSubscription(ctx, admin, eventstream.SubscriptionParams{
		Description: "everything to the SIEM", Types: types, DestinationIDs: []string{dest.ID},
	}); err != nil {
		t.Fatal(err)
	}
	since := newestEvent(t, st, boot.Account.ID)
	if _, err := streams.CreateSubscription(ctx, admin, eventstream.SubscriptionParams{
		Types: []string{string(identity.EventBotUserCreated)}, DestinationIDs: []string{deadDest.ID},
	}); err != nil {
		t.Fatal(err)
	}

	// The first half of the session, with the first sender running.
	bot, err := first.BotUsers().Create(ctx, admin, botuser.CreateParams{Name: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := first.Credentials().Create(ctx, admin, credential.CreateRequest{Kind: store.APIKey, OwnerID: bot.ID, Description: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := first.Directory().Invite(ctx, admin, "bob@acme.test", []string{rbac.RoleDeveloper})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := first.Directory().AcceptInvitationToken(ctx, inv.Token.Reveal(), "Bob", identity.SourceDashboard)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the first sender has delivered and recorded some of it, then write more
	// and stop it at once, mid-stream.
	saved := waitSaved(t, st, dest.ID, 4)
	if _, err := first.Directory().SetMemberRoles(ctx, admin, bob.UserID, []string{rbac.RoleAdministrator}); err != nil {
		t.Fatal(err)
	}
	tok, err := first.Credentials().Create(ctx, admin, credential.CreateRequest{Kind: store.Authtoken, OwnerID: bot.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	saved = savedPosition(t, st, dest.ID, saved)

	// The second half: the second IAM writes before its sender starts (nothing runs), then
	// starts and writes more.
	second := streamingIAM(t, st, roots)
	if err := second.Credentials().Delete(ctx, admin, key.Credential.ID); err != nil {
		t.Fatal(err)
	}
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Directory().SetMemberRoles(ctx, admin, bob.UserID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	if err := second.Credentials().Delete(ctx, admin, tok.Credential.ID); err != nil {
		t.Fatal(err)
	}
	if err := second.BotUsers().Delete(ctx, admin, bot.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Directory().Invite(ctx, admin, "carol@acme.test", nil); err != nil {
		t.Fatal(err)
	}

	want := wantedEvents(t, st, boot.Account.ID, since, types)
	if len(want) < 10 {
		t.Fatalf("the session recorded %d events to stream, want at least 10", len(want))
	}
	got := waitDelivered(t, rc, want)
	checkDelivery(t, got, want, saved)
	if _, badSig := rc.snapshot(); badSig != 0 {
		t.Errorf("%d deliveries failed the receiver's signature check", badSig)
	}
	checkDeadLetters(t, ctx, second, admin, dead, deadDest.ID)
}

// subscribedTypes is every event type but the destinations' own: a destination is created
// before any subscription names it, so whether its events reach it depends on timing.
func subscribedTypes() []string {
	var out []string
	for _, t := range identity.EventTypes() {
		if !strings.HasPrefix(string(t), "event_destination_") {
			out = append(out, string(t))
		}
	}
	return out
}

func newestEvent(t *testing.T, st store.Store, accountID string) string {
	t.Helper()
	var evs []store.Event
	if err := st.View(t.Context(), func(r store.Reader) error {
		var err error
		evs, err = r.Events(t.Context(), accountID, store.Page{Limit: 1})
		return err
	}); err != nil || len(evs) != 1 {
		t.Fatalf("newest event: %v, %v", evs, err)
	}
	return evs[0].ID
}

// wantedEvents returns the IDs of the account's events from since on whose type is
// subscribed, oldest first, once the purge of the deleted bot's credentials has recorded
// its events.
func wantedEvents(t *testing.T, st store.Store, accountID, since string, types []string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var evs []store.Event
		if err := st.View(t.Context(), func(r store.Reader) error {
			var err error
			evs, err = r.EventsAfter(t.Context(), accountID, "", store.MaxPageLimit)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var out []string
		purged := false
		for _, ev := range evs {
			if ev.ID >= since && slices.Contains(types, string(ev.Type)) {
				out = append(out, ev.ID)
			}
			purged = purged || (ev.Type == identity.EventBotUserDeleted)
		}
		if purged {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatal("the bot user's deletion was never recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSaved waits until the destination's stored position has handled at least n events
// and returns its last event ID.
func waitSaved(t *testing.T, st store.Store, destID string, n int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var pos store.EventDelivery
		err := st.View(t.Context(), func(r store.Reader) error {
			var err error
			pos, err = r.EventDelivery(t.Context(), destID)
			return err
		})
		if err == nil && pos.Cursor != "" && pos.LastEventID != "" {
			var handled []store.Event
			_ = st.View(t.Context(), func(r store.Reader) error {
				var err error
				handled, err = r.EventsAfter(t.Context(), pos.AccountID, "", store.MaxPageLimit)
				return err
			})
			count := 0
			for _, ev := range handled {
				if ev.ID <= pos.LastEventID {
					count++
				}
			}
			if count >= n {
				return pos.LastEventID
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the first sender never recorded its progress")
	return ""
}

// savedPosition returns the last event the stopped sender recorded as handled.
func savedPosition(t *testing.T, st store.Store, destID, atLeast string) string {
	t.Helper()
	var pos store.EventDelivery
	if err := st.View(t.Context(), func(r store.Reader) error {
		var err error
		pos, err = r.EventDelivery(t.Context(), destID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if pos.LastEventID < atLeast {
		t.Fatalf("the stored position went back: %s < %s", pos.LastEventID, atLeast)
	}
	return pos.LastEventID
}

// waitDelivered waits until the receiver has accepted every wanted event at least once.
func waitDelivered(t *testing.T, rc *receiver, want []string) []eventstream.Envelope {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := rc.snapshot()
		seen := map[string]bool{}
		for _, env := range got {
			seen[env.EventID] = true
		}
		missing := 0
		for _, w := range want {
			if !seen[w] {
				missing++
			}
		}
		if missing == 0 {
			// Let a straggler (an unwanted or repeated delivery) show itself.
			time.Sleep(300 * time.Millisecond)
			got, _ = rc.snapshot()
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver has %d of %d events after 30s", len(want)-missing, len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkDelivery: after dedup by event ID the receiver has exactly the wanted events, first
// seen in commit order (IDs ascend, since the session is sequential); events the first
// sender had recorded as handled came exactly once.
func checkDelivery(t *testing.T, got []eventstream.Envelope, want []string, saved string) {
	t.Helper()
	var order []string
	count := map[string]int{}
	for _, env := range got {
		if count[env.EventID] == 0 {
			order = append(order, env.EventID)
		}
		count[env.EventID]++
	}
	if !slices.Equal(order, want) {
		t.Errorf("events after dedup, in the order first received:\n got %v\nwant %v", order, want)
	}
	dups := 0
	for eid, n := range count {
		dups += n - 1
		if eid <= saved && n != 1 {
			t.Errorf("event %s, recorded as handled before the restart, was delivered %d times", eid, n)
		}
	}
	t.Logf("%d events, %d delivered again after the restart", len(want), dups)
}

// checkDeadLetters: the refusing receiver's event is a dead letter after 4 tries; replaying
// it while the receiver still refuses keeps it (one more try), and once the receiver
// accepts, a replay delivers it and removes it.
func checkDeadLetters(t *testing.T, ctx context.Context, iam *iamkit.IAM, admin identity.Principal, dead *receiver, destID string) {
	t.Helper()
	streams := iam.EventStreams()
	var letters []store.DeadLetter
	deadline := time.Now().Add(20 * time.Second)
	for len(letters) == 0 {
		var err error
		if letters, err = streams.DeadLetters(ctx, admin, destID, store.Page{Limit: 10}); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no dead letter for the refusing receiver")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(letters) != 1 {
		t.Fatalf("dead letters %+v, want one (one event was sent there)", letters)
	}
	l := letters[0]
	// 4 tries, or 8 when the first sender stopped before recording its position and the
	// second tried again: one letter per event either way.
	if (l.Attempts != 4 && l.Attempts != 8) || l.LastStatus != http.StatusServiceUnavailable || l.LastError == "" {
		t.Errorf("dead letter %+v: want 4 (or 8) tries, status 503 and a reason", l)
	}
	err := streams.ReplayDeadLetter(ctx, admin, l.ID)
	if !errors.Is(err, store.ErrUnavailable) || store.CodeOf(err) != eventstream.CodeDeliveryFailed {
		t.Fatalf("replay to a refusing receiver: %v, want ErrUnavailable %s", err, eventstream.CodeDeliveryFailed)
	}
	if again, err := streams.DeadLetters(ctx, admin, destID, store.Page{Limit: 10}); err != nil || len(again) != 1 || again[0].Attempts != l.Attempts+1 {
		t.Fatalf("after a failed replay: %+v, %v; want the dead letter with one more try", again, err)
	}
	dead.setRefuseAll(false)
	if err := streams.ReplayDeadLetter(ctx, admin, l.ID); err != nil {
		t.Fatalf("replay: %v", err)
	}
	got, _ := dead.snapshot()
	if len(got) != 1 || got[0].EventID != l.EventID || got[0].EventType != string(identity.EventBotUserCreated) {
		t.Errorf("after the replay the receiver has %+v, want event %s", got, l.EventID)
	}
	if left, err := streams.DeadLetters(ctx, admin, destID, store.Page{Limit: 10}); err != nil || len(left) != 0 {
		t.Errorf("dead letters after a successful replay: %v, %v; want none", left, err)
	}
}

// TestAuditStreamingTwoSenders: two IAMs streaming from one store (two API servers, say)
// deliver each event once, not twice: one holds the destination under a lease. When the
// holder closes it gives the destination up, and the other delivers what follows.
func TestAuditStreamingTwoSenders(t *testing.T) {
	for _, sc := range streamingStores() {
		t.Run(sc.name, func(t *testing.T) {
			ctx := t.Context()
			st := sc.open(t)
			rc := newReceiver(t, 0)
			roots := rootsOf(rc.srv)
			a, b := streamingIAM(t, st, roots), streamingIAM(t, st, roots)
			if err := a.Start(ctx); err != nil {
				t.Fatal(err)
			}
			boot, err := a.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
				Plan: identity.Enterprise().Name, AdminEmail: "admin@acme.test"})
			if err != nil {
				t.Fatal(err)
			}
			dest, secret, err := a.EventStreams().CreateDestination(ctx, boot.Admin, eventstream.DestinationParams{URL: rc.srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			rc.setSecret(secret.Reveal())
			types := []string{string(identity.EventBotUserCreated)}
			if _, err := a.EventStreams().CreateSubscription(ctx, boot.Admin, eventstream.SubscriptionParams{Types: types, DestinationIDs: []string{dest.ID}}); err != nil {
				t.Fatal(err)
			}
			since := newestEvent(t, st, boot.Account.ID)
			bots := func(iam *iamkit.IAM, from, to int) {
				for i := from; i < to; i++ {
					if _, err := iam.BotUsers().Create(ctx, boot.Admin, botuser.CreateParams{Name: "bot" + strconv.Itoa(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			bots(a, 0, 2)
			waitDelivered(t, rc, wantedEventsNow(t, st, boot.Account.ID, since, types))
			holder := holderOf(t, st, dest.ID)
			if !strings.HasPrefix(holder, "w_") {
				t.Fatalf("destination held by %q, want a's worker", holder)
			}
			// b starts while a holds the destination: a keeps delivering, alone.
			if err := b.Start(ctx); err != nil {
				t.Fatal(err)
			}
			bots(b, 2, 6)
			waitDelivered(t, rc, wantedEventsNow(t, st, boot.Account.ID, since, types))
			if h := holderOf(t, st, dest.ID); h != holder {
				t.Fatalf("the destination moved from %s to %s while its holder ran", holder, h)
			}
			// a closes and gives the destination up; b takes it over within a poll.
			if err := a.Close(ctx); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			bots(b, 6, 10)
			want := wantedEventsNow(t, st, boot.Account.ID, since, types)
			got := waitDelivered(t, rc, want)
			ids := make([]string, len(got))
			for i, env := range got {
				ids[i] = env.EventID
			}
			if !slices.Equal(ids, want) {
				t.Errorf("deliveries (not deduplicated) %v, want each event once, in order: %v", ids, want)
			}
			if h := holderOf(t, st, dest.ID); h == holder || !strings.HasPrefix(h, "w_") {
				t.Errorf("after a closed, the destination is held by %q, want b's worker", h)
			}
			t.Logf("b delivered the events after a closed within %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// wantedEventsNow is wantedEvents without waiting for anything.
func wantedEventsNow(t *testing.T, st store.Store, accountID, since string, types []string) []string {
	t.Helper()
	var evs []store.Event
	if err := st.View(t.Context(), func(r store.Reader) error {
		var err error
		evs, err = r.EventsAfter(t.Context(), accountID, since, store.MaxPageLimit)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if slices.Contains(types, string(ev.Type)) {
			out = append(out, ev.ID)
		}
	}
	return out
}

func holderOf(t *testing.T, st store.Store, destID string) string {
	t.Helper()
	var pos store.EventDelivery
	if err := st.View(t.Context(), func(r store.Reader) error {
		var err error
		pos, err = r.EventDelivery(t.Context(), destID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return pos.Holder
}

// TestAuditStreamingAfterAGap: when the feed no longer holds a destination's position (the
// sender was down while more commits came than the feed keeps), the next sender resumes from
// the audit log after the last event handled: nothing lost, nothing from before sent again,
// in order.
func TestAuditStreamingAfterAGap(t *testing.T) {
	ctx := t.Context()
	b, err := memstore.NewBackend(memstore.WithFeedRetention(20))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(b)
	t.Cleanup(func() { st.Close() })
	rc := newReceiver(t, 0)
	roots := rootsOf(rc.srv)
	first := streamingIAM(t, st, roots)
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	boot, err := first.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.Enterprise().Name, AdminEmail: "admin@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	dest, secret, err := first.EventStreams().CreateDestination(ctx, boot.Admin, eventstream.DestinationParams{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	rc.setSecret(secret.Reveal())
	types := []string{string(identity.EventBotUserCreated)}
	if _, err := first.EventStreams().CreateSubscription(ctx, boot.Admin, eventstream.SubscriptionParams{Types: types, DestinationIDs: []string{dest.ID}}); err != nil {
		t.Fatal(err)
	}
	since := newestEvent(t, st, boot.Account.ID)
	bots := func(iam *iamkit.IAM, from, to int) {
		for i := from; i < to; i++ {
			if _, err := iam.BotUsers().Create(ctx, boot.Admin, botuser.CreateParams{Name: "bot" + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	bots(first, 0, 3)
	waitDelivered(t, rc, wantedEventsNow(t, st, boot.Account.ID, since, types))
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	second := streamingIAM(t, st, roots)
	bots(second, 3, 60) // 57 commits while nothing streams: far past the feed's 20
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	bots(second, 60, 63)
	want := wantedEventsNow(t, st, boot.Account.ID, since, types)
	got := waitDelivered(t, rc, want)
	ids := make([]string, len(got))
	for i, env := range got {
		ids[i] = env.EventID
	}
	if !slices.Equal(ids, want) {
		t.Errorf("deliveries (not deduplicated):\n got %v\nwant %v", ids, want)
	}
}
