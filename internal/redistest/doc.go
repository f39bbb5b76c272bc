// Package redistest starts Redis servers for tests: a standalone redis-server (or the one named
// by the IAMKIT_REDIS_URL environment variable) and a small Redis Cluster on loopback.
//
// Start and StartCluster tie a server to one test; Launch and LaunchCluster return one a
// test binary can share (start it on first use, Close it after m.Run), with each test
// keeping its keys under a prefix of its own (UniquePrefix). A test that cannot get a server
// skips with a message, except when the CI environment variable is set: then it fails, so
// that a missing redis-server never passes silently in CI.
//
// Servers started here listen on 127.0.0.1 only, run without persistence unless asked
// (WithAOF), keep their files in a temporary directory removed on Close, and are killed
// with SIGKILL when closed. A test can crash one (Stop, Restart) or freeze it (Pause,
// Resume: SIGSTOP and SIGCONT, connections stay open and go unanswered). The package's own
// clients set go-redis's ContextTimeoutEnabled, as store/redisstore recommends. The
// functions are safe for concurrent use; a Server's Stop, Restart and Close must not race
// with each other.
package redistest
