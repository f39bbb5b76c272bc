package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the environment variable that points the tests at an existing PostgreSQL, as a
// postgres:// URL of a role that may create databases. Tests then share that server, each in
// databases of its own.
const EnvURL = "IAMKIT_POSTGRES_URL"

// ErrUnavailable is matched by the errors of Launch when there is no PostgreSQL to test
// against (no postgres binary, or IAMKIT_POSTGRES_URL does not answer).
var ErrUnavailable = errors.New("pgtest: no PostgreSQL available")

// startTimeout bounds how long a started server may take to accept connections.
const startTimeout = 30 * time.Second

// Option configures Launch and Start.
type Option func(*config)

type config struct{ private bool }

// WithPrivate starts a server of the test's own even when IAMKIT_POSTGRES_URL is set: for
// tests that stop and restart it.
func WithPrivate() Option { return func(c *config) { c.private = true } }

// Server is a PostgreSQL a test can use.
type Server struct {
	// URL is a postgres:// URL of a superuser (or, for an external server, of the role
	// IAMKIT_POSTGRES_URL names) on the maintenance database.
	URL string
	// Addr is host:port.
	Addr string

	external bool
	dir      string // the temporary directory: data/ and the Unix socket
	bin      string // the postgres binary
	cred     *syscall.Credential

	adminOnce sync.Once
	admin     *pgxpool.Pool
	adminErr  error

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{}
}

// Start returns a PostgreSQL for t: the server named by IAMKIT_POSTGRES_URL when it is set
// (unless WithPrivate), otherwise a new server stopped when t ends. When neither is possible
// it skips t, or fails it when CI is set.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(opts...)
	Require(t, err)
	t.Cleanup(s.Close)
	return s
}

// Require fails or skips t on an error from Launch: it skips when the error matches
// ErrUnavailable and CI is not set, and fails otherwise.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable) && os.Getenv("CI") == "":
		t.Skipf("%v; skipping", err)
	case errors.Is(err, ErrUnavailable):
		t.Fatalf("%v (CI is set, so this fails instead of skipping)", err)
	default:
		t.Fatalf("pgtest: %v", err)
	}
}

// Launch is Start for callers without a testing.TB, such as TestMain. The caller must Close
// the server.
func Launch(opts ...Option) (*Server, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if u := os.Getenv(EnvURL); u != "" && !c.private {
		return external(u)
	}
	bin, err := binary("postgres")
	if err != nil {
		return nil, err
	}
	initdb, err := binary("initdb")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(s.dir)
			return nil, err
		}
	}
	if err := s.initdb(initdb); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "postgres://postgres@" + s.Addr + "/postgres?sslmode=disable"
	if err := s.launch(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

// external returns the server named by IAMKIT_POSTGRES_URL after checking that it answers.
func external(u string) (*Server, error) {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	s := &Server{URL: u, Addr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), external: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not answer: %v", ErrUnavailable, EnvURL, err)
	}
	conn.Close(ctx)
	return s, nil
}

// External reports whether the server is the shared one named by IAMKIT_POSTGRES_URL, which a
// test must not stop.
func (s *Server) External() bool { return s.external }

// Close stops a server this package started and removes its files. On an external server
// it only closes the admin connections (databases are dropped by their own cleanups).
func (s *Server) Close() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.external {
		return
	}
	s.Stop()
	os.RemoveAll(s.dir)
}

// Stop kills the server (the postmaster and all its processes) with SIGKILL, as a crash would, and waits for the postmaster to exit. It does nothing to an external server
// or one already stopped.
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
	killTree(p.Process.Pid)
	<-done
}

// killTree kills a postmaster and its children (backends and background processes, which
// run in sessions of their own) with SIGKILL. The postmaster is stopped first so that it
// forks no child the kill would miss.
func killTree(pid int) {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for _, child := range children(pid) {
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// children returns the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// Restart starts a stopped server again on the same port with the same data directory: it
// recovers from its write-ahead log as after a crash. It fails on an external server.
func (s *Server) Restart() error {
	if s.external {
		return errors.New("pgtest: cannot restart the external server")
	}
	s.Stop()
	if s.admin != nil {
		s.admin.Reset() // its connections died with the server
	}
	var err error
	for range 50 { // the port and shared memory may linger briefly after the kill
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pgtest: restart: %w", err)
}

// Database creates an empty database for t, dropped (with its connections) when t ends, and
// returns its URL.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	u, drop, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

// Pool creates an empty database for t and returns a pool on it; both are closed and dropped
// when t ends.
func (s *Server) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	u := s.Database(t)
	p, err := pgxpool.New(t.Context(), u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(p.Close) // runs before the database's cleanup, registered first
	return p
}

// CreateDatabase creates an empty database with a random name and returns its URL and a
// function that drops it, closing whatever connections remain.
func (s *Server) CreateDatabase(ctx context.Context) (string, func(context.Context) error, error) {
	admin, err := s.adminPool()
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	// FILE_COPY (PostgreSQL 15 and later) is several times faster than WAL-logging the copy.
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name+" STRATEGY FILE_COPY")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42601" { // a syntax error: an older server
		_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	}
	if err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func(ctx context.Context) error {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// adminPool returns a small pool on the maintenance database, for CREATE and DROP DATABASE.
func (s *Server) adminPool() (*pgxpool.Pool, error) {
	s.adminOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(s.URL)
		if err != nil {
			s.adminErr = err
			return
		}
		cfg.MaxConns = 2
		s.admin, s.adminErr = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	return s.admin, s.adminErr
}

// initdb creates the data directory: trust authentication, UTF-8, ICU's en-US collation.
func (s *Server) initdb(bin string) error {
	cmd := exec.Command(bin, "-D", filepath.Join(s.dir, "data"), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US",
		"--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// launch starts postgres on the data directory and waits until it accepts connections.
func (s *Server) launch() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "-D", filepath.Join(s.dir, "data"), "-p", port,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "max_connections=300", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB", "-c", "log_min_messages=warning")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	if err := waitReady(s.URL, done); err != nil {
		killTree(cmd.Process.Pid)
		<-done
		return fmt.Errorf("postgres on %s: %w (log: %s)", s.Addr, err, tail(logPath))
	}
	s.mu.Lock()
	s.proc, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// waitReady connects until the server answers, it exits, or startTimeout passes.
func waitReady(u string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return errors.New("exited during start-up")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not accept connections in time: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// binary finds a PostgreSQL program on PATH or in Debian's /usr/lib/postgresql/<version>/bin,
// newest version first.
func binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not on PATH nor in /usr/lib/postgresql/*/bin, and %s is not set", ErrUnavailable, name, EnvURL)
}

// version returns the major version in a path /usr/lib/postgresql/<version>/bin.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// postgresUser returns the credential of the postgres system user, for running as root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root and there is no postgres user to run the server as: %v", ErrUnavailable, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort finds a loopback port that is free now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
