"""Users can be deactivated; administrators' actions are logged; one-time notices after an admin form.

- `app_user.disabled_at`: a deactivated user cannot log in, and has no session or working token.
- `admin_log`: who created, deactivated or re-activated a user, changed a role or a password, made
  or revoked an API token, or changed a setting — never a password or a token itself.
- `admin_notice`: what the page after an admin form (post/redirect/get) says once, for the session
  or token that sent the form (`holder` is the SHA-256 of its secret). A new API token is kept there
  only encrypted with a key derived from that secret, which the database never holds, and is deleted
  when shown (or after 10 minutes).
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "user deactivation, admin log, one-time admin notices"

SQL = """
ALTER TABLE app_user ADD COLUMN disabled_at timestamptz;

CREATE TABLE admin_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor varchar(100) NOT NULL,
    action varchar(40) NOT NULL,
    subject varchar(200) NOT NULL,
    detail jsonb
);

CREATE TABLE admin_notice (
    id bigserial PRIMARY KEY,
    holder char(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    message text NOT NULL,
    sealed bytea
);
CREATE INDEX admin_notice_holder_idx ON admin_notice (holder);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
