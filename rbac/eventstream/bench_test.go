package eventstream_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/store"
)

// countingReceiver is a TLS webhook receiver that reads each body and answers 204.
func countingReceiver(b *testing.B) (*httptest.Server, *atomic.Int64, *x509.CertPool) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, &n, roots
}

// BenchmarkDeliveryBacklog measures how fast one destination drains a backlog of b.N audit
// events (memstore, a loopback TLS receiver): read from the log, selected, signed, posted one
// at a time and acknowledged. The reference, BenchmarkDeliveryReference, posts the same
// bodies to the same receiver with a plain http.Client: what the network and TLS cost alone.
func BenchmarkDeliveryBacklog(b *testing.B) {
	srv, got, roots := countingReceiver(b)
	st := memStore(b)
	iam, err := iamkit.New(st, catalog(b), iamkit.WithAuditStreaming(eventstream.WithLoopback(), eventstream.WithRootCAs(roots)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { iam.Close(b.Context()) })
	ctx := b.Context()
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme", Plan: identity.Enterprise().Name, AdminEmail: "a@acme.test"})
	if err != nil {
		b.Fatal(err)
	}
	dest, _, err := iam.EventStreams().CreateDestination(ctx, boot.Admin, eventstream.DestinationParams{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := iam.EventStreams().CreateSubscription(ctx, boot.Admin, eventstream.SubscriptionParams{
		Types: []string{string(identity.EventBotUserCreated)}, DestinationIDs: []string{dest.ID},
	}); err != nil {
		b.Fatal(err)
	}
	appendEvents(b, st, boot.Account.ID, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	if err := iam.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for got.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDeliveryReference(b *testing.B) {
	srv, _, _ := countingReceiver(b)
	client := srv.Client() // trusts the receiver's certificate; keeps connections alive
	ev := store.Event{ID: "ev_1", AccountID: "ac_1", Type: identity.EventBotUserCreated, Object: json.RawMessage(`{"id":"bot_1","name":"ci","active":true}`)}
	body, err := json.Marshal(eventstream.EnvelopeOf(ev))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// appendEvents appends n bot_user_created events to the account's log, 500 a commit.
func appendEvents(b *testing.B, st store.Store, accountID string, n int) {
	b.Helper()
	gen := id.NewGenerator(clock.System{}, rand.Reader)
	obj := json.RawMessage(`{"id":"bot_1","name":"ci","active":true}`)
	for n > 0 {
		k := min(n, 500)
		evs := make([]store.Event, k)
		for i := range evs {
			eid, err := gen.NewIn(id.Event, accountID)
			if err != nil {
				b.Fatal(err)
			}
			evs[i] = store.Event{ID: eid, AccountID: accountID, Type: identity.EventBotUserCreated, Object: obj, CreatedAt: time.Now().UTC()}
		}
		if err := st.Update(b.Context(), func(tx store.Tx) error { return tx.AppendEvents(b.Context(), evs) }); err != nil {
			b.Fatal(err)
		}
		n -= k
	}
}
