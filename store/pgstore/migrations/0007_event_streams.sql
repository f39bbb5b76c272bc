-- Version 7: audit streaming. An account's event destinations (HTTPS webhooks, with the key
-- their deliveries are signed with), its subscriptions (event types to destinations), each
-- destination's delivery position on the change feed, and the events a destination gave up on.

CREATE TABLE iamkit.event_destinations (
	id           text COLLATE "C" PRIMARY KEY,
	account_id   text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	description  text NOT NULL DEFAULT '' CHECK (octet_length(description) <= 255),
	metadata     text NOT NULL DEFAULT '' CHECK (octet_length(metadata) <= 4096),
	format       text COLLATE "C" NOT NULL CHECK (format = 'json'),
	url          text NOT NULL CHECK (url <> '' AND octet_length(url) <= 2048),
	secret       text COLLATE "C" NOT NULL CHECK (secret <> '' AND octet_length(secret) <= 512),
	created_at   timestamptz
);
CREATE INDEX event_destinations_account ON iamkit.event_destinations (account_id, id);

-- destination_ids name destinations of the same account (the store checks it on every
-- write); no foreign key, since an array cannot have one.
CREATE TABLE iamkit.event_subscriptions (
	id               text COLLATE "C" PRIMARY KEY,
	account_id       text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	description      text NOT NULL DEFAULT '' CHECK (octet_length(description) <= 255),
	metadata         text NOT NULL DEFAULT '' CHECK (octet_length(metadata) <= 4096),
	types            text[] NOT NULL CHECK (cardinality(types) <= 64),
	destination_ids  text[] NOT NULL CHECK (cardinality(destination_ids) <= 16),
	created_at       timestamptz
);
CREATE INDEX event_subscriptions_account ON iamkit.event_subscriptions (account_id, id);

-- One row per destination: the feed cursor it resumes from, the last event it handled, and
-- the delivery worker holding it until held_until. Deleted with its destination.
CREATE TABLE iamkit.event_deliveries (
	destination_id  text COLLATE "C" PRIMARY KEY REFERENCES iamkit.event_destinations ON DELETE RESTRICT,
	account_id      text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	cursor          text COLLATE "C" NOT NULL CHECK (octet_length(cursor) <= 8192),
	last_event_id   text COLLATE "C" NOT NULL DEFAULT '',
	holder          text COLLATE "C" NOT NULL DEFAULT '' CHECK (octet_length(holder) <= 32),
	held_until      timestamptz,
	updated_at      timestamptz
);

-- event_id has no foreign key: retention may prune the event; the dead letter stays.
CREATE TABLE iamkit.dead_letters (
	id              text COLLATE "C" PRIMARY KEY,
	account_id      text COLLATE "C" NOT NULL REFERENCES iamkit.accounts ON DELETE RESTRICT,
	destination_id  text COLLATE "C" NOT NULL REFERENCES iamkit.event_destinations ON DELETE RESTRICT,
	event_id        text COLLATE "C" NOT NULL,
	attempts        integer NOT NULL CHECK (attempts >= 0),
	last_status     integer NOT NULL DEFAULT 0,
	last_error      text NOT NULL DEFAULT '' CHECK (octet_length(last_error) <= 255),
	created_at      timestamptz
);
CREATE INDEX dead_letters_destination ON iamkit.dead_letters (account_id, destination_id, id);
