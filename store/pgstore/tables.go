package pgstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iamkit/iamkit/store"
)

// table maps a store.Table onto its SQL table: the columns, in the order encode returns
// their values and scan reads them, the primary-key columns, the columns of each index, and
// the SQL statements made from them.
type table struct {
	store.Table
	name    string // schema-qualified, e.g. iamkit.bot_users
	columns []string
	key     []string            // primary-key columns: one, or two for keys JoinKey made
	index   map[string][]string // index name -> columns, in the order of the index's values
	partial map[string]bool     // unique indexes that hold only records whose value is not ''
	encode  func(e *encoder, rec any) []any
	scan    func(row scanner) (any, error)

	get, upsert, del string
}

// scanner is a row to scan: pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// tables returns the SQL tables of store.Schema, by kind.
func tables() (map[store.Kind]*table, error) {
	defs := map[store.Kind]*table{
		store.KindAccount: {
			name: "accounts",
			columns: []string{"id", "name", "key", "plan", "seats", "sso_provisioning", "sso_enforcement", "sso_since", "created_at",
				"require_second_factor",
				"authtoken_max_lifetime", "api_key_max_lifetime", "ssh_key_max_lifetime", "access_token_max_lifetime",
				"max_rotation_overlap"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexAccountKey: {"key"}, store.IndexAll: {}},
			partial: map[string]bool{store.IndexAccountKey: true},
			encode:  encodeAccount, scan: scanAccount,
		},
		store.KindUser: {
			name:    "users",
			columns: []string{"id", "email", "name", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexEmail: {"email"}},
			encode:  encodeUser, scan: scanUser,
		},
		store.KindMembership: {
			name:    "memberships",
			columns: []string{"account_id", "user_id", "roles", "status", "created_at", "updated_at"},
			key:     []string{"account_id", "user_id"},
			index: map[string][]string{
				store.IndexAccount: {"account_id"}, store.IndexStatus: {"account_id", "status"}, store.IndexUser: {"user_id"},
			},
			encode: encodeMembership, scan: scanMembership,
		},
		store.KindInvitation: {
			name:    "invitations",
			columns: []string{"id", "account_id", "email", "roles", "invited_by", "expires_at", "created_at", "token_hash"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexEmail: {"account_id", "email"}, store.IndexAccount: {"account_id"}},
			encode:  encodeInvitation, scan: scanInvitation,
		},
		store.KindBotUser: {
			name:    "bot_users",
			columns: []string{"id", "account_id", "name", "active", "roles", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexName: {"account_id", "name"}, store.IndexAccount: {"account_id"}},
			encode:  encodeBotUser, scan: scanBotUser,
		},
		store.KindCredential: {
			name: "credentials",
			columns: []string{"id", "account_id", "kind", "owner_id", "description", "metadata", "acl",
				"secret_hash", "public_key", "fingerprint", "expires_at", "created_at",
				"scopes", "allowed_ips", "rotated_from", "rotated_to"},
			key: []string{"id"},
			index: map[string][]string{
				store.IndexSecretHash: {"secret_hash"}, store.IndexFingerprint: {"fingerprint"},
				store.IndexKind: {"account_id", "kind"}, store.IndexOwner: {"account_id", "owner_id"},
			},
			partial: map[string]bool{store.IndexSecretHash: true, store.IndexFingerprint: true},
			encode:  encodeCredential, scan: scanCredential,
		},
		store.KindRole: {
			name:    "roles",
			columns: []string{"id", "account_id", "name", "description", "permissions", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexName: {"account_id", "name"}, store.IndexAccount: {"account_id"}},
			encode:  encodeRole, scan: scanRole,
		},
		store.KindIdentityProvider: {
			name: "identity_providers",
			columns: []string{"id", "account_id", "description", "entity_id", "metadata_xml", "allow_idp_initiated",
				"default_roles", "email_attribute", "name_attribute", "groups_attribute", "domains", "role_rules",
				"role_rules_by", "created_at", "protocol", "client_id", "client_secret", "scopes"},
			key:    []string{"id"},
			index:  map[string][]string{store.IndexEntityID: {"account_id", "entity_id"}, store.IndexAccount: {"account_id"}},
			encode: encodeIdentityProvider, scan: scanIdentityProvider,
		},
		store.KindEvent: {
			name: "events",
			columns: []string{"id", "account_id", "type", "principal_id", "principal_subject", "principal_source",
				"principal_credential_id", "object", "created_at"},
			key:    []string{"id"},
			index:  map[string][]string{store.IndexAccount: {"account_id"}},
			encode: encodeEvent, scan: scanEvent,
		},
		store.KindExternalIdentity: {
			name:    "external_identities",
			columns: []string{"idp_id", "subject", "account_id", "user_id", "created_at"},
			key:     []string{"idp_id", "subject"},
			encode:  encodeExternalIdentity, scan: scanExternalIdentity,
		},
		store.KindTombstone: {
			name: "tombstones",
			columns: []string{"account_id", "owner_id", "by_id", "by_subject", "by_source", "by_credential_id",
				"created_at"},
			key:    []string{"account_id", "owner_id"},
			index:  map[string][]string{store.IndexAll: {}},
			encode: encodeTombstone, scan: scanTombstone,
		},
		store.KindUserSecrets: {
			name: "user_secrets",
			columns: []string{"user_id", "password_hash", "password_set_at", "totp_secret", "totp_confirmed",
				"totp_confirmed_at", "recovery_codes", "sessions_not_before"},
			key:    []string{"user_id"},
			encode: encodeUserSecrets, scan: scanUserSecrets,
		},
		store.KindGroup: {
			name:    "groups",
			columns: []string{"id", "account_id", "display_name", "external_id", "members", "created_at", "updated_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexName: {"account_id", "display_name"}, store.IndexAccount: {"account_id"}},
			encode:  encodeGroup, scan: scanGroup,
		},
		store.KindSession: {
			name: "sessions",
			columns: []string{"id", "account_id", "user_id", "secret_hash", "method", "idp_id", "second_factor",
				"user_agent", "ip", "created_at", "last_seen_at", "expires_at"},
			key:    []string{"id"},
			index:  map[string][]string{store.IndexUser: {"account_id", "user_id"}, store.IndexIdP: {"account_id", "idp_id"}},
			encode: encodeSession, scan: scanSession,
		},
		store.KindDomain: {
			name:    "domains",
			columns: []string{"id", "account_id", "name", "token", "verified_at", "require_sso", "created_at", "verified_name"},
			key:     []string{"id"},
			index: map[string][]string{
				store.IndexName: {"account_id", "name"}, store.IndexVerified: {"verified_name"}, store.IndexAccount: {"account_id"},
			},
			partial: map[string]bool{store.IndexVerified: true},
			encode:  encodeDomain, scan: scanDomain,
		},
		store.KindIPPolicy: {
			name:    "ip_policies",
			columns: []string{"id", "account_id", "description", "metadata", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexAccount: {"account_id"}},
			encode:  encodeIPPolicy, scan: scanIPPolicy,
		},
		store.KindIPPolicyRule: {
			name:    "ip_policy_rules",
			columns: []string{"id", "account_id", "policy_id", "cidr", "action", "description", "metadata", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexAccount: {"account_id"}, store.IndexPolicy: {"account_id", "policy_id"}},
			encode:  encodeIPPolicyRule, scan: scanIPPolicyRule,
		},
		store.KindIPRestriction: {
			name:    "ip_restrictions",
			columns: []string{"id", "account_id", "type", "policy_ids", "enforced", "description", "metadata", "created_at"},
			key:     []string{"id"},
			index:   map[string][]string{store.IndexAccount: {"account_id"}},
			encode:  encodeIPRestriction, scan: scanIPRestriction,
		},
	}
	maps.Copy(defs, streamTableDefs())
	out := map[store.Kind]*table{}
	for _, st := range store.Schema() {
		t, ok := defs[st.Kind]
		if !ok {
			return nil, fmt.Errorf("pgstore: no SQL table for %s", st.Kind)
		}
		t.Table = st
		for _, ix := range st.Indexes {
			if _, ok := t.index[ix.Name]; !ok {
				return nil, fmt.Errorf("pgstore: no columns for index %s of %s", ix.Name, st.Kind)
			}
		}
		t.name = "iamkit." + t.name
		t.prepare()
		out[st.Kind] = t
	}
	return out, nil
}

// prepare builds the statements that do not depend on the call.
func (t *table) prepare() {
	cols := strings.Join(t.columns, ", ")
	t.get = "SELECT " + cols + " FROM " + t.name + " WHERE " + equal(t.key, 1)
	var set []string
	for _, c := range t.columns {
		if !slices.Contains(t.key, c) {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	t.upsert = "INSERT INTO " + t.name + " (" + cols + ") VALUES (" + placeholders(1, len(t.columns)) + ")" +
		" ON CONFLICT (" + strings.Join(t.key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
	t.del = "DELETE FROM " + t.name + " WHERE " + equal(t.key, 1) + " RETURNING " + cols
}

// keyValues splits a primary key into the values of the key columns, or returns false when
// it cannot be a key of this table.
func (t *table) keyValues(key string) ([]any, bool) {
	if len(t.key) == 1 {
		return []any{key}, storable(key)
	}
	a, b, ok := strings.Cut(key, "/")
	return []any{a, b}, ok && storable(key)
}

// equal returns "c1 = $n AND c2 = $n+1 ...".
func equal(cols []string, n int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + " = $" + strconv.Itoa(n+i)
	}
	return strings.Join(parts, " AND ")
}

// placeholders returns "$from, ..., $(from+n-1)".
func placeholders(from, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(parts, ", ")
}

// storable reports whether PostgreSQL can hold s in a text column: valid UTF-8 without NUL.
// A lookup of a value it cannot hold finds nothing.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// encoder turns record fields into column values. PostgreSQL's text cannot hold NUL or
// invalid UTF-8: the first field that does is an ErrInvalid naming it.
type encoder struct {
	kind store.Kind
	err  error
}

// text returns v, checking that PostgreSQL can hold it.
func (e *encoder) text(field, v string) string {
	if e.err == nil && !storable(v) {
		e.err = store.Invalid(string(e.kind)+"."+field, store.CodeInvalidValue, 0, "PostgreSQL cannot store a NUL byte or invalid UTF-8")
	}
	return v
}

// texts returns vs for a text[] column: never NULL.
func (e *encoder) texts(field string, vs []string) []string {
	for _, v := range vs {
		e.text(field, v)
	}
	if vs == nil {
		return []string{}
	}
	return vs
}

// time returns t for a timestamptz column: NULL for the zero time.
func (e *encoder) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// record returns rec as a T (Backend.Put takes records by value; a pointer is accepted as
// store.Table accepts it), or the zero T after noting the mismatch.
func record[T any](e *encoder, rec any) T {
	switch r := rec.(type) {
	case T:
		return r
	case *T:
		if r != nil {
			return *r
		}
	}
	if e.err == nil {
		e.err = store.Invalid("record", store.CodeInvalidValue, 0, "a %s record cannot be a %T", e.kind, rec)
	}
	var zero T
	return zero
}

// utc reads a timestamptz column: the zero time for NULL, UTC otherwise.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// The column mappings, one pair per table. encode* take the record by value, as Backend.Put
// receives it; scan* return it by value.

func encodeAccount(e *encoder, rec any) []any {
	a := record[store.Account](e, rec)
	p := a.CredentialPolicy
	return []any{e.text("id", a.ID), e.text("name", a.Name), e.text("key", a.Key), e.text("plan", a.Plan), a.Seats,
		e.text("sso.provisioning", a.SSO.Provisioning), e.text("sso.enforcement", a.SSO.Enforcement),
		e.time(a.SSO.Since), e.time(a.CreatedAt), a.RequireSecondFactor,
		int64(p.AuthtokenMaxLifetime), int64(p.APIKeyMaxLifetime), int64(p.SSHKeyMaxLifetime),
		int64(p.AccessTokenMaxLifetime), int64(p.MaxRotationOverlap)}
}

func scanAccount(row scanner) (any, error) {
	var a store.Account
	var since, created *time.Time
	p := &a.CredentialPolicy
	err := row.Scan(&a.ID, &a.Name, &a.Key, &a.Plan, &a.Seats, &a.SSO.Provisioning, &a.SSO.Enforcement, &since, &created, &a.RequireSecondFactor,
		(*int64)(&p.AuthtokenMaxLifetime), (*int64)(&p.APIKeyMaxLifetime), (*int64)(&p.SSHKeyMaxLifetime),
		(*int64)(&p.AccessTokenMaxLifetime), (*int64)(&p.MaxRotationOverlap))
	a.SSO.Since, a.CreatedAt = utc(since), utc(created)
	return a, err
}

func encodeUser(e *encoder, rec any) []any {
	u := record[store.User](e, rec)
	return []any{e.text("id", u.ID), e.text("email", u.Email), e.text("name", u.Name), e.time(u.CreatedAt)}
}

func scanUser(row scanner) (any, error) {
	var u store.User
	var created *time.Time
	err := row.Scan(&u.ID, &u.Email, &u.Name, &created)
	u.CreatedAt = utc(created)
	return u, err
}

func encodeMembership(e *encoder, rec any) []any {
	m := record[store.Membership](e, rec)
	return []any{e.text("account_id", m.AccountID), e.text("user_id", m.UserID), e.texts("roles", m.Roles),
		e.text("status", m.Status), e.time(m.CreatedAt), e.time(m.UpdatedAt)}
}

func scanMembership(row scanner) (any, error) {
	var m store.Membership
	var created, updated *time.Time
	err := row.Scan(&m.AccountID, &m.UserID, &m.Roles, &m.Status, &created, &updated)
	m.CreatedAt, m.UpdatedAt = utc(created), utc(updated)
	return m, err
}

func encodeInvitation(e *encoder, rec any) []any {
	i := record[store.Invitation](e, rec)
	return []any{e.text("id", i.ID), e.text("account_id", i.AccountID), e.text("email", i.Email),
		e.texts("roles", i.Roles), e.text("invited_by", i.InvitedBy), e.time(i.ExpiresAt), e.time(i.CreatedAt),
		e.text("token_hash", i.TokenHash)}
}

func scanInvitation(row scanner) (any, error) {
	var i store.Invitation
	var expires, created *time.Time
	err := row.Scan(&i.ID, &i.AccountID, &i.Email, &i.Roles, &i.InvitedBy, &expires, &created, &i.TokenHash)
	i.ExpiresAt, i.CreatedAt = utc(expires), utc(created)
	return i, err
}

func encodeBotUser(e *encoder, rec any) []any {
	b := record[store.BotUser](e, rec)
	return []any{e.text("id", b.ID), e.text("account_id", b.AccountID), e.text("name", b.Name), b.Active,
		e.texts("roles", b.Roles), e.time(b.CreatedAt)}
}

func scanBotUser(row scanner) (any, error) {
	var b store.BotUser
	var created *time.Time
	err := row.Scan(&b.ID, &b.AccountID, &b.Name, &b.Active, &b.Roles, &created)
	b.CreatedAt = utc(created)
	return b, err
}

// encodeCredential leaves LastUsedAt and LastUsedIP out: last_used keeps them, outside
// transactions.
func encodeCredential(e *encoder, rec any) []any {
	c := record[store.Credential](e, rec)
	return []any{e.text("id", c.ID), e.text("account_id", c.AccountID), e.text("kind", string(c.Kind)),
		e.text("owner_id", c.OwnerID), e.text("description", c.Description), e.text("metadata", c.Metadata),
		e.texts("acl", c.ACL), e.text("secret_hash", c.SecretHash), e.text("public_key", c.PublicKey),
		e.text("fingerprint", c.Fingerprint), e.time(c.ExpiresAt), e.time(c.CreatedAt),
		e.texts("scopes", c.Scopes), e.texts("allowed_ips", c.AllowedIPs), e.text("rotated_from", c.RotatedFrom),
		e.text("rotated_to", c.RotatedTo)}
}

func scanCredential(row scanner) (any, error) {
	var c store.Credential
	var expires, created *time.Time
	err := row.Scan(&c.ID, &c.AccountID, &c.Kind, &c.OwnerID, &c.Description, &c.Metadata, &c.ACL,
		&c.SecretHash, &c.PublicKey, &c.Fingerprint, &expires, &created,
		&c.Scopes, &c.AllowedIPs, &c.RotatedFrom, &c.RotatedTo)
	c.ExpiresAt, c.CreatedAt = utc(expires), utc(created)
	return c, err
}

func encodeRole(e *encoder, rec any) []any {
	r := record[store.Role](e, rec)
	return []any{e.text("id", r.ID), e.text("account_id", r.AccountID), e.text("name", r.Name),
		e.text("description", r.Description), e.texts("permissions", r.Permissions), e.time(r.CreatedAt)}
}

func scanRole(row scanner) (any, error) {
	var r store.Role
	var created *time.Time
	err := row.Scan(&r.ID, &r.AccountID, &r.Name, &r.Description, &r.Permissions, &created)
	r.CreatedAt = utc(created)
	return r, err
}

// encodeDomain writes verified_name, the name of a verified domain and empty otherwise: the
// column of the partial unique index that lets one account only verify a name.
func encodeDomain(e *encoder, rec any) []any {
	d := record[store.Domain](e, rec)
	verified := ""
	if d.Verified() {
		verified = d.Name
	}
	return []any{e.text("id", d.ID), e.text("account_id", d.AccountID), e.text("name", d.Name),
		e.text("token", d.Token), e.time(d.VerifiedAt), d.RequireSSO, e.time(d.CreatedAt), verified}
}

func scanDomain(row scanner) (any, error) {
	var d store.Domain
	var verifiedAt, created *time.Time
	var verified string
	err := row.Scan(&d.ID, &d.AccountID, &d.Name, &d.Token, &verifiedAt, &d.RequireSSO, &created, &verified)
	d.VerifiedAt, d.CreatedAt = utc(verifiedAt), utc(created)
	return d, err
}

func encodeIdentityProvider(e *encoder, rec any) []any {
	p := record[store.IdentityProvider](e, rec)
	return []any{e.text("id", p.ID), e.text("account_id", p.AccountID), e.text("description", p.Description),
		e.text("entity_id", p.EntityID), e.text("metadata_xml", p.MetadataXML), p.AllowIDPInitiated,
		e.texts("default_roles", p.DefaultRoles), e.text("email_attribute", p.EmailAttribute),
		e.text("name_attribute", p.NameAttribute), e.text("groups_attribute", p.GroupsAttribute),
		e.texts("domains", p.Domains), e.roleRules(p.RoleRules), e.text("role_rules_by", p.RoleRulesBy),
		e.time(p.CreatedAt), e.text("protocol", p.Protocol), e.text("client_id", p.ClientID),
		e.text("client_secret", p.ClientSecret), e.texts("scopes", p.Scopes)}
}

// roleRules returns an IdP's role rules for a jsonb column: NULL for none.
func (e *encoder) roleRules(rules []store.RoleRule) any {
	if len(rules) == 0 {
		return nil
	}
	for _, r := range rules {
		e.text("role_rules.group", r.Group)
		e.texts("role_rules.roles", r.Roles)
	}
	b, err := json.Marshal(rules)
	if err != nil && e.err == nil {
		e.err = err
	}
	return string(b)
}

func scanIdentityProvider(row scanner) (any, error) {
	var p store.IdentityProvider
	var created *time.Time
	var rules []byte
	err := row.Scan(&p.ID, &p.AccountID, &p.Description, &p.EntityID, &p.MetadataXML, &p.AllowIDPInitiated,
		&p.DefaultRoles, &p.EmailAttribute, &p.NameAttribute, &p.GroupsAttribute, &p.Domains, &rules,
		&p.RoleRulesBy, &created, &p.Protocol, &p.ClientID, &p.ClientSecret, &p.Scopes)
	p.CreatedAt = utc(created)
	if err == nil && rules != nil {
		err = json.Unmarshal(rules, &p.RoleRules)
	}
	return p, err
}

func encodeGroup(e *encoder, rec any) []any {
	g := record[store.Group](e, rec)
	return []any{e.text("id", g.ID), e.text("account_id", g.AccountID), e.text("display_name", g.DisplayName),
		e.text("external_id", g.ExternalID), e.texts("members", g.Members), e.time(g.CreatedAt), e.time(g.UpdatedAt)}
}

func scanGroup(row scanner) (any, error) {
	var g store.Group
	var created, updated *time.Time
	err := row.Scan(&g.ID, &g.AccountID, &g.DisplayName, &g.ExternalID, &g.Members, &created, &updated)
	g.CreatedAt, g.UpdatedAt = utc(created), utc(updated)
	return g, err
}

// encodeEvent stores Object in a json column, which keeps its bytes as they are; an empty
// Object is NULL.
func encodeEvent(e *encoder, rec any) []any {
	ev := record[store.Event](e, rec)
	var obj any
	if len(ev.Object) > 0 {
		obj = string(ev.Object)
	}
	return []any{e.text("id", ev.ID), e.text("account_id", ev.AccountID), e.text("type", string(ev.Type)),
		e.text("principal.id", ev.Principal.ID), e.text("principal.subject", ev.Principal.Subject),
		e.text("principal.source", ev.Principal.Source), e.text("principal.credential_id", ev.Principal.CredentialID),
		obj, e.time(ev.CreatedAt)}
}

func scanEvent(row scanner) (any, error) {
	var ev store.Event
	var obj *string
	var created *time.Time
	err := row.Scan(&ev.ID, &ev.AccountID, &ev.Type, &ev.Principal.ID, &ev.Principal.Subject, &ev.Principal.Source,
		&ev.Principal.CredentialID, &obj, &created)
	if obj != nil {
		ev.Object = []byte(*obj)
	}
	ev.CreatedAt = utc(created)
	return ev, err
}

func encodeExternalIdentity(e *encoder, rec any) []any {
	x := record[store.ExternalIdentity](e, rec)
	return []any{e.text("idp_id", x.IdPID), e.text("subject", x.Subject), e.text("account_id", x.AccountID),
		e.text("user_id", x.UserID), e.time(x.CreatedAt)}
}

func encodeTombstone(e *encoder, rec any) []any {
	t := record[store.Tombstone](e, rec)
	return []any{e.text("account_id", t.AccountID), e.text("owner_id", t.OwnerID),
		e.text("by.id", t.By.ID), e.text("by.subject", t.By.Subject), e.text("by.source", t.By.Source),
		e.text("by.credential_id", t.By.CredentialID), e.time(t.CreatedAt)}
}

func scanTombstone(row scanner) (any, error) {
	var t store.Tombstone
	var created *time.Time
	err := row.Scan(&t.AccountID, &t.OwnerID, &t.By.ID, &t.By.Subject, &t.By.Source, &t.By.CredentialID, &created)
	t.CreatedAt = utc(created)
	return t, err
}

func scanExternalIdentity(row scanner) (any, error) {
	var x store.ExternalIdentity
	var created *time.Time
	err := row.Scan(&x.IdPID, &x.Subject, &x.AccountID, &x.UserID, &created)
	x.CreatedAt = utc(created)
	return x, err
}

func encodeUserSecrets(e *encoder, rec any) []any {
	u := record[store.UserSecrets](e, rec)
	return []any{e.text("user_id", u.UserID), e.text("password_hash", u.PasswordHash), e.time(u.PasswordSetAt),
		e.text("totp_secret", u.TOTPSecret), u.TOTPConfirmed, e.time(u.TOTPConfirmedAt),
		e.texts("recovery_codes", u.RecoveryCodes), e.time(u.SessionsNotBefore)}
}

func scanUserSecrets(row scanner) (any, error) {
	var u store.UserSecrets
	var set, confirmed, notBefore *time.Time
	err := row.Scan(&u.UserID, &u.PasswordHash, &set, &u.TOTPSecret, &u.TOTPConfirmed, &confirmed,
		&u.RecoveryCodes, &notBefore)
	u.PasswordSetAt, u.TOTPConfirmedAt, u.SessionsNotBefore = utc(set), utc(confirmed), utc(notBefore)
	return u, err
}

// encodeSession stores IP in an inet column: NULL for none. The store keeps it canonical
// (store.Session.Validate), so it reads back as it was written.
func encodeSession(e *encoder, rec any) []any {
	x := record[store.Session](e, rec)
	var ip any
	if x.IP != "" {
		addr, err := netip.ParseAddr(x.IP)
		if err != nil && e.err == nil {
			e.err = store.Invalid("session.ip", store.CodeInvalidValue, 0, "not an IP address")
		}
		ip = addr
	}
	return []any{e.text("id", x.ID), e.text("account_id", x.AccountID), e.text("user_id", x.UserID),
		e.text("secret_hash", x.SecretHash), e.text("method", x.Method), e.text("idp_id", x.IdPID),
		e.text("second_factor", x.SecondFactor), e.text("user_agent", x.UserAgent), ip,
		e.time(x.CreatedAt), e.time(x.LastSeenAt), e.time(x.ExpiresAt)}
}

func scanSession(row scanner) (any, error) {
	var x store.Session
	var ip *netip.Addr
	var created, seen, expires *time.Time
	err := row.Scan(&x.ID, &x.AccountID, &x.UserID, &x.SecretHash, &x.Method, &x.IdPID, &x.SecondFactor,
		&x.UserAgent, &ip, &created, &seen, &expires)
	if ip != nil {
		x.IP = ip.String()
	}
	x.CreatedAt, x.LastSeenAt, x.ExpiresAt = utc(created), utc(seen), utc(expires)
	return x, err
}

func encodeIPPolicy(e *encoder, rec any) []any {
	p := record[store.IPPolicy](e, rec)
	return []any{e.text("id", p.ID), e.text("account_id", p.AccountID), e.text("description", p.Description),
		e.text("metadata", p.Metadata), e.time(p.CreatedAt)}
}

func scanIPPolicy(row scanner) (any, error) {
	var p store.IPPolicy
	var created *time.Time
	err := row.Scan(&p.ID, &p.AccountID, &p.Description, &p.Metadata, &created)
	p.CreatedAt = utc(created)
	return p, err
}

func encodeIPPolicyRule(e *encoder, rec any) []any {
	r := record[store.IPPolicyRule](e, rec)
	return []any{e.text("id", r.ID), e.text("account_id", r.AccountID), e.text("policy_id", r.PolicyID),
		e.text("cidr", r.CIDR), e.text("action", r.Action), e.text("description", r.Description),
		e.text("metadata", r.Metadata), e.time(r.CreatedAt)}
}

func scanIPPolicyRule(row scanner) (any, error) {
	var r store.IPPolicyRule
	var created *time.Time
	err := row.Scan(&r.ID, &r.AccountID, &r.PolicyID, &r.CIDR, &r.Action, &r.Description, &r.Metadata, &created)
	r.CreatedAt = utc(created)
	return r, err
}

func encodeIPRestriction(e *encoder, rec any) []any {
	x := record[store.IPRestriction](e, rec)
	return []any{e.text("id", x.ID), e.text("account_id", x.AccountID), e.text("type", x.Type),
		e.texts("policy_ids", x.PolicyIDs), x.Enforced, e.text("description", x.Description),
		e.text("metadata", x.Metadata), e.time(x.CreatedAt)}
}

func scanIPRestriction(row scanner) (any, error) {
	var x store.IPRestriction
	var created *time.Time
	err := row.Scan(&x.ID, &x.AccountID, &x.Type, &x.PolicyIDs, &x.Enforced, &x.Description, &x.Metadata, &created)
	x.CreatedAt = utc(created)
	return x, err
}
