package iamkit_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/credential"
)

// collected is one collection of the IAM's metrics, by instrument name.
type collected map[string]metricdata.Aggregation

func collect(t *testing.T, r sdkmetric.Reader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/iamkit/iamkit" {
			t.Fatalf("a metric of the scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// value returns the value of an integer counter or gauge with the attribute key=value ("" for
// none), 0 when nothing was observed.
func (c collected) value(t *testing.T, name, key, value string) int64 {
	t.Helper()
	var points []metricdata.DataPoint[int64]
	switch d := c[name].(type) {
	case nil:
		return 0 // nothing observed yet
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	default:
		t.Fatalf("%s: %T, want an integer counter or gauge", name, c[name])
	}
	for _, p := range points {
		if v, ok := p.Attributes.Value(attribute.Key(key)); key == "" && p.Attributes.Len() == 0 || ok && v.AsString() == value {
			return p.Value
		}
	}
	return 0
}

// histogramCount returns how many values a histogram recorded.
func (c collected) histogramCount(t *testing.T, name string) uint64 {
	t.Helper()
	h, ok := c[name].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: %T, want a histogram", name, c[name])
	}
	var n uint64
	for _, p := range h.DataPoints {
		n += p.Count
	}
	return n
}

// TestMetrics: with WithMeterProvider, the Verifier's hits, misses and refusals by reason,
// its cache sizes, the feed's lag and staleness, and the time from a revocation's commit to
// the first refusal of the token are reported; after Close, nothing is read any more.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	w := newWorld(t, iamkit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	before := collect(t, reader)
	token := w.boot.APIKey.Token.Reveal()
	for range 3 {
		if _, err := w.iam.Authenticate(w.ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.iam.Authenticate(w.ctx, "not-a-token"); err == nil {
		t.Fatal("a malformed token authenticated")
	}
	if err := w.iam.Credentials().Delete(w.ctx, w.boot.Admin, w.boot.APIKey.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.iam.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := w.iam.Authenticate(w.ctx, token); !errors.Is(err, credential.ReasonRevoked) {
			t.Fatalf("the revoked key: %v, want %v", err, credential.ReasonRevoked)
		}
	}
	after := collect(t, reader)

	for _, c := range []struct {
		name, key, value string
		min              int64
	}{
		{"iamkit.verifier.cache.hits", "", "", 2},
		{"iamkit.verifier.cache.misses", "", "", 1},
		{"iamkit.verifier.rejections", "reason", credential.ReasonMalformed.String(), 1},
		{"iamkit.verifier.rejections", "reason", credential.ReasonRevoked.String(), 2},
		{"iamkit.verifier.cache.invalidations", "", "", 1},
		{"iamkit.verifier.cache.flushes", "", "", 1},
		{"iamkit.verifier.cache.entries", "entry", "negative", 1},
		{"iamkit.verifier.cache.entries", "entry", "owner", 1},
	} {
		got := after.value(t, c.name, c.key, c.value)
		if c.name != "iamkit.verifier.cache.entries" && c.name != "iamkit.verifier.cache.flushes" {
			got -= before.value(t, c.name, c.key, c.value)
		}
		if got < c.min {
			t.Errorf("%s{%s=%q} grew by %d, want at least %d", c.name, c.key, c.value, got, c.min)
		}
	}
	if n := after.histogramCount(t, "iamkit.revocation.latency"); n != 1 {
		t.Errorf("revocation.latency recorded %d values, want 1 (the first refusal only)", n)
	}
	if n := after.histogramCount(t, "iamkit.feed.lag"); n < 1 {
		t.Errorf("feed.lag recorded %d values, want one per commit", n)
	}
	if _, ok := after["iamkit.feed.staleness"].(metricdata.Gauge[float64]); !ok {
		t.Errorf("feed.staleness: %T, want a gauge", after["iamkit.feed.staleness"])
	}

	if err := w.iam.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := collect(t, reader)["iamkit.verifier.cache.hits"]; ok {
		t.Error("the Verifier's counters are still read after Close")
	}
}
