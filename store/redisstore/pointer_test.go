package redisstore_test

import (
	"crypto/rand"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestDanglingPointers checks the reservation semantics of global unique keys against
// pointers left behind by commits that never happened (a crash between the SET NX claim
// and the EXEC): lookups ignore them, a claim whose lease has passed is taken over, and one
// still within its lease (a commit possibly in flight) is respected.
func TestDanglingPointers(t *testing.T) {
	srv := sharedServer(t)
	client := newClient(t, srv)
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	s, err := redisstore.New(t.Context(), client, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	ghost, _ := ids.New(id.User)
	lease := func(d time.Duration) string {
		return ghost + "|" + strconv.FormatInt(time.Now().Add(d).UnixMilli(), 10) + "|crashed"
	}
	putUser := func(email string) error {
		u, _ := ids.New(id.User)
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.PutUser(ctx, store.User{ID: u, Email: email})
		})
	}

	// A stale claim: ignored by lookups, taken over by a new user.
	client.Set(ctx, prefix+":u:user:email:old@example.com", lease(-time.Minute), 0)
	err = s.View(ctx, func(r store.Reader) error { _, err := r.UserByEmail(ctx, "old@example.com"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail through a dangling pointer: %v, want ErrNotFound", err)
	}
	if err := putUser("old@example.com"); err != nil {
		t.Errorf("claiming an email whose stale pointer names no user: %v", err)
	}
	err = s.View(ctx, func(r store.Reader) error { _, err := r.UserByEmail(ctx, "old@example.com"); return err })
	if err != nil {
		t.Errorf("UserByEmail after the take-over: %v", err)
	}

	// A claim within its lease may be a commit in flight: it is a conflict until it ends.
	client.Set(ctx, prefix+":u:user:email:new@example.com", lease(time.Minute), 0)
	if err := putUser("new@example.com"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("claiming an email under a live lease: %v, want ErrConflict", err)
	}

	// A committed user's email is a conflict: its pointer names a record that holds it.
	if err := putUser("old@example.com"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second user with a taken email: %v, want ErrConflict", err)
	}
}
