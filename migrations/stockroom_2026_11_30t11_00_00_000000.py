"""Idempotency keys keep the outcome of a change, not an HTTP answer.

- `outcome`: the change's typed outcome as the idempotency service encodes it
  (`{"kind": …, "of": …}`, see app/services/idempotency.py), replayed as that same outcome to any
  transport (REST, pages, GraphQL), each of which answers it as it answers a first request.
- `transaction_id`: the ledger row a keyed request recorded. It is what proves who recorded a
  transaction (the counter's void rule); it was read out of the stored JSON answer before.
- Answers stored before (at most 48 h old: keys are purged after that) become outcomes too: a 409
  becomes the refusal it was (`Refused`: its detail and extra), anything else an `EarlierAnswer`
  holding its HTTP status and body, which the transports replay as they were. Recorded transactions
  get their `transaction_id` from the answer (which named the row's id and seq at its top).
- `status_code` and `response` go: nothing reads them any more.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency keys keep outcomes"

SQL = """
ALTER TABLE idempotency_key ADD COLUMN outcome jsonb, ADD COLUMN transaction_id bigint;
UPDATE idempotency_key SET
    outcome = CASE
        WHEN status_code >= 300 THEN jsonb_build_object('kind', 'Refused', 'of', jsonb_build_object(
            'detail', response->'detail', 'extra', coalesce(response->'extra', '{}'::jsonb)))
        ELSE jsonb_build_object('kind', 'EarlierAnswer', 'of', jsonb_build_object(
            'status_code', status_code, 'body', response))
    END,
    transaction_id = CASE
        WHEN status_code = 201 AND response ? 'stock_after' AND response ? 'seq' THEN (response->>'id')::bigint
    END
WHERE status_code IS NOT NULL;
ALTER TABLE idempotency_key DROP COLUMN status_code, DROP COLUMN response;
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
