package storeopen

import (
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/internal/redistest"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Spec
	}{
		{"", Spec{Kind: Memory}},
		{"memory", Spec{Kind: Memory}},
		{" memory ", Spec{Kind: Memory}},
		{"redis://localhost:6379/0", Spec{Kind: Redis, URL: "redis://localhost:6379/0"}},
		{"rediss://u:p@redis.example.com:6380", Spec{Kind: Redis, URL: "rediss://u:p@redis.example.com:6380"}},
		{"localhost:6379", Spec{Kind: Redis, URL: "redis://localhost:6379"}},
		{"redis-host", Spec{Kind: Redis, URL: "redis://redis-host"}}, // go-redis adds the default port
		{"10.0.0.1:7000,10.0.0.2:7000", Spec{Kind: RedisCluster, Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000"}}},
		{"redis://10.0.0.1:7000, 10.0.0.2:7000", Spec{Kind: RedisCluster, Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000"}}},
		{"10.0.0.1:7000,", Spec{Kind: RedisCluster, Addrs: []string{"10.0.0.1:7000"}}},
		{"postgres://iamkit@db.internal/platform", Spec{Kind: Postgres, URL: "postgres://iamkit@db.internal/platform"}},
		{"postgresql://iamkit:pw@db.internal:5433/platform?sslmode=require", Spec{Kind: Postgres, URL: "postgresql://iamkit:pw@db.internal:5433/platform?sslmode=require"}},
		{"postgres:///platform?host=/run/postgresql", Spec{Kind: Postgres, URL: "postgres:///platform?host=/run/postgresql"}},
		{"PostgreSQL://db/x", Spec{Kind: Postgres, URL: "postgresql://db/x"}},
		{"Redis://h:1", Spec{Kind: Redis, URL: "redis://h:1"}},
	} {
		got, err := Parse(c.spec)
		if err != nil || got.Kind != c.want.Kind || got.URL != c.want.URL || !slices.Equal(got.Addrs, c.want.Addrs) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
	for _, spec := range []string{"http://localhost:6379", "mysql://db/x", ",", " , ", "a:1,b:1/0", "redis://", "redis://u:sekret@host:1,b:2", "redis://%zz"} {
		_, err := Parse(spec)
		if !errors.Is(err, ErrSpec) {
			t.Errorf("Parse(%q) = %v, want ErrSpec", spec, err)
		}
		if err != nil && strings.Contains(err.Error(), "sekret") {
			t.Errorf("Parse(%q): %q repeats the password", spec, err)
		}
	}
}

// FuzzParse: a spec parses into one kind, with what that kind needs, and an error never
// repeats the spec.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"", "memory", "redis://localhost:6379/0", "rediss://u:p@h:1", "h:1", "a:1,b:2", "redis://a:1,", "postgres://u:p@h/db", "postgresql:///db?host=/tmp", "http://x", ",", "redis://%zz", "a b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("Parse(%q) = %v, want ErrSpec", spec, err)
			}
			if len(spec) >= 8 && strings.Contains(err.Error(), spec) {
				t.Fatalf("Parse(%q): %q repeats the spec", spec, err)
			}
			return
		}
		switch s.Kind {
		case Memory:
			if trimmed := strings.TrimSpace(spec); trimmed != "" && trimmed != "memory" {
				t.Fatalf("Parse(%q) is the memory store", spec)
			}
		case Redis:
			if !strings.HasPrefix(s.URL, "redis://") && !strings.HasPrefix(s.URL, "rediss://") {
				t.Fatalf("Parse(%q): Redis URL %q", spec, s.URL)
			}
		case Postgres:
			if !strings.HasPrefix(s.URL, "postgres://") && !strings.HasPrefix(s.URL, "postgresql://") {
				t.Fatalf("Parse(%q): PostgreSQL URL %q", spec, s.URL)
			}
		case RedisCluster:
			if len(s.Addrs) == 0 || slices.ContainsFunc(s.Addrs, func(a string) bool { return a == "" || strings.ContainsAny(a, ",/@ ") }) {
				t.Fatalf("Parse(%q): cluster nodes %q", spec, s.Addrs)
			}
		default:
			t.Fatalf("Parse(%q): kind %d", spec, s.Kind)
		}
	})
}

// TestOpen opens a store of each kind, bootstraps an account on it, and opens it again: a
// shared store (Redis, Redis Cluster, PostgreSQL) still holds the account, the memory store
// is new each time.
func TestOpen(t *testing.T) {
	for _, c := range []struct {
		name   string
		spec   func(t *testing.T) string
		shared bool
	}{
		{"memory", func(*testing.T) string { return "memory" }, false},
		{"empty", func(*testing.T) string { return "" }, false},
		{"redis URL", func(t *testing.T) string { return redistest.Start(t, redistest.WithPrivate()).URL }, true},
		{"redis host:port", func(t *testing.T) string { return redistest.Start(t, redistest.WithPrivate()).Addr }, true},
		{"redis cluster", func(t *testing.T) string { return strings.Join(redistest.StartCluster(t, 3).Addrs, ",") }, true},
		{"postgres", func(t *testing.T) string { return pgtest.Start(t).Database(t) }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec(t)
			if created := bootstrapOn(t, spec); !created {
				t.Fatal("the first bootstrap found an account")
			}
			if created := bootstrapOn(t, spec); created == c.shared {
				t.Fatalf("the second bootstrap created an account: %v, want %v", created, !c.shared)
			}
		})
	}
}

// bootstrapOn opens spec, bootstraps the account "acme" on it and closes it, and reports
// whether the account was created.
func bootstrapOn(t *testing.T, spec string) bool {
	t.Helper()
	ctx := t.Context()
	st, closeStore, err := Open(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	plans, err := identity.NewCatalog(identity.Free())
	if err != nil {
		t.Fatal(err)
	}
	iam, err := iamkit.New(st, plans)
	if err != nil {
		t.Fatal(err)
	}
	b, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme", Plan: identity.Free().Name, AdminEmail: "admin@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	return b.Created
}

// TestOpenUnreachable: a store that does not answer is an error that does not repeat the
// spec's password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, spec := range []string{"redis://u:sekret@127.0.0.1:1/0", "127.0.0.1:1,127.0.0.1:2", "postgres://u:sekret@127.0.0.1:1/db?connect_timeout=2"} {
		st, _, err := Open(ctx, spec)
		if err == nil {
			st.Close()
			t.Fatalf("Open(%q) succeeded", spec)
		}
		if strings.Contains(err.Error(), "sekret") {
			t.Errorf("Open(%q): %q repeats the password", spec, err)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		ok   bool
	}{
		{nil, "", true},
		{[]string{"-store", "postgres://h/db"}, "postgres://h/db", true},
		{[]string{"-redis", "redis://h:1/0"}, "redis://h:1/0", true},
		{[]string{"-store", "redis://h:1/0", "-redis", "redis://h:1/0"}, "redis://h:1/0", true},
		{[]string{"-store", "postgres://h/db", "-redis", "redis://h:1/0"}, "", false},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := AddFlags(fs, "to test with")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		got, err := f.Spec()
		if got != c.want || (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrSpec)) {
			t.Errorf("%q: Spec() = %q, %v; want %q (ok %v)", c.args, got, err, c.want, c.ok)
		}
	}
}

func TestInMemory(t *testing.T) {
	for spec, want := range map[string]bool{"": true, "memory": true, "redis://h:1": false, "postgres://h/db": false, "a:1,b:1": false, "ftp://x": false} {
		if got := InMemory(spec); got != want {
			t.Errorf("InMemory(%q) = %v, want %v", spec, got, want)
		}
	}
}
