// Package storeopen opens the store a reference server runs on, from its -store flag (or its
// older alias -redis): the embedded memstore when the flag is empty or "memory"; Redis,
// standalone or Cluster, through redisstore with its default key prefix and shard count; or
// PostgreSQL through pgstore. Servers given the same Redis or the same database share state:
// that is what lets the API server and the edges work together.
//
// A spec (the flag's value) is one of:
//
//	"" or memory                  the embedded memstore, new and empty each run
//	redis://host:port/db          Redis (rediss:// for TLS); a bare host:port means redis://
//	host:7000,host:7001           a Redis Cluster, by the addresses of some of its nodes
//	                              (one node: "host:7000,")
//	postgres://user@host/db       PostgreSQL (postgresql:// too), pgx's connection string
//
// Errors never repeat a spec, which may hold a password.
package storeopen
