-- Version 5: account-wide IP restrictions, as ngrok has them. An IP policy is a named set of
-- rules; a rule allows or denies one IPv4 or IPv6 prefix, kept in the canonical text form the
-- store contract holds; a restriction applies policies to one way in (the dashboard, the API
-- or agents), enforced or only warning. policy_id and policy_ids have no foreign keys into
-- ip_policies: store.New keeps them pointing at policies of the same account and refuses to
-- delete a policy in use, the same on every adapter.

CREATE TABLE iamkit.ip_policies (
	id           text COLLATE "C" PRIMARY KEY,
	account_id   text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	description  text NOT NULL CHECK (octet_length(description) <= 255),
	metadata     text NOT NULL CHECK (octet_length(metadata) <= 4096),
	created_at   timestamptz
);
CREATE INDEX ip_policies_account ON iamkit.ip_policies (account_id, id);

CREATE TABLE iamkit.ip_policy_rules (
	id           text COLLATE "C" PRIMARY KEY,
	account_id   text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	policy_id    text COLLATE "C" NOT NULL,
	cidr         text COLLATE "C" NOT NULL CHECK (cidr <> ''),
	action       text COLLATE "C" NOT NULL CHECK (action IN ('allow', 'deny')),
	description  text NOT NULL CHECK (octet_length(description) <= 255),
	metadata     text NOT NULL CHECK (octet_length(metadata) <= 4096),
	created_at   timestamptz
);
CREATE INDEX ip_policy_rules_account ON iamkit.ip_policy_rules (account_id, id);
CREATE INDEX ip_policy_rules_policy ON iamkit.ip_policy_rules (account_id, policy_id, id);

CREATE TABLE iamkit.ip_restrictions (
	id           text COLLATE "C" PRIMARY KEY,
	account_id   text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	type         text COLLATE "C" NOT NULL CHECK (type IN ('dashboard', 'api', 'agent')),
	policy_ids   text[] NOT NULL CHECK (cardinality(policy_ids) BETWEEN 1 AND 32),
	enforced     boolean NOT NULL,
	description  text NOT NULL CHECK (octet_length(description) <= 255),
	metadata     text NOT NULL CHECK (octet_length(metadata) <= 4096),
	created_at   timestamptz
);
CREATE INDEX ip_restrictions_account ON iamkit.ip_restrictions (account_id, id);
