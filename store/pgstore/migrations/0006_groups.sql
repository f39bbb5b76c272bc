-- Version 6: groups of members an identity provider manages through SCIM, and each identity
-- provider's mapping of groups to roles.

-- role_rules: the ordered rules [{"group": ..., "roles": [...]}], NULL for none. role_rules_by:
-- the principal who set them ('' when none); not a foreign key, as a principal may be a user
-- or a bot user.
ALTER TABLE iamkit.identity_providers
	ADD COLUMN role_rules     jsonb CHECK (role_rules IS NULL OR jsonb_typeof(role_rules) = 'array'),
	ADD COLUMN role_rules_by  text COLLATE "C" NOT NULL DEFAULT '';

-- members: user IDs; a member removed from the account may linger until the group is next
-- written, and readers ignore it.
CREATE TABLE iamkit.groups (
	id            text COLLATE "C" PRIMARY KEY,
	account_id    text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	display_name  text COLLATE "C" NOT NULL,
	external_id   text COLLATE "C" NOT NULL DEFAULT '',
	members       text[] NOT NULL CHECK (cardinality(members) <= 10000),
	created_at    timestamptz,
	updated_at    timestamptz,
	CONSTRAINT groups_name_key UNIQUE (account_id, display_name)
);
CREATE INDEX groups_account ON iamkit.groups (account_id, id);
