// Package id generates and parses iamkit's identifiers.
//
// An ID is a type prefix, an underscore and a 30-character body:
//
//	usr_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ
//	    \________ ULID ________/\tag/
//
// The first 26 characters are a ULID (Crockford base32): 48 bits of milliseconds, then 10
// bits of microseconds within the millisecond and 70 random bits. Within one Generator IDs
// strictly increase (an ID that would not sort after the previous one is the previous one plus
// one), so their lexicographic order is their creation order; IDs made by different
// Generators of a process sort in creation order to the microsecond. The last 4 characters are the shard tag: for an account they are
// random, and every record that belongs to an account carries its account's tag, so a store
// that shards by account (Redis Cluster) can route any ID, or any token that embeds one,
// without a lookup. Records that belong to no account (users) get a random tag.
//
// IDs whose time part is zero are reserved (Reserved): no Generator makes one, whatever its
// clock, so that a test token built on one (credential's test tokens for secret scanners)
// can never name a live record.
package id
