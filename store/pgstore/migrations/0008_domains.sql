-- Version 8: OpenID Connect identity providers beside SAML ones, and the email domains an
-- account claims and proves it controls with a DNS TXT record. A name is claimed once per
-- account; verified_name, the name once verified and '' before, is unique across the
-- database: one domain, one account. require_sso sends the account's members of the domain
-- through its identity providers.

CREATE TABLE iamkit.domains (
	id             text COLLATE "C" PRIMARY KEY,
	account_id     text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	name           text COLLATE "C" NOT NULL CHECK (name <> '' AND octet_length(name) <= 253),
	token          text COLLATE "C" NOT NULL CHECK (token <> '' AND octet_length(token) <= 64),
	verified_at    timestamptz,
	require_sso    boolean NOT NULL DEFAULT false,
	created_at     timestamptz,
	verified_name  text COLLATE "C" NOT NULL DEFAULT '',
	CONSTRAINT domains_name_key UNIQUE (account_id, name),
	CONSTRAINT domains_verified_name_check CHECK (verified_name = CASE WHEN verified_at IS NULL THEN '' ELSE name END)
);
CREATE UNIQUE INDEX domains_verified_key ON iamkit.domains (verified_name) WHERE verified_name <> '';
CREATE INDEX domains_account ON iamkit.domains (account_id, id);

-- An identity provider speaks SAML ('saml', or '' for rows made before OIDC) or OpenID
-- Connect ('oidc'); entity_id holds an OIDC provider's issuer. client_id, client_secret and
-- scopes are an OIDC provider's ('' and '{}' for SAML).
ALTER TABLE iamkit.identity_providers
	ADD COLUMN protocol       text COLLATE "C" NOT NULL DEFAULT '' CHECK (protocol IN ('', 'saml', 'oidc')),
	ADD COLUMN client_id      text NOT NULL DEFAULT '',
	ADD COLUMN client_secret  text NOT NULL DEFAULT '',
	ADD COLUMN scopes         text[] NOT NULL DEFAULT '{}';
