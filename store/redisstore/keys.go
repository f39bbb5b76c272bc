package redisstore

import (
	"strconv"
	"strings"

	"github.com/iamkit/iamkit/store"
)

// clusterSlots is the number of hash slots of Redis Cluster.
const clusterSlots = 16384

// key is a Redis key and the shard bucket it lives in; bucket is -1 for the global keys
// (pointers, per-user indexes, single-use keys), which live in no bucket's slot.
type key struct {
	k string
	b int
}

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

// bucket returns the shard bucket of an ID: a hash of its shard tag (store.ShardTag). It is
// computed with small integers so that it could be reproduced anywhere, Lua included.
func (ks *keyspace) bucket(id string) int {
	tag := store.ShardTag(id)
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

// rec is the key of a record, in the bucket of its own ID.
func (ks *keyspace) rec(kind, id string) key { return ks.inBucket(ks.bucket(id), kind, id) }

// acc is an account-scoped key (index, unique key) in the account's bucket.
func (ks *keyspace) acc(accountID string, parts ...string) key {
	return ks.inBucket(ks.bucket(accountID), append([]string{"x", accountID}, parts...)...)
}

// global is a key outside every bucket.
func (ks *keyspace) global(parts ...string) key {
	return key{k: ks.prefix + ":" + strings.Join(parts, ":"), b: -1}
}

// Record kinds in key names.
const (
	kAccount    = "ac"
	kUser       = "usr"
	kInvitation = "inv"
	kBot        = "bot"
	kCred       = "cr"
	kRole       = "role"
	kIdP        = "idp"
	kEvent      = "ev"
)

func (ks *keyspace) membership(accountID, userID string) key {
	return ks.acc(accountID, "mem", userID)
}

// Indexes: sorted sets of IDs (score 0, ordered by member), newest last.
func (ks *keyspace) ixMembers(accountID string) key     { return ks.acc(accountID, "ix", "mem") }
func (ks *keyspace) ixInvitations(accountID string) key { return ks.acc(accountID, "ix", "inv") }
func (ks *keyspace) ixBots(accountID string) key        { return ks.acc(accountID, "ix", "bot") }
func (ks *keyspace) ixRoles(accountID string) key       { return ks.acc(accountID, "ix", "role") }
func (ks *keyspace) ixIdPs(accountID string) key        { return ks.acc(accountID, "ix", "idp") }
func (ks *keyspace) ixEvents(accountID string) key      { return ks.acc(accountID, "ix", "ev") }
func (ks *keyspace) ixCreds(accountID string, kind store.CredentialKind) key {
	return ks.acc(accountID, "ix", "cr", string(kind))
}
func (ks *keyspace) ixCredsByOwner(accountID, ownerID string) key {
	return ks.acc(accountID, "ix", "cro", ownerID)
}

// memberStatus is the set of an account's members with one status.
func (ks *keyspace) memberStatus(accountID, status string) key {
	return ks.acc(accountID, "ms", status)
}

// unique is a per-account unique key: its value is the ID holding it.
func (ks *keyspace) unique(accountID, index, value string) key {
	return ks.acc(accountID, "u", index, value)
}

// externalID is the link of an IdP's subject to a user, in the IdP's (so the account's)
// bucket.
func (ks *keyspace) externalID(idpID, subject string) key {
	return ks.inBucket(ks.bucket(idpID), "xid", idpID, subject)
}

// lastUsed is the hash of last-used times of the credentials of bucket b.
func (ks *keyspace) lastUsed(b int) key { return ks.inBucket(b, "lastused") }

// feed is the change stream of bucket b.
func (ks *keyspace) feed(b int) key { return ks.inBucket(b, "feed") }

// Global pointers and per-user keys.
func (ks *keyspace) emailPtr(email string) key         { return ks.global("email", email) }
func (ks *keyspace) secretPtr(hash string) key         { return ks.global("secret", hash) }
func (ks *keyspace) fingerprintPtr(fp string) key      { return ks.global("fp", fp) }
func (ks *keyspace) userMemberships(userID string) key { return ks.global("um", userID) }
func (ks *keyspace) singleUse(k string) key            { return ks.global("once", k) }

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
