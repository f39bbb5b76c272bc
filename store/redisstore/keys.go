package redisstore

import (
	"strconv"
	"strings"

	"github.com/iamkit/iamkit/store"
)

// clusterSlots is the number of hash slots of Redis Cluster.
const clusterSlots = 16384

// key is a Redis key and the shard bucket it lives in; bucket is -1 for the global keys
// (global index entries, single-use keys), which live in no bucket's slot.
type key struct {
	k string
	b int
}

// global reports whether the key lives outside every bucket.
func (k key) global() bool { return k.b < 0 }

// keyspace builds every key the store uses. It is immutable after newKeyspace.
type keyspace struct {
	prefix string
	n      int
	tags   []string // the hash tag of each bucket, without braces
	heads  []string // prefix + ":{" + tag + "}:" for each bucket
}

func newKeyspace(prefix string, n int) *keyspace {
	ks := &keyspace{prefix: prefix, n: n, tags: make([]string, n), heads: make([]string, n)}
	// Give bucket i a hash tag whose slot falls in the i-th n-th of the slot range, so that
	// the buckets spread evenly over the masters of a cluster made with the default
	// contiguous slot ranges.
	filled := 0
	for c := 0; filled < n; c++ {
		tag := strconv.FormatInt(int64(c), 36)
		b := int(crc16(tag)%clusterSlots) * n / clusterSlots
		if ks.tags[b] == "" {
			ks.tags[b] = tag
			filled++
		}
	}
	for i, t := range ks.tags {
		ks.heads[i] = prefix + ":{" + t + "}:"
	}
	return ks
}

// bucket returns the shard bucket of a primary key: a hash of the shard tag it routes by
// (store.RouteKey: the tag of its first ID). It is computed with small integers so that it
// can be reproduced anywhere, Lua included (luaBucket).
func (ks *keyspace) bucket(primaryKey string) int {
	tag := store.RouteKey(primaryKey)
	h := 0
	for i := 0; i < len(tag); i++ {
		h = (h*31 + int(tag[i])) % 65521
	}
	return h % ks.n
}

// inBucket returns the key name for parts under bucket b.
func (ks *keyspace) inBucket(b int, parts ...string) key {
	return key{k: ks.heads[b] + strings.Join(parts, ":"), b: b}
}

// global is a key outside every bucket.
func (ks *keyspace) global(parts ...string) key {
	return key{k: ks.prefix + ":" + strings.Join(parts, ":"), b: -1}
}

// recordTail is what follows a bucket's head in the key of a record of kind: the record
// key is the tail followed by the primary key. The page script builds record keys from it.
func recordTail(kind store.Kind) string { return "r:" + string(kind) + ":" }

// record is the key of a record, in the bucket of its primary key.
func (ks *keyspace) record(kind store.Kind, primaryKey string) key {
	b := ks.bucket(primaryKey)
	return key{k: ks.heads[b] + recordTail(kind) + primaryKey, b: b}
}

// index is the key of an index entry: for a unique index, a string holding the primary key
// of the record with those values (a pointer when the index is Global); for a listing
// index, a sorted set of primary keys. A per-account index lives in the bucket of its first
// value, the account's ID; a Global one outside every bucket. Values are joined with ':',
// which only an index's last value may contain (store.Index).
func (ks *keyspace) index(kind store.Kind, ix store.Index, values []string) key {
	what := "l"
	if ix.Unique {
		what = "u"
	}
	parts := append([]string{what, string(kind), ix.Name}, values...)
	if ix.Global {
		return ks.global(parts...)
	}
	return ks.inBucket(ks.bucket(values[0]), parts...)
}

// lastUsed is the hash of last-used times of the credentials of bucket b.
func (ks *keyspace) lastUsed(b int) key { return ks.inBucket(b, "lastused") }

// feedTag holds the tag of the last commit written to bucket b's change stream: what Head
// gives a position at the end of a stream that has been emptied.
func (ks *keyspace) feedTag(b int) key { return ks.inBucket(b, "feedtag") }

// feed is the change stream of bucket b.
func (ks *keyspace) feed(b int) key { return ks.inBucket(b, "feed") }

// singleUse is a single-use key.
func (ks *keyspace) singleUse(k string) key { return ks.global("once", k) }

// layout is the key that records the layout of the data under the prefix.
func (ks *keyspace) layout() string { return ks.prefix + ":layout" }

// doorbell is the Pub/Sub channel on which Cluster commits announce themselves.
func (ks *keyspace) doorbell() string { return ks.prefix + ":feed-doorbell" }

// crc16 is CRC-16/XMODEM, the hash Redis Cluster maps keys to slots with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
