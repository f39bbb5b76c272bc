package memstore_test

import (
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		s, err := memstore.New(memstore.WithClock(clockFunc(o.Now)), memstore.WithFeedRetention(o.FeedRetention))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// clockFunc adapts the suite's clock function to a store.Clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
