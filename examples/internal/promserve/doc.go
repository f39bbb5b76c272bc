// Package promserve serves an example server's metrics to Prometheus: an OpenTelemetry
// MeterProvider (to give iamkit.WithMeterProvider) whose instruments a Prometheus registry
// of its own exposes at GET /metrics on a listener of its own.
//
// The examples use Prometheus rather than OTLP because it needs nothing running beside them:
// `curl http://127.0.0.1:9464/metrics` shows the figures, and any Prometheus scrapes them.
// The library itself depends on the OpenTelemetry metric API only; an embedder who ships
// OTLP passes its own MeterProvider instead.
package promserve
