package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestRestartKeepsData checks the server's life cycle: rows committed before a SIGKILL are
// there after a restart, the same pool reconnects, and a dropped database is gone.
func TestRestartKeepsData(t *testing.T) {
	s := Start(t, WithPrivate())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, drop, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := p.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded while the server was stopped")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := p.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: v = %d, %v; want 42", v, err)
	}
	p.Close()
	if err := drop(ctx); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, u); err == nil {
		conn.Close(ctx)
		t.Fatal("the dropped database still accepts connections")
	}
}
