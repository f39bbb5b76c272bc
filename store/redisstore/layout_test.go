package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// keyLog is a go-redis hook that records the arguments of every command sent.
type keyLog struct {
	mu   sync.Mutex
	args [][]any
}

func (l *keyLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *keyLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.note(cmd)
		return next(ctx, cmd)
	}
}

func (l *keyLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.note(c)
		}
		return next(ctx, cmds)
	}
}

func (l *keyLog) note(cmd redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.args = append(l.args, cmd.Args())
}

// keysUnder returns the arguments of the commands sent that name a key under prefix.
func (l *keyLog) keysUnder(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, args := range l.args {
		for _, a := range args {
			if s, ok := a.(string); ok && strings.HasPrefix(s, prefix+":") {
				out = append(out, s)
			}
		}
	}
	return out
}

// TestLayoutMismatch opens stores on data laid out by another store and checks that they are
// refused with code layout_mismatch, having read no key but the layout's.
func TestLayoutMismatch(t *testing.T) {
	srv := sharedServer(t)
	ctx := t.Context()
	cases := []struct {
		name string
		// prepare lays out data under prefix, with the plain client c.
		prepare func(t *testing.T, c *redis.Client, prefix string)
		opts    []redisstore.Option
		refused bool
	}{
		{
			name:    "same_options",
			prepare: func(t *testing.T, c *redis.Client, prefix string) { writeAccount(t, c, prefix) },
		},
		{
			name:    "other_shard_count",
			prepare: func(t *testing.T, c *redis.Client, prefix string) { writeAccount(t, c, prefix) },
			opts:    []redisstore.Option{redisstore.WithShards(redisstore.DefaultShards * 2)},
			refused: true,
		},
		{
			name: "other_format",
			prepare: func(t *testing.T, c *redis.Client, prefix string) {
				writeAccount(t, c, prefix)
				if err := c.Set(ctx, prefix+":layout", "iamkit redisstore format=1 shards=16 prefix="+prefix, 0).Err(); err != nil {
					t.Fatal(err)
				}
			},
			refused: true,
		},
		{
			name:    "empty_prefix",
			prepare: func(*testing.T, *redis.Client, string) {},
			opts:    []redisstore.Option{redisstore.WithShards(7)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := srv.Prefix + ":" + redistest.UniquePrefix()
			c.prepare(t, newClient(t, srv), prefix)
			client := newClient(t, srv)
			log := &keyLog{}
			client.AddHook(log)
			s, err := redisstore.New(ctx, client, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, c.opts...)...)
			if !c.refused {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("New on data laid out differently: no error")
			}
			if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != redisstore.CodeLayoutMismatch {
				t.Errorf("New: %v (code %q), want ErrInvalid with code %q", err, store.CodeOf(err), redisstore.CodeLayoutMismatch)
			}
			t.Logf("refused: %v", err)
			for _, k := range log.keysUnder(prefix) {
				if k != prefix+":layout" {
					t.Errorf("New sent a command naming %q: it must read nothing but the layout", k)
				}
			}
		})
	}
}

// writeAccount writes an account through a store with the default options, so that prefix
// holds data of that layout.
func writeAccount(t *testing.T, c *redis.Client, prefix string) {
	t.Helper()
	ctx := t.Context()
	s, err := redisstore.New(ctx, c, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutAccount(ctx, store.Account{ID: "acct_01LAYOUTTEST00000000000abcd", Name: "layout"})
	}); err != nil {
		t.Fatal(err)
	}
}

// TestNewFailsFastWithoutRedis points New at a port nobody listens on: it must fail within
// its context with an error matching store.ErrUnavailable.
func TestNewFailsFastWithoutRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaintNotificationsConfig: noMaintNotifications()})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	s, err := redisstore.New(ctx, c)
	if err == nil {
		s.Close()
		t.Fatal("New without Redis: no error")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("New without Redis: %v, want an error matching store.ErrUnavailable", err)
	}
}
