package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// startRedis gives the test a Redis of its own (the edge writes under the default key
// prefix) and a client for it.
func startRedis(t *testing.T) (addr string, rdb *redis.Client) {
	t.Helper()
	srv := redistest.Start(t, redistest.WithPrivate())
	rdb = redis.NewClient(&redis.Options{
		Addr:                     srv.Addr,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { rdb.Close() })
	return srv.Addr, rdb
}

// TestSharedRedis is the deployment the README describes: something else (here the test,
// standing in for the API server) writes to Redis, and the edge started with -redis verifies
// against it and sees revocations.
func TestSharedRedis(t *testing.T) {
	redisAddr, rdb := startRedis(t)
	ctx := t.Context()

	// The API server's side: its own store on the same Redis, default prefix and shards.
	st, err := redisstore.New(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := identity.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dir.CreateUser(ctx, "ops@example.com", "Ops")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := dir.CreateAccount(ctx, u.ID, "acme", identity.PayAsYouGo().Name)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dir.Principal(ctx, acct.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	bot, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := credential.NewService(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := creds.Create(ctx, admin, credential.CreateRequest{
		Kind: store.Authtoken, OwnerID: bot.ID, ACL: []string{"bind:*.example.com"}})
	if err != nil {
		t.Fatal(err)
	}

	// The edge, as `go run ./examples/tunneledge -redis redis://...` runs it.
	addr := freeAddr(t)
	edgeCtx, stopEdge := context.WithCancel(ctx)
	edgeDone := make(chan error, 1)
	go func() {
		edgeDone <- run(edgeCtx, []string{"-addr", addr, "-redis", "redis://" + redisAddr}, t.Output(), t.Output())
	}()
	defer func() {
		stopEdge()
		select {
		case err := <-edgeDone:
			if err != nil {
				t.Errorf("edge: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("edge still running after it was stopped")
		}
	}()

	var s *tunnel.Session
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err = tunnel.Dial(dialCtx, addr, tunnel.Request{Authtoken: issued.Token.Reveal(), Bind: "app.example.com"})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dial: %v", err)
		}
	}
	defer s.Close()
	if s.Response.CredentialID != issued.ID || s.Response.OwnerID != bot.ID || s.Response.AccountID != acct.ID {
		t.Errorf("answer %+v names the wrong credential", s.Response)
	}

	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()
	start := time.Now()
	if err := creds.Delete(ctx, admin, issued.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		t.Logf("revocation to close, through Redis: %v (%v)", time.Since(start), err)
		// Revoked, as the edge had the credential cached; unknown (107) if a feed gap had
		// flushed its cache in between.
		var te *tunnel.Error
		if !errors.As(err, &te) || (te.Code != tunnel.CodeAuthtokenRevoked && te.Code != tunnel.CodeAuthtokenInvalid) {
			t.Errorf("closing reason %v, want revoked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session still open 5s after its authtoken was revoked in Redis")
	}
}
