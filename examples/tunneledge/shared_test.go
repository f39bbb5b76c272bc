package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/examples/internal/storeopen"
	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestSharedStore is the deployment the README describes: something else (here the test,
// standing in for the API server) writes to a shared store, and the edge started with -store
// (or its alias -redis) on the same store verifies against it and sees revocations.
func TestSharedStore(t *testing.T) {
	for _, c := range []struct {
		name, flag string
		spec       func(t *testing.T) string
	}{
		// The edge writes under redisstore's default key prefix: a Redis of its own.
		{"redis", "-redis", func(t *testing.T) string { return redistest.Start(t, redistest.WithPrivate()).URL }},
		{"postgres", "-store", func(t *testing.T) string { return pgtest.Start(t).Database(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			testSharedStore(t, c.flag, c.spec(t))
		})
	}
}

// testSharedStore opens spec as the API server would, writes a bot user's authtoken there, and
// runs the edge with flag set to spec: a session opens with the token, and closes when the
// token is deleted.
func testSharedStore(t *testing.T, flag, spec string) {
	ctx := t.Context()
	st, closeStore, err := storeopen.Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
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

	// The edge, as `go run ./examples/tunneledge -store URL` runs it.
	addr := freeAddr(t)
	edgeCtx, stopEdge := context.WithCancel(ctx)
	edgeDone := make(chan error, 1)
	go func() {
		edgeDone <- run(edgeCtx, []string{"-addr", addr, flag, spec}, t.Output(), t.Output())
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
		t.Logf("revocation to close, through the shared store: %v (%v)", time.Since(start), err)
		// Revoked, as the edge had the credential cached; unknown (107) if a feed gap had
		// flushed its cache in between.
		var te *tunnel.Error
		if !errors.As(err, &te) || (te.Code != tunnel.CodeAuthtokenRevoked && te.Code != tunnel.CodeAuthtokenInvalid) {
			t.Errorf("closing reason %v, want revoked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session still open 5s after its authtoken was revoked in the shared store")
	}
}
