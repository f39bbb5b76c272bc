package iamkit

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of iamkit's metrics.
const meterName = "github.com/iamkit/iamkit"

// WithMeterProvider reports iamkit's metrics through mp, OpenTelemetry's metric API (default:
// none). iamkit depends on the API alone: the embedder picks the SDK and the exporter
// (Prometheus, OTLP). The instruments, all prefixed "iamkit.":
//
//	verifier.cache.hits          counter    verifications answered from the Verifier's cache
//	verifier.cache.misses        counter    verifications that read the store
//	verifier.rejections          counter    refusals, by "reason" (credential.Reason's names)
//	verifier.cache.invalidations counter    cache entries dropped because the feed said so
//	verifier.cache.flushes       counter    whole-cache flushes (feed gaps, restarts)
//	verifier.cache.entries       gauge      entries now, by "entry": credential, negative, owner
//	feed.staleness               gauge, s   since the change-feed follower last knew itself in sync
//	feed.lag                     histogram  s from a commit to its delivery to the caches
//	revocation.latency           histogram  s from a revocation's commit to the first refusal
//	                                        of the revoked token (WithRevocationObserver)
//
// The counters and gauges are read at collection time; the histograms are recorded as
// events happen, off the Verifier's hit path. Times between a commit and its delivery compare
// the store's clock with this process's: on Redis and PostgreSQL they include any skew
// between the two machines.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.meters = mp } }

// latencyBuckets are the histograms' bucket bounds, in seconds: from half a millisecond (a
// feed on a local Redis) to ten seconds (a follower that lost its store for a while).
var latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// instruments are the IAM's synchronous instruments and the registration of its observable
// ones.
type instruments struct {
	feedLag    metric.Float64Histogram
	revocation metric.Float64Histogram
	reg        metric.Registration // nil until registerObservers
}

// newInstruments makes the histograms, which the follower and the Verifier record into as
// they are built; nil without WithMeterProvider.
func newInstruments(mp metric.MeterProvider) (*instruments, error) {
	if mp == nil {
		return nil, nil
	}
	m := mp.Meter(meterName)
	var ins instruments
	var err error
	if ins.feedLag, err = m.Float64Histogram("iamkit.feed.lag", metric.WithUnit("s"),
		metric.WithDescription("Time from a commit to its delivery to the caches, by the change-feed follower."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...)); err != nil {
		return nil, err
	}
	if ins.revocation, err = m.Float64Histogram("iamkit.revocation.latency", metric.WithUnit("s"),
		metric.WithDescription("Time from a revocation's commit to the Verifier's first refusal of the revoked token."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...)); err != nil {
		return nil, err
	}
	return &ins, nil
}

// observeLag records the feed's lag for one commit.
func (ins *instruments) observeLag(ctx context.Context, d time.Duration) {
	ins.feedLag.Record(ctx, d.Seconds())
}

// observeRevocation records how long a revoked token kept working.
func (ins *instruments) observeRevocation(ctx context.Context, d time.Duration) {
	ins.revocation.Record(ctx, d.Seconds())
}

// registerObservers registers the callbacks that read the Verifier's counters and the
// follower's staleness at collection time.
func (i *IAM) registerObservers(mp metric.MeterProvider) error {
	m := mp.Meter(meterName)
	hits, err := m.Int64ObservableCounter("iamkit.verifier.cache.hits", metric.WithUnit("{verification}"),
		metric.WithDescription("Verifications answered from the Verifier's cache."))
	if err != nil {
		return err
	}
	misses, err := m.Int64ObservableCounter("iamkit.verifier.cache.misses", metric.WithUnit("{verification}"),
		metric.WithDescription("Verifications that read the store."))
	if err != nil {
		return err
	}
	rejections, err := m.Int64ObservableCounter("iamkit.verifier.rejections", metric.WithUnit("{verification}"),
		metric.WithDescription("Credentials refused by the Verifier, by reason."))
	if err != nil {
		return err
	}
	invalidations, err := m.Int64ObservableCounter("iamkit.verifier.cache.invalidations", metric.WithUnit("{entry}"),
		metric.WithDescription("Verifier cache entries dropped because the change feed reported a change."))
	if err != nil {
		return err
	}
	flushes, err := m.Int64ObservableCounter("iamkit.verifier.cache.flushes", metric.WithUnit("{flush}"),
		metric.WithDescription("Whole-cache flushes of the Verifier (feed gaps, restarts)."))
	if err != nil {
		return err
	}
	entries, err := m.Int64ObservableGauge("iamkit.verifier.cache.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries in the Verifier's cache, by entry type."))
	if err != nil {
		return err
	}
	staleness, err := m.Float64ObservableGauge("iamkit.feed.staleness", metric.WithUnit("s"),
		metric.WithDescription("Time since the change-feed follower was last known to be in sync with the store."))
	if err != nil {
		return err
	}
	entryType := func(t string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("entry", t)))
	}
	credentials, negative, owners := entryType("credential"), entryType("negative"), entryType("owner")
	i.metrics.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := i.verifier.Stats()
		o.ObserveInt64(hits, int64(s.Hits))
		o.ObserveInt64(misses, int64(s.Misses))
		for r, n := range s.Rejections {
			o.ObserveInt64(rejections, int64(n), metric.WithAttributes(attribute.String("reason", r.String())))
		}
		o.ObserveInt64(invalidations, int64(s.Invalidations))
		o.ObserveInt64(flushes, int64(s.Flushes))
		o.ObserveInt64(entries, int64(s.Cached), credentials)
		o.ObserveInt64(entries, int64(s.Negative), negative)
		o.ObserveInt64(entries, int64(s.Owners), owners)
		if synced := i.follower.SyncedNano(); synced != 0 && i.follower.Running() {
			o.ObserveFloat64(staleness, i.clock.Now().Sub(time.Unix(0, synced)).Seconds())
		}
		return nil
	}, hits, misses, rejections, invalidations, flushes, entries, staleness)
	return err
}

// unregisterObservers stops the collection-time callbacks (Close).
func (i *IAM) unregisterObservers() {
	if i.metrics == nil || i.metrics.reg == nil {
		return
	}
	if err := i.metrics.reg.Unregister(); err != nil {
		i.log.Warn("iamkit: unregistering the metric callbacks failed", "err", err)
	}
}

// systemClock is the wall clock, when WithClock gave none.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
