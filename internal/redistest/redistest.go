package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable that points the tests at an existing Redis, as a
// redis:// URL. Tests then share that server and separate their data by key prefix.
const EnvURL = "IAMKIT_REDIS_URL"

// startTimeout bounds how long a started server may take to answer PING.
const startTimeout = 15 * time.Second

// Option configures Start.
type Option func(*config)

type config struct {
	aof     bool
	private bool
}

// WithAOF turns the append-only file on (appendfsync always), so that a server killed with
// SIGKILL and restarted keeps every write it acknowledged. It forces a private server even
// when IAMKIT_REDIS_URL is set, since the test will kill it.
func WithAOF() Option { return func(c *config) { c.aof, c.private = true, true } }

// WithPrivate starts a server of the test's own even when IAMKIT_REDIS_URL is set: for tests
// that restart it, or that write under the default key prefix rather than Server.Prefix.
func WithPrivate() Option { return func(c *config) { c.private = true } }

// Server is a standalone Redis a test can use.
type Server struct {
	// Addr is host:port.
	Addr string
	// URL is a redis:// URL for Addr.
	URL string
	// Prefix is a key prefix unique to this Start call. Tests that share an external server
	// (IAMKIT_REDIS_URL) must keep their keys under it; keys under it are deleted at cleanup.
	Prefix string

	external bool
	dir      string
	args     []string
	port     int
	cleanup  func()

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{}
}

// Start returns a standalone Redis for t: the server named by IAMKIT_REDIS_URL when it is
// set (unless an option demands a private server), otherwise a new redis-server from PATH
// with no persistence on a free loopback port, stopped when t ends. When neither is
// possible it skips t, or fails it when CI is set.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(opts...)
	Require(t, err)
	t.Cleanup(s.Close)
	return s
}

// ErrUnavailable is matched by the errors of Launch and LaunchCluster when there is no
// Redis to test against (no redis-server on PATH, or IAMKIT_REDIS_URL does not answer).
var ErrUnavailable = errors.New("redistest: no Redis available")

// Require fails or skips t on an error from Launch or LaunchCluster: it skips when the
// error matches ErrUnavailable and CI is not set, and fails otherwise.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable):
		unavailable(t, err.Error())
	default:
		t.Fatalf("redistest: %v", err)
	}
}

// Launch is Start for callers without a testing.TB, such as TestMain, to share one server
// among the tests of a binary. The caller must Close the server.
func Launch(opts ...Option) (*Server, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := &Server{Prefix: UniquePrefix()}
	if u := os.Getenv(EnvURL); u != "" && !c.private {
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvURL, err)
		}
		o.ContextTimeoutEnabled = true // honour the deadlines below (see redisstore's doc)
		s.Addr, s.URL, s.external = o.Addr, u, true
		if err := ping(o); err != nil {
			return nil, fmt.Errorf("%w: %s=%s does not answer: %v", ErrUnavailable, EnvURL, u, err)
		}
		s.cleanup = func() { s.deletePrefix(o) }
		return s, nil
	}
	bin, err := lookBinary("redis-server")
	if err != nil {
		return nil, err
	}
	port, err := freePort(false)
	if err != nil {
		return nil, fmt.Errorf("no free port: %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	s.port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "redis://" + s.Addr
	s.args = []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning",
	}
	if c.aof {
		s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		s.args = append(s.args, "--appendonly", "no")
	}
	s.args = append([]string{bin}, s.args...)
	s.cleanup = func() { s.Stop(); os.RemoveAll(dir) }
	if err := s.launch(); err != nil {
		s.cleanup()
		return nil, err
	}
	return s, nil
}

// Close stops a server this package started and removes its files, or deletes the keys
// under Prefix on the external server.
func (s *Server) Close() {
	if s.cleanup != nil {
		s.cleanup()
	}
}

// External reports whether the server is the shared one named by IAMKIT_REDIS_URL, which a
// test must not stop.
func (s *Server) External() bool { return s.external }

// Stop kills the server with SIGKILL, as a crash would, and waits for it to exit. It does
// nothing to an external server or one already stopped.
func (s *Server) Stop() {
	if s.external {
		return
	}
	s.mu.Lock()
	p, done := s.proc, s.done
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.Process.Kill()
	<-done
}

// Restart starts a stopped server again on the same port with the same directory (so an
// AOF-enabled server reloads its data). It fails on an external server.
func (s *Server) Restart() error {
	if s.external {
		return errors.New("redistest: cannot restart the external server")
	}
	s.Stop()
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after the kill
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("redistest: restart: %w", err)
}

func (s *Server) launch() error {
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Dir = s.dir
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	if err := waitReady(s.Addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on %s: %w (log: %s)", s.Addr, err, tail(filepath.Join(s.dir, "redis.log")))
	}
	s.mu.Lock()
	s.proc, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// deletePrefix removes the keys a test left under its prefix on a shared server.
func (s *Server) deletePrefix(o *redis.Options) {
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, s.Prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
}

// Cluster is a Redis Cluster of masters on loopback.
type Cluster struct {
	// Addrs are the masters' host:port addresses.
	Addrs []string
	nodes []*Server
}

// StartCluster starts n redis-server processes with cluster mode on (no persistence, no
// replicas), joins them with redis-cli --cluster create, and waits for cluster_state:ok.
// The processes are killed when t ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := LaunchCluster(n)
	Require(t, err)
	t.Cleanup(c.Close)
	return c
}

// LaunchCluster is StartCluster for callers without a testing.TB. The caller must Close
// the cluster.
func LaunchCluster(n int) (*Cluster, error) {
	if n < 3 {
		return nil, fmt.Errorf("a cluster needs at least 3 masters, got %d", n)
	}
	bin, err := lookBinary("redis-server")
	if err != nil {
		return nil, err
	}
	cli, err := lookBinary("redis-cli")
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		port, err := freePort(true)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("no free port: %w", err)
		}
		dir, err := os.MkdirTemp("", "redistest-cluster-")
		if err != nil {
			c.Close()
			return nil, err
		}
		s := &Server{dir: dir, port: port}
		s.cleanup = func() { s.Stop(); os.RemoveAll(dir) }
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.URL = "redis://" + s.Addr
		s.args = []string{bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", s.dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", "5000",
		}
		c.nodes = append(c.nodes, s)
		if err := s.launch(); err != nil {
			c.Close()
			return nil, err
		}
		c.Addrs = append(c.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, a := range c.Addrs {
		for !clusterOK(a) {
			if time.Now().After(deadline) {
				c.Close()
				return nil, fmt.Errorf("cluster node %s never reached cluster_state:ok", a)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c, nil
}

// Close kills the cluster's processes and removes their files.
func (c *Cluster) Close() {
	for _, s := range c.nodes {
		s.Close()
	}
}

func clusterOK(addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		return false
	}
	// Every slot must be served and the node must know its peers.
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return false
	}
	covered := 0
	for _, s := range slots {
		covered += int(s.End - s.Start + 1)
	}
	return covered == 16384
}

// UniquePrefix returns a short random key prefix, for tests that share a server.
func UniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

func lookBinary(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not on PATH and %s is not set", ErrUnavailable, name, EnvURL)
	}
	return p, nil
}

// unavailable skips the test, or fails it when CI is set.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("redistest: %s (CI is set, so this fails instead of skipping)", msg)
	}
	t.Skipf("redistest: %s; skipping", msg)
}

// freePort finds a loopback port that is free now (and, for cluster nodes, whose cluster bus
// port, port+10000, is free too).
func freePort(cluster bool) (int, error) {
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !cluster {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return port, nil
	}
	return 0, errors.New("gave up after 100 tries")
}

func ping(o *redis.Options) error {
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return errors.New("exited during start-up")
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write([]byte("PING\r\n"))
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if err == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("did not answer PING in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}
