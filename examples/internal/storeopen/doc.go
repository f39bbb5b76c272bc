// Package storeopen opens the store a reference server runs on, from its -redis flag: the
// embedded memstore when the flag is empty, otherwise Redis through redisstore with its
// default key prefix and shard count, which is what lets the API server and the edges share
// state by pointing at the same Redis.
package storeopen
