package memstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// TestSweepExpiredSingleUse checks what the conformance suite cannot see: expired single-use
// keys are removed from memory, not only refused.
func TestSweepExpiredSingleUse(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := NewBackend(WithClock(clockFunc(func() time.Time { return now })))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := s.PutSingleUse(ctx, k, nil, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * sweepEvery)
	if err := s.PutSingleUse(ctx, "d", nil, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var left []string
	for k := range s.once {
		left = append(left, k)
	}
	if len(left) != 1 || left[0] != "d" {
		t.Fatalf("keys left after sweep = %q, want [d]", left)
	}
	if _, err := s.TakeSingleUse(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take(swept key) = %v, want ErrNotFound", err)
	}
}

// clockFunc adapts a function to a store.Clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
