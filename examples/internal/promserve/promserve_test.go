package promserve_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/examples/internal/promserve"
)

// TestServesWhatIsRecorded: an instrument of the provider shows at /metrics in Prometheus's
// text format, and Close stops the endpoint.
func TestServesWhatIsRecorded(t *testing.T) {
	s, err := promserve.Start("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Provider.Meter("test").Int64Counter("iamkit.test.events")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 3)
	body := get(t, s.URL)
	if !strings.Contains(body, "iamkit_test_events_total") || !strings.Contains(body, " 3\n") {
		t.Fatalf("/metrics does not show the counter at 3:\n%s", body)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL); err == nil {
		t.Fatal("the endpoint still answers after Close")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, res.StatusCode, err)
	}
	return string(b)
}
