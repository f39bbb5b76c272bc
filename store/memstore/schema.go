package memstore

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/iamkit/iamkit/store"
)

// Tables of this package's own, beside one per store.Table (named after its Kind).
const (
	tUsage     = "_usage"
	tSingleUse = "_single_use"
)

// idIndex is the name of every table's primary-key index (memdb requires "id").
const idIndex = "id"

// usage is a credential's last use (time and address), kept apart from the credential so
// that recording it is not a change.
type usage struct {
	ID string
	At time.Time
	IP netip.Addr
}

// singleUse is a stored single-use key.
type singleUse struct {
	Key       string
	Value     []byte
	ExpiresAt time.Time
}

// sep separates the values of a compound index key. IDs and the enumerations indexes hold
// never contain it, and only an index's last value is free-form.
const sep = "\x00"

// indexKey is the memdb key of index values: each value followed by sep.
func indexKey(values []string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(v)
		b.WriteString(sep)
	}
	return b.String()
}

// keyIndexer indexes a record by a function of it. Listing indexes append the primary key to
// the values, so that their entries are distinct and ordered by primary key.
type keyIndexer struct {
	fn func(rec any) (string, bool)
}

func (x keyIndexer) FromObject(obj any) (bool, []byte, error) {
	k, ok := x.fn(obj)
	if !ok {
		return false, nil, nil
	}
	return true, []byte(k), nil
}

func (x keyIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one key argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("key argument is a %T, want string", args[0])
	}
	return []byte(s), nil
}

// PrefixFromArgs implements memdb.PrefixIndexer: keys are already prefix-safe, since every
// value is followed by sep.
func (x keyIndexer) PrefixFromArgs(args ...any) ([]byte, error) { return x.FromArgs(args...) }

// schema returns the memdb schema of tables: one memdb table per store.Table, indexed by
// primary key and by each of its indexes. memdb does not enforce Unique indexes on insert (it
// replaces the entry): Put checks them itself before every write.
func schema(tables map[store.Kind]store.Table) *memdb.DBSchema {
	db := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tUsage: {Name: tUsage, Indexes: map[string]*memdb.IndexSchema{
			idIndex: {Name: idIndex, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		}},
		tSingleUse: {Name: tSingleUse, Indexes: map[string]*memdb.IndexSchema{
			idIndex:   {Name: idIndex, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			"expires": {Name: "expires", Indexer: &timeIndex{Field: "ExpiresAt"}},
		}},
	}}
	for kind, t := range tables {
		ts := &memdb.TableSchema{Name: string(kind), Indexes: map[string]*memdb.IndexSchema{
			idIndex: {Name: idIndex, Unique: true, Indexer: keyIndexer{func(rec any) (string, bool) { return t.Key(rec), true }}},
		}}
		for _, ix := range t.Indexes {
			ts.Indexes[ix.Name] = &memdb.IndexSchema{
				Name: ix.Name, Unique: ix.Unique, AllowMissing: true,
				Indexer: keyIndexer{func(rec any) (string, bool) {
					vals, ok := ix.Values(rec)
					if !ok {
						return "", false
					}
					if ix.Unique {
						return indexKey(vals), true
					}
					return indexKey(vals) + t.Key(rec), true
				}},
			}
		}
		db.Tables[string(kind)] = ts
	}
	return db
}

// timeIndex indexes a time.Time field by its Unix nanoseconds, big-endian, so iteration is in
// time order.
type timeIndex struct{ Field string }

func (x *timeIndex) FromObject(obj any) (bool, []byte, error) {
	v := reflect.Indirect(reflect.ValueOf(obj)).FieldByName(x.Field)
	t, ok := v.Interface().(time.Time)
	if !ok {
		return false, nil, fmt.Errorf("field %s is not a time.Time", x.Field)
	}
	return true, timeKey(t), nil
}

func (x *timeIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one argument, got %d", len(args))
	}
	t, ok := args[0].(time.Time)
	if !ok {
		return nil, fmt.Errorf("argument is a %T, want time.Time", args[0])
	}
	return timeKey(t), nil
}

func timeKey(t time.Time) []byte {
	// Offset by 1<<63 so that times before 1970 still sort first.
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())^(1<<63))
}
