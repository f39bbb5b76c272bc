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

// entry holds one principal's compiled grants. g is nil until filled and after
// invalidation; ver (guarded by cache.mu) changes on every invalidation, so that a fill
// computed from data read before the invalidation is dropped.
type entry struct {
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
	dirty  map[key]*entry // nil, or every live entry of read plus new ones
	misses int
}

type readMap struct {
	m       map[key]*entry
	amended bool // dirty holds keys m lacks
}

func newCache() *cache {
	c := &cache{}
	c.read.Store(&readMap{m: map[key]*entry{}})
	return c
}

// get returns the grants cached for k, or nil.
func (c *cache) get(k key) *grants {
	r := c.read.Load()
	if e, ok := r.m[k]; ok {
		if g := e.g.Load(); g != nil {
			return g
		}
		return nil
	}
	if !r.amended {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.findLocked(k)
	if e == nil {
		return nil
	}
	return e.g.Load()
}

// findLocked looks k up in read then dirty, counting a miss when dirty is consulted.
func (c *cache) findLocked(k key) *entry {
	r := c.read.Load()
	if e, ok := r.m[k]; ok && !e.removed.Load() {
		return e
	}
	if c.dirty == nil {
		return nil
	}
	e := c.dirty[k]
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
		return e, e.ver
	}
	if c.dirty == nil {
		r := c.read.Load()
		c.dirty = make(map[key]*entry, len(r.m)+1)
		for k, e := range r.m {
			if !e.removed.Load() {
				c.dirty[k] = e
			}
		}
	}
	e := &entry{}
	c.dirty[k] = e
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
	e := c.read.Load().m[k]
	if e == nil && c.dirty != nil {
		e = c.dirty[k]
	}
	if e == nil {
		return
	}
	e.ver++
	e.g.Store(nil)
	if remove {
		e.removed.Store(true)
		if c.dirty != nil {
			delete(c.dirty, k)
		}
	}
}

// invalidateAccountLocked drops the grants of every principal of an account.
func (c *cache) invalidateAccountLocked(account string) {
	m := c.dirty
	if m == nil {
		m = c.read.Load().m
	}
	for k, e := range m {
		if k.account == account {
			e.ver++
			e.g.Store(nil)
		}
	}
}

// flush drops everything. Entries reserved before it are orphaned: filling them is harmless.
func (c *cache) flush() {
	c.mu.Lock()
	c.read.Store(&readMap{m: map[key]*entry{}})
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
