// Package pgtest starts PostgreSQL servers for tests, as internal/redistest does for Redis: a
// server of its own, initialised with initdb into a temporary directory and listening on a
// free loopback port with trust authentication, or the existing server named by the
// IAMKIT_POSTGRES_URL environment variable.
//
// Start ties a server to one test; Launch returns one a test binary can share (start it in
// TestMain, Close it after m.Run). Tests that share a server each work in a database of
// their own (Server.Database, Server.Pool), dropped when the test ends, so they can run in
// parallel. A test that kills and restarts the server asks for a private one (WithPrivate).
// A test that cannot get a server skips with a message, except when the CI environment
// variable is set: then it fails, so that a missing PostgreSQL never passes silently in CI.
//
// The binaries are looked up on PATH and then in /usr/lib/postgresql/<version>/bin, where
// Debian's postgresql package installs them. PostgreSQL refuses to run as root: when the
// tests run as root, initdb and postgres run as the postgres system user, which owns the
// temporary directory. The default collation of a started server is ICU's en-US, not C, so
// that code which relies on byte order must say so (COLLATE "C"). Servers run with fsync off:
// a process killed with SIGKILL loses nothing the kernel has (only an operating system crash
// would). Stop kills the server, the postmaster and every process it started, with SIGKILL.
package pgtest
