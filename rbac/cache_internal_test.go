package rbac

import (
	"fmt"
	"sync"
	"testing"
)

func TestCacheConcurrentUse(t *testing.T) {
	c := newCache()
	keys := make([]key, 64)
	for i := range keys {
		keys[i] = key{fmt.Sprintf("ac_%d", i%4), fmt.Sprintf("usr_%d", i)}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := keys[(i*7+w)%len(keys)]
				if c.get(k) == nil {
					e, v := c.reserve(k)
					c.fill(e, v, &grants{allowed: SetOf(CredentialsRead)})
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			c.mu.Lock()
			switch i % 3 {
			case 0:
				c.invalidateLocked(keys[i%len(keys)], false)
			case 1:
				c.invalidateLocked(keys[i%len(keys)], true)
			case 2:
				c.invalidateAccountLocked("ac_1")
			}
			c.mu.Unlock()
			if i%500 == 0 {
				c.flush()
			}
		}
	}()
	wg.Wait()
	if n := c.len(); n > len(keys) {
		t.Fatalf("%d entries for %d keys", n, len(keys))
	}
}

// A fill computed before an invalidation must not land after it.
func TestCacheStaleFillIsDropped(t *testing.T) {
	c := newCache()
	k := key{"ac_1", "usr_1"}
	e, v := c.reserve(k)
	c.mu.Lock()
	c.invalidateLocked(k, false)
	c.mu.Unlock()
	c.fill(e, v, &grants{})
	if c.get(k) != nil {
		t.Fatal("stale fill was kept")
	}
	e, v = c.reserve(k)
	c.fill(e, v, &grants{})
	if c.get(k) == nil {
		t.Fatal("fresh fill was dropped")
	}
	c.flush()
	if c.get(k) != nil || c.len() != 0 {
		t.Fatal("flush kept entries")
	}
}
