package memstore

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Table names.
const (
	tAccounts    = "accounts"
	tUsers       = "users"
	tMemberships = "memberships"
	tInvitations = "invitations"
	tBots        = "bot_users"
	tCredentials = "credentials"
	tRoles       = "roles"
	tIdPs        = "identity_providers"
	tEvents      = "events"
	tUsage       = "usage"
	tSingleUse   = "single_use"
	tExternalIDs = "external_identities"
)

// usage is a credential's last-used time, kept apart from the credential so that recording
// it is not a change.
type usage struct {
	ID string
	At time.Time
}

// singleUse is a stored single-use key.
type singleUse struct {
	Key       string
	Value     []byte
	ExpiresAt time.Time
}

func str(field string) *memdb.StringFieldIndex { return &memdb.StringFieldIndex{Field: field} }

func compound(fields ...string) *memdb.CompoundIndex {
	idx := &memdb.CompoundIndex{}
	for _, f := range fields {
		idx.Indexes = append(idx.Indexes, str(f))
	}
	return idx
}

func index(name string, unique, allowMissing bool, ix memdb.Indexer) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Unique: unique, AllowMissing: allowMissing, Indexer: ix}
}

func table(name string, idx ...*memdb.IndexSchema) *memdb.TableSchema {
	t := &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{}}
	for _, i := range idx {
		t.Indexes[i.Name] = i
	}
	return t
}

// schema returns the database schema. memdb does not enforce Unique indexes on insert (it
// replaces the entry); the Tx checks unique keys itself before every write.
func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tAccounts: table(tAccounts, index("id", true, false, str("ID"))),
		tUsers: table(tUsers,
			index("id", true, false, str("ID")),
			index("email", true, false, str("Email"))),
		tMemberships: table(tMemberships,
			index("id", true, false, compound("AccountID", "UserID")),
			index("user", false, false, str("UserID")),
			index("status", false, false, compound("AccountID", "Status"))),
		tInvitations: table(tInvitations,
			index("id", true, false, str("ID")),
			index("account", true, false, compound("AccountID", "ID")),
			index("email", true, false, compound("AccountID", "Email"))),
		tBots: table(tBots,
			index("id", true, false, str("ID")),
			index("account", true, false, compound("AccountID", "ID")),
			index("name", true, false, compound("AccountID", "Name"))),
		tCredentials: table(tCredentials,
			index("id", true, false, str("ID")),
			index("kind", true, false, compound("AccountID", "Kind", "ID")),
			index("owner", true, false, compound("AccountID", "OwnerID", "ID")),
			index("secret_hash", true, true, str("SecretHash")),
			index("fingerprint", true, true, str("Fingerprint"))),
		tRoles: table(tRoles,
			index("id", true, false, str("ID")),
			index("account", true, false, compound("AccountID", "ID")),
			index("name", true, false, compound("AccountID", "Name"))),
		tIdPs: table(tIdPs,
			index("id", true, false, str("ID")),
			index("account", true, false, compound("AccountID", "ID")),
			index("entity_id", true, false, compound("AccountID", "EntityID"))),
		tEvents: table(tEvents,
			index("id", true, false, str("ID")),
			index("account", true, false, compound("AccountID", "ID"))),
		tUsage: table(tUsage, index("id", true, false, str("ID"))),
		tExternalIDs: table(tExternalIDs,
			index("id", true, false, compound("IdPID", "Subject"))),
		tSingleUse: table(tSingleUse,
			index("id", true, false, str("Key")),
			index("expires", false, false, &timeIndex{Field: "ExpiresAt"})),
	}}
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
