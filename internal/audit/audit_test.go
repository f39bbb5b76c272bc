package audit_test

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

func TestMarshal_NullsCredentialSecrets(t *testing.T) {
	c := store.Credential{ID: "cr_1", Kind: store.Authtoken, OwnerID: "bot_1", SecretHash: "deadbeef", Description: "ci"}
	for _, obj := range []any{c, &c} {
		raw, err := audit.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "deadbeef") {
			t.Fatalf("secret hash in event object: %s", raw)
		}
		if v, ok := m["token"]; !ok || v != nil {
			t.Fatalf("token not null: %s", raw)
		}
		if m["id"] != "cr_1" || m["description"] != "ci" || m["owner_id"] != "bot_1" {
			t.Fatalf("object lost fields: %s", raw)
		}
	}
}

type withToken struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

func (w withToken) AuditObject() any { w.Token = ""; return w }

func TestMarshal_Redactor(t *testing.T) {
	raw, err := audit.Marshal(withToken{ID: "ak_1", Token: "ak_secret"})
	if err != nil || strings.Contains(string(raw), "secret") {
		t.Fatalf("Marshal = %s, %v", raw, err)
	}
}

func TestRecord_AppendsInTheTransaction(t *testing.T) {
	ctx := t.Context()
	clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memstore.New(memstore.WithClock(clk.Now))
	defer st.Close()
	g := id.NewGenerator(clk, rand.Reader)
	rec := audit.Recorder{IDs: g, Clock: clk}
	acct, _ := g.New(id.Account)
	by := store.Principal{ID: "usr_x", Subject: "a@example.com", Source: "api", CredentialID: "ak_y"}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: acct, Name: "a", Plan: "free"}); err != nil {
			return err
		}
		return rec.Record(ctx, tx, acct, audit.BotUserCreated, by, store.BotUser{ID: "bot_z", Name: "ci", Active: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	st.View(ctx, func(r store.Reader) error {
		evs, err = r.Events(ctx, acct, store.Page{Limit: 10})
		return err
	})
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.Type != "bot_user_created.v0" || ev.Principal != by || !ev.CreatedAt.Equal(clk.Now()) ||
		id.Check(ev.ID, id.Event) != nil || id.Tag(ev.ID) != id.Tag(acct) || !strings.Contains(string(ev.Object), `"name":"ci"`) {
		t.Fatalf("event %+v %s", ev, ev.Object)
	}
	// A transaction that fails records nothing.
	st.Update(ctx, func(tx store.Tx) error {
		rec.Record(ctx, tx, acct, audit.BotUserDeleted, by, nil)
		return store.ErrAborted
	})
	st.View(ctx, func(r store.Reader) error {
		evs, err = r.Events(ctx, acct, store.Page{Limit: 10})
		return err
	})
	if len(evs) != 1 {
		t.Fatalf("rolled-back event kept: %d events", len(evs))
	}
}
