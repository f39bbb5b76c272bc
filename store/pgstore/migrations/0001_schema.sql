-- iamkit's records, one table per kind, and the change feed. Every identifier column is
-- COLLATE "C": listings return records in descending byte order of their keys, whatever the
-- database's default collation. Times that are not set are NULL.

CREATE TABLE iamkit.accounts (
	id                text COLLATE "C" PRIMARY KEY,
	name              text NOT NULL,
	key               text COLLATE "C" NOT NULL DEFAULT '',
	plan              text NOT NULL,
	seats             integer NOT NULL CHECK (seats >= 0),
	sso_provisioning  text NOT NULL DEFAULT '',
	sso_enforcement   text NOT NULL DEFAULT '',
	sso_since         timestamptz,
	created_at        timestamptz
);
CREATE UNIQUE INDEX accounts_key_key ON iamkit.accounts (key) WHERE key <> '';

CREATE TABLE iamkit.users (
	id          text COLLATE "C" PRIMARY KEY,
	email       text COLLATE "C" NOT NULL CONSTRAINT users_email_key UNIQUE,
	name        text NOT NULL,
	created_at  timestamptz
);

CREATE TABLE iamkit.memberships (
	account_id  text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	user_id     text COLLATE "C" NOT NULL REFERENCES iamkit.users ON DELETE RESTRICT,
	roles       text[] NOT NULL,
	status      text NOT NULL CHECK (status IN ('active', 'disabled')),
	created_at  timestamptz,
	updated_at  timestamptz,
	PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_status ON iamkit.memberships (account_id, status, user_id);
CREATE INDEX memberships_user ON iamkit.memberships (user_id, account_id);

CREATE TABLE iamkit.invitations (
	id          text COLLATE "C" PRIMARY KEY,
	account_id  text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	email       text COLLATE "C" NOT NULL,
	roles       text[] NOT NULL,
	invited_by  text COLLATE "C" NOT NULL,
	expires_at  timestamptz,
	created_at  timestamptz,
	CONSTRAINT invitations_email_key UNIQUE (account_id, email)
);
CREATE INDEX invitations_account ON iamkit.invitations (account_id, id);

CREATE TABLE iamkit.bot_users (
	id          text COLLATE "C" PRIMARY KEY,
	account_id  text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	name        text COLLATE "C" NOT NULL,
	active      boolean NOT NULL,
	roles       text[] NOT NULL,
	created_at  timestamptz,
	CONSTRAINT bot_users_name_key UNIQUE (account_id, name)
);
CREATE INDEX bot_users_account ON iamkit.bot_users (account_id, id);

-- owner_id is a bot user of the account or a user with a membership in it: no single
-- foreign key can say so, and store.New checks it when a credential is created.
CREATE TABLE iamkit.credentials (
	id           text COLLATE "C" PRIMARY KEY,
	account_id   text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	kind         text NOT NULL CHECK (kind IN ('authtoken', 'api_key', 'ssh_key')),
	owner_id     text COLLATE "C" NOT NULL,
	description  text NOT NULL,
	metadata     text NOT NULL,
	acl          text[] NOT NULL,
	secret_hash  text COLLATE "C" NOT NULL DEFAULT '',
	public_key   text NOT NULL DEFAULT '',
	fingerprint  text COLLATE "C" NOT NULL DEFAULT '',
	expires_at   timestamptz,
	created_at   timestamptz
);
CREATE UNIQUE INDEX credentials_secret_hash_key ON iamkit.credentials (secret_hash) WHERE secret_hash <> '';
CREATE UNIQUE INDEX credentials_fingerprint_key ON iamkit.credentials (fingerprint) WHERE fingerprint <> '';
CREATE INDEX credentials_kind ON iamkit.credentials (account_id, kind, id);
CREATE INDEX credentials_owner ON iamkit.credentials (account_id, owner_id, id);

CREATE TABLE iamkit.roles (
	id           text COLLATE "C" PRIMARY KEY,
	account_id   text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	name         text COLLATE "C" NOT NULL,
	description  text NOT NULL,
	permissions  text[] NOT NULL,
	created_at   timestamptz,
	CONSTRAINT roles_name_key UNIQUE (account_id, name)
);
CREATE INDEX roles_account ON iamkit.roles (account_id, id);

CREATE TABLE iamkit.identity_providers (
	id                   text COLLATE "C" PRIMARY KEY,
	account_id           text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	description          text NOT NULL,
	entity_id            text COLLATE "C" NOT NULL,
	metadata_xml         text NOT NULL,
	allow_idp_initiated  boolean NOT NULL,
	default_roles        text[] NOT NULL,
	email_attribute      text NOT NULL,
	name_attribute       text NOT NULL,
	groups_attribute     text NOT NULL,
	domains              text[] NOT NULL,
	created_at           timestamptz,
	CONSTRAINT identity_providers_entity_id_key UNIQUE (account_id, entity_id)
);
CREATE INDEX identity_providers_account ON iamkit.identity_providers (account_id, id);

-- object is json, not jsonb: it keeps the exact bytes the event was written with.
CREATE TABLE iamkit.events (
	id                       text COLLATE "C" PRIMARY KEY,
	account_id               text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	type                     text NOT NULL,
	principal_id             text COLLATE "C" NOT NULL,
	principal_subject        text NOT NULL,
	principal_source         text NOT NULL,
	principal_credential_id  text COLLATE "C" NOT NULL,
	object                   json,
	created_at               timestamptz
);
CREATE INDEX events_account ON iamkit.events (account_id, id);

-- idp_id has no foreign key: deleting an identity provider leaves its links, which are
-- pointers that every reader checks.
CREATE TABLE iamkit.external_identities (
	idp_id      text COLLATE "C" NOT NULL,
	subject     text COLLATE "C" NOT NULL,
	account_id  text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	user_id     text COLLATE "C" NOT NULL REFERENCES iamkit.users ON DELETE RESTRICT,
	created_at  timestamptz,
	PRIMARY KEY (idp_id, subject)
);

-- Last-used times, outside transactions and the feed (Store.RecordUse).
CREATE TABLE iamkit.last_used (
	credential_id  text COLLATE "C" PRIMARY KEY REFERENCES iamkit.credentials ON DELETE CASCADE,
	at             timestamptz NOT NULL
);

-- Single-use keys (SAML request and assertion IDs), expired by the store's clock.
CREATE TABLE iamkit.single_use (
	key         text COLLATE "C" PRIMARY KEY,
	value       bytea NOT NULL,
	expires_at  timestamptz NOT NULL
);
CREATE INDEX single_use_expires ON iamkit.single_use (expires_at);

-- The change feed. feed_meta is one row: the feed's epoch (a random name given when the
-- database was set up, part of every cursor) and its number of shards. feed_heads holds the
-- newest revision of each shard; every commit takes the next one as its last statement.
CREATE TABLE iamkit.feed_meta (
	singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	epoch      text NOT NULL,
	shards     integer NOT NULL CHECK (shards BETWEEN 1 AND 1024)
);

CREATE TABLE iamkit.feed_heads (
	shard  integer PRIMARY KEY CHECK (shard >= 0),
	rev    bigint NOT NULL CHECK (rev >= 0)
);

CREATE TABLE iamkit.feed (
	shard         integer NOT NULL,
	rev           bigint NOT NULL,
	committed_at  timestamptz NOT NULL,
	changes       jsonb NOT NULL,
	PRIMARY KEY (shard, rev)
);
