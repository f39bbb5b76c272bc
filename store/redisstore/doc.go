// Package redisstore is a store.Store on Redis (github.com/redis/go-redis/v9), standalone or
// Redis Cluster, for when several processes share one set of accounts.
//
// Not implemented yet: this package holds only its documentation for now.
package redisstore
