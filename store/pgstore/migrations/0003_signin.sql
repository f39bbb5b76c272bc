-- Version 3: local sign-in and server-side dashboard sessions. An account may require a
-- second factor of members who sign in with a password; a user's sign-in secrets (a password
-- hash, a sealed TOTP secret, recovery code digests) live beside the user; sessions belong to
-- an account and name the user and, when they came through one, the identity provider.

ALTER TABLE iamkit.accounts ADD COLUMN require_second_factor boolean NOT NULL DEFAULT false;

-- One row per user with local sign-in secrets; users who only sign in through an identity
-- provider have none. password_hash is a PHC string ('' for no password); totp_secret is
-- sealed by the embedder's key ('' for none); recovery_codes are hex SHA-256 digests of the
-- unused codes.
CREATE TABLE iamkit.user_secrets (
	user_id              text COLLATE "C" PRIMARY KEY REFERENCES iamkit.users ON DELETE RESTRICT,
	password_hash        text COLLATE "C" NOT NULL DEFAULT ''
		CHECK ((password_hash = '' OR password_hash LIKE '$%') AND octet_length(password_hash) <= 512),
	password_set_at      timestamptz,
	totp_secret          text COLLATE "C" NOT NULL DEFAULT '',
	totp_confirmed       boolean NOT NULL DEFAULT false,
	totp_confirmed_at    timestamptz,
	recovery_codes       text[] NOT NULL DEFAULT '{}'
		CHECK (cardinality(recovery_codes) <= 20),
	sessions_not_before  timestamptz,
	CONSTRAINT user_secrets_totp_secret_check CHECK (octet_length(totp_secret) <= 512 AND (totp_secret <> '' OR NOT totp_confirmed))
);

-- A session's user had a membership in its account when the session began (store.New checks
-- it; deleting the membership ends the session, as every reader checks the membership).
-- idp_id has no foreign key: deleting an identity provider ends its sessions, which readers
-- check, and they are deleted lazily or in batches.
CREATE TABLE iamkit.sessions (
	id             text COLLATE "C" PRIMARY KEY,
	account_id     text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	user_id        text COLLATE "C" NOT NULL REFERENCES iamkit.users ON DELETE RESTRICT,
	secret_hash    text COLLATE "C" NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
	method         text COLLATE "C" NOT NULL CHECK (method ~ '^[a-z0-9_-]{1,32}$'),
	idp_id         text COLLATE "C" NOT NULL DEFAULT '',
	second_factor  text COLLATE "C" NOT NULL DEFAULT '' CHECK (second_factor ~ '^[a-z0-9_-]{0,32}$'),
	user_agent     text NOT NULL DEFAULT '' CHECK (octet_length(user_agent) <= 256),
	ip             inet CHECK (masklen(ip) = CASE family(ip) WHEN 4 THEN 32 ELSE 128 END),
	created_at     timestamptz NOT NULL,
	last_seen_at   timestamptz,
	expires_at     timestamptz NOT NULL,
	CONSTRAINT sessions_expires_at_check CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user ON iamkit.sessions (account_id, user_id, id);
CREATE INDEX sessions_idp ON iamkit.sessions (account_id, idp_id, id) WHERE idp_id <> '';
