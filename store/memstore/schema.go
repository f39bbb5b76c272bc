package memstore

import (
	"net/netip"
	"strings"
	"time"

	"github.com/tidwall/btree"

	"github.com/iamkit/iamkit/store"
)

// The data of a Store is a version: for each store.Table, a B-tree of its records by
// primary key and a B-tree per index (github.com/tidwall/btree). A committed version is never
// modified: an Update works on a version whose tables it copies, copy-on-write, the first
// time it writes to them (a B-tree copy is O(1); nodes are copied as they are written), and
// commits by making it the current one. A View reads the version current when it began: a
// snapshot.
//
// B-trees rather than radix trees (go-memdb, before) because of what an entry costs: a radix
// tree node or leaf carries a channel for watches this store never used, and a bot user with
// its audit event held five entries (about 360 bytes each) besides the records. A B-tree
// entry is two strings in a node of up to 31.

// usage is a credential's last use (time and address), kept apart from the credential so
// that recording it is not a change.
type usage struct {
	At time.Time
	IP netip.Addr
}

// version is one state of the database.
type version struct {
	tables map[store.Kind]*table
}

// table holds one store.Table's records and indexes.
type table struct {
	t       *store.Table
	rows    *btree.BTreeG[row]
	indexes map[string]*btree.BTreeG[entry]
}

// row is a record under its primary key.
type row struct {
	key string
	rec any // a value of the table's record type, owned by the store
}

// entry is an index entry: the record with primary key pk has the index values whose
// indexKey is vals. A unique index holds one entry per vals; a listing index orders its
// entries by vals, then pk.
type entry struct {
	vals string
	pk   string
}

func rowLess(a, b row) bool { return a.key < b.key }

func uniqueLess(a, b entry) bool { return a.vals < b.vals }

func listingLess(a, b entry) bool {
	if a.vals != b.vals {
		return a.vals < b.vals
	}
	return a.pk < b.pk
}

func newTable(t *store.Table) *table {
	tb := &table{t: t, rows: btree.NewBTreeGOptions(rowLess, btree.Options{Degree: treeDegree}), indexes: map[string]*btree.BTreeG[entry]{}}
	for _, ix := range t.Indexes {
		less := listingLess
		if ix.Unique {
			less = uniqueLess
		}
		tb.indexes[ix.Name] = btree.NewBTreeGOptions(less, btree.Options{Degree: treeDegree})
	}
	return tb
}

// copy returns a copy of tb that can be written without changing tb.
func (tb *table) copy() *table {
	c := &table{t: tb.t, rows: tb.rows.Copy(), indexes: make(map[string]*btree.BTreeG[entry], len(tb.indexes))}
	for name, ix := range tb.indexes {
		c.indexes[name] = ix.Copy()
	}
	return c
}

// sep separates the values of a compound index key. IDs and the enumerations indexes hold
// never contain it, and only an index's last value is free-form.
const sep = "\x00"

// indexKey is the key of index values: each value followed by sep.
func indexKey(values []string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(v)
		b.WriteString(sep)
	}
	return b.String()
}

// singleUse is a stored single-use key.
type singleUse struct {
	Value     []byte
	ExpiresAt time.Time
}

// treeDegree sizes the B-trees' nodes: 15 to 31 entries, so that an Update, which copies
// the nodes it writes, copies half as much per tree as with the default 31 to 63 (a bot
// user's creation: 38 -> 29 KB allocated, 0.9 KB kept either way).
const treeDegree = 16
