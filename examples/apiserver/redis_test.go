package main

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/examples/internal/storeopen"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
)

// TestRunRedisBootstrapOnce runs the server twice on one Redis: the first run bootstraps,
// the second finds the account (by its key), creates nothing and accepts the key the first run
// printed.
func TestRunRedisBootstrapOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	// The server writes under redisstore's default key prefix: give it a Redis of its own.
	testBootstrapOnce(t, "-redis", redistest.Start(t, redistest.WithPrivate()).URL)
}

// TestRunPostgresBootstrapOnce is TestRunRedisBootstrapOnce on PostgreSQL, with -store.
func TestRunPostgresBootstrapOnce(t *testing.T) {
	testBootstrapOnce(t, "-store", pgtest.Start(t).Database(t))
}

// testBootstrapOnce runs the server twice with flag set to url: the first run bootstraps, the
// second creates nothing and accepts the key the first run printed.
func testBootstrapOnce(t *testing.T, flag, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := func(args ...string) (base string, out *syncBuffer, stop func()) {
		out = &syncBuffer{}
		runCtx, cancelRun := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(runCtx, append([]string{"-addr", "127.0.0.1:0", flag, url}, args...), out) }()
		base = waitForListening(t, out, done)
		return base, out, func() {
			cancelRun()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}

	path := filepath.Join(t.TempDir(), "boot.json")
	base, out, stop := start("-bootstrap-json", path)
	key := between(out.String(), "shown this once:\n\n    ", "\n")
	if !strings.HasPrefix(key, "iak_") {
		t.Fatalf("no key in the banner:\n%s", out)
	}
	if status := get(t, base+"/bot_users", key); status != http.StatusOK {
		t.Fatalf("first run: GET /bot_users = %d", status)
	}
	stop()

	base, out, stop = start()
	defer stop()
	if !strings.Contains(out.String(), "Store already bootstrapped") || strings.Contains(out.String(), "iak_") {
		t.Fatalf("second run bootstrapped again:\n%s", out)
	}
	if status := get(t, base+"/bot_users", key); status != http.StatusOK {
		t.Fatalf("second run: GET /bot_users with the first run's key = %d", status)
	}
}

// TestRunRedisOtherAdministrator: a restart with another -admin-email on a bootstrapped store
// makes no second account: it fails, as that user is no member of the account.
func TestRunRedisOtherAdministrator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	url := redistest.Start(t, redistest.WithPrivate()).URL
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	out, done := &syncBuffer{}, make(chan error, 1)
	go func() { done <- run(runCtx, []string{"-addr", "127.0.0.1:0", "-store", url}, out) }()
	waitForListening(t, out, done)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-store", url, "-admin-email", "other@example.com"}, &syncBuffer{})
	if err == nil {
		t.Fatal("a restart with another administrator's email started")
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a restart with another administrator's email: %v, want ErrNotFound (no member)", err)
	}
	st, closeStore, err := storeopen.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	err = st.View(ctx, func(r store.Reader) error {
		other, err := r.UserByEmail(ctx, "other@example.com")
		if err != nil {
			return err
		}
		ms, err := r.MembershipsByUser(ctx, other.ID)
		if err == nil && len(ms) != 0 {
			t.Errorf("the other administrator is a member of %+v, want no account", ms)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunTwoServersBootstrapOneAccount starts two API servers at once on one empty Redis: they
// bootstrap one account between them (its administrator is a member of one account, and both
// banners name it), and a key either printed works on both.
func TestRunTwoServersBootstrapOneAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	url := redistest.Start(t, redistest.WithPrivate()).URL
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	outs := make([]*syncBuffer, 2)
	dones := make([]chan error, 2)
	start := make(chan struct{})
	for i := range outs {
		outs[i], dones[i] = &syncBuffer{}, make(chan error, 1)
		go func() {
			<-start
			dones[i] <- run(ctx, []string{"-addr", "127.0.0.1:0", "-store", url}, outs[i])
		}()
	}
	close(start)
	bases := make([]string, len(outs))
	for i, out := range outs {
		bases[i] = waitForListening(t, out, dones[i])
	}
	defer func() {
		cancel()
		for _, done := range dones {
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}()

	accountIn := regexp.MustCompile(`account (ac_\w+)`)
	var accounts, keys []string
	for _, out := range outs {
		m := accountIn.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no account in the banner:\n%s", out)
		}
		accounts = append(accounts, m[1])
		if key := between(out.String(), "shown this once:\n\n    ", "\n"); key != "" {
			keys = append(keys, key)
		}
	}
	if accounts[0] != accounts[1] || len(keys) == 0 {
		t.Fatalf("the servers bootstrapped accounts %q and printed %d keys:\n%s\n%s", accounts, len(keys), outs[0], outs[1])
	}
	st, closeStore, err := storeopen.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	err = st.View(ctx, func(r store.Reader) error {
		admin, err := r.UserByEmail(ctx, "admin@example.com")
		if err != nil {
			return err
		}
		ms, err := r.MembershipsByUser(ctx, admin.ID)
		if err != nil {
			return err
		}
		if len(ms) != 1 || ms[0].AccountID != accounts[0] {
			t.Errorf("the administrator is a member of %d accounts (%+v), want one, %s", len(ms), ms, accounts[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		for _, base := range bases {
			if status := get(t, base+"/bot_users", key); status != http.StatusOK {
				t.Errorf("GET %s/bot_users with a printed key = %d", base, status)
			}
		}
	}
}

// waitForListening waits for run's "listening on" line and returns the base URL.
func waitForListening(t *testing.T, out *syncBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s := out.String()
		if base := between(s, "listening on ", "\n"); base != "" && (strings.Contains(s, "Try:") || strings.Contains(s, "already bootstrapped")) {
			return base
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before listening: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("run did not start:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(after, end)
	if !ok {
		return ""
	}
	return v
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Ngrok-Version", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
