-- Version 2: removing an owner tombstones its credentials (purged later in batches), and an
-- invitation keeps the hash of its acceptance token.

ALTER TABLE iamkit.invitations ADD COLUMN token_hash text COLLATE "C" NOT NULL DEFAULT '';

-- An owner removed from an account (a bot user deleted, a member removed) whose credentials
-- are not all purged yet: they are gone for every read from the commit that wrote this row.
-- by_* is the principal who removed the owner, named by the purge's audit events.
CREATE TABLE iamkit.tombstones (
	account_id        text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	owner_id          text COLLATE "C" NOT NULL,
	by_id             text COLLATE "C" NOT NULL,
	by_subject        text COLLATE "C" NOT NULL,
	by_source         text COLLATE "C" NOT NULL,
	by_credential_id  text COLLATE "C" NOT NULL,
	created_at        timestamptz,
	PRIMARY KEY (account_id, owner_id)
);
