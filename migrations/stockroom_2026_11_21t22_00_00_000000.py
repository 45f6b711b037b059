"""Users, API tokens, browser sessions, login attempts and settings (SPEC §5)."""

from app.persistence.migrations import sql_forwards

ID = "2026-11-21T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "users, tokens, sessions, settings"

SQL = """
CREATE TABLE app_user (
    id bigserial PRIMARY KEY,
    username varchar(100) NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role varchar(10) NOT NULL CHECK (role IN ('viewer', 'clerk', 'manager', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE api_token (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    token_hash varchar(64) NOT NULL UNIQUE,
    name varchar(100) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE browser_session (
    token_hash varchar(64) PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    csrf_token varchar(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE TABLE login_attempt (
    id bigserial PRIMARY KEY,
    username varchar(100) NOT NULL,
    address varchar(100) NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    succeeded boolean NOT NULL
);
CREATE INDEX login_attempt_user_idx ON login_attempt (username, at) WHERE NOT succeeded;
CREATE INDEX login_attempt_address_idx ON login_attempt (address, at) WHERE NOT succeeded;
CREATE TABLE app_setting (
    key varchar(100) PRIMARY KEY,
    value text
);
"""

forwards = sql_forwards(ID, DESCRIPTION, SQL)
