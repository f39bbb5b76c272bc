-- Version 4: access tokens, with their scopes; per-credential address allow-lists; the links
-- of a rotation; the address of a credential's last use; each account's credential policy.

ALTER TABLE iamkit.credentials DROP CONSTRAINT credentials_kind_check;
ALTER TABLE iamkit.credentials ADD CONSTRAINT credentials_kind_check
	CHECK (kind IN ('authtoken', 'api_key', 'ssh_key', 'access_token'));

-- scopes: permission names (access tokens only). allowed_ips: IP prefixes in canonical
-- text form, as the store contract keeps them. rotated_from and rotated_to: credential IDs,
-- '' when none; no foreign keys, since a rotated credential may be deleted before or after
-- the other.
ALTER TABLE iamkit.credentials
	ADD COLUMN scopes        text[] NOT NULL DEFAULT '{}',
	ADD COLUMN allowed_ips   text[] NOT NULL DEFAULT '{}',
	ADD COLUMN rotated_from  text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN rotated_to    text COLLATE "C" NOT NULL DEFAULT '';

-- The client address of the latest use; NULL when unknown.
ALTER TABLE iamkit.last_used ADD COLUMN ip inet;

-- The credential policy: maximum lifetimes of new credentials per kind and the maximum
-- overlap of a rotation, in nanoseconds (Go's time.Duration); 0 means the library's default.
ALTER TABLE iamkit.accounts
	ADD COLUMN authtoken_max_lifetime     bigint NOT NULL DEFAULT 0 CHECK (authtoken_max_lifetime >= 0),
	ADD COLUMN api_key_max_lifetime       bigint NOT NULL DEFAULT 0 CHECK (api_key_max_lifetime >= 0),
	ADD COLUMN ssh_key_max_lifetime       bigint NOT NULL DEFAULT 0 CHECK (ssh_key_max_lifetime >= 0),
	ADD COLUMN access_token_max_lifetime  bigint NOT NULL DEFAULT 0 CHECK (access_token_max_lifetime >= 0),
	ADD COLUMN max_rotation_overlap       bigint NOT NULL DEFAULT 0 CHECK (max_rotation_overlap >= 0);
