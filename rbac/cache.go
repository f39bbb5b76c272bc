package rbac

import (
	"sync"
	"sync/atomic"
)

// key identifies a principal's grants in an account.
type key struct {
	account   string
	principal string
}

// hash folds the last 16 bytes of both IDs into a map key. The tail of an iamkit ID is the
// random part of its ULID and its shard tag, so this is cheap (four 8-byte loads) and
// well spread; the map hashes the result again. Entries keep their full key, compared on
// every hit, so a collision (or an ID shorter than 16 bytes, which cannot be valid) costs
// only caching: the colliding principal is compiled each time.
func (k key) hash() uint64 {
	a, p := k.account, k.principal
	if len(a) < 16 || len(p) < 16 {
		return uint64(len(a))<<32 | uint64(len(p))
	}
	const m1, m2, m3 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
	return load64(p, len(p)-8) ^ load64(p, len(p)-16)*m1 ^ load64(a, len(a)-8)*m2 ^ load64(a, len(a)-16)*m3
}

// load64 reads 8 bytes of s at i, little-endian (the compiler makes it one load).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// entry holds one principal's compiled grants. g is nil until filled and after
// invalidation; ver (guarded by cache.mu) changes on every invalidation, so that a fill
// computed from data read before the invalidation is dropped.
type entry struct {
	key     key // immutable
	g       atomic.Pointer[grants]
	ver     uint64      // +checklocks:cache.mu
	removed atomic.Bool // written under cache.mu
}

// cache maps (account, principal) to compiled grants. Reads of a warm key take no lock and
// make no allocation: a read-only map published through an atomic pointer answers them, as
// in sync.Map. New keys go to dirty, a superset of the read map, which is promoted when
// misses have cost as much as copying it.
type cache struct {
	read atomic.Pointer[readMap]

	mu     sync.Mutex
	dirty  map[uint64]*entry // nil, or every live entry of read plus new ones
	misses int
}

type readMap struct {
	m       map[uint64]*entry
	amended bool // dirty holds keys m lacks
}

func newCache() *cache {
	c := &cache{}
	c.read.Store(&readMap{m: map[uint64]*entry{}})
	return c
}

// get returns the grants cached for k, or nil.
func (c *cache) get(k key) *grants {
	r := c.read.Load()
	if e, ok := r.m[k.hash()]; ok {
		if e.key != k {
			return nil // a hash collision: k is not cached
		}
		return e.g.Load()
	}
	if !r.amended {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.findLocked(k)
	if e == nil || e.key != k {
		return nil
	}
	return e.g.Load()
}

// findLocked looks k's hash up in read then dirty, counting a miss when dirty is
// consulted. The entry returned may hold another key (a collision).
func (c *cache) findLocked(k key) *entry {
	h := k.hash()
	r := c.read.Load()
	if e, ok := r.m[h]; ok && !e.removed.Load() {
		return e
	}
	if c.dirty == nil {
		return nil
	}
	e := c.dirty[h]
	c.misses++
	if c.misses >= len(c.dirty) {
		c.read.Store(&readMap{m: c.dirty})
		c.dirty, c.misses = nil, 0
	}
	return e
}

// reserve returns k's entry, creating it if needed, and its version: pass both to fill.
func (c *cache) reserve(k key) (*entry, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.findLocked(k); e != nil {
		if e.key != k {
			return &entry{key: k}, 0 // a collision: fill a detached entry, cache nothing
		}
		return e, e.ver
	}
	if c.dirty == nil {
		r := c.read.Load()
		c.dirty = make(map[uint64]*entry, len(r.m)+1)
		for h, e := range r.m {
			if !e.removed.Load() {
				c.dirty[h] = e
			}
		}
	}
	e := &entry{key: k}
	c.dirty[k.hash()] = e
	if r := c.read.Load(); !r.amended {
		c.read.Store(&readMap{m: r.m, amended: true})
	}
	return e, 0
}

// fill stores g in e unless e was invalidated since reserve returned ver.
func (c *cache) fill(e *entry, ver uint64, g *grants) {
	c.mu.Lock()
	if e.ver == ver && !e.removed.Load() {
		e.g.Store(g)
	}
	c.mu.Unlock()
}

// invalidateLocked drops k's grants; with remove, the key itself goes too.
func (c *cache) invalidateLocked(k key, remove bool) {
	h := k.hash()
	e := c.read.Load().m[h]
	if (e == nil || e.removed.Load()) && c.dirty != nil {
		e = c.dirty[h]
	}
	if e == nil || e.key != k {
		return
	}
	e.ver++
	e.g.Store(nil)
	if remove {
		e.removed.Store(true)
		if c.dirty != nil && c.dirty[h] == e {
			delete(c.dirty, h)
		}
	}
}

// invalidateAccountLocked drops the grants of every principal of an account.
func (c *cache) invalidateAccountLocked(account string) {
	m := c.dirty
	if m == nil {
		m = c.read.Load().m
	}
	for _, e := range m {
		if e.key.account == account {
			e.ver++
			e.g.Store(nil)
		}
	}
}

// flush drops everything. Entries reserved before it are orphaned: filling them is harmless.
func (c *cache) flush() {
	c.mu.Lock()
	c.read.Store(&readMap{m: map[uint64]*entry{}})
	c.dirty, c.misses = nil, 0
	c.mu.Unlock()
}

// len returns the number of keys cached, for tests and metrics.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty != nil {
		return len(c.dirty)
	}
	n := 0
	for _, e := range c.read.Load().m {
		if !e.removed.Load() {
			n++
		}
	}
	return n
}
