"""Persistence: the repositories, and the only place with SQL.

One module per aggregate or table group (products, ledger rows, reservations, locks, settings,
audit, ...). Each declares its table's columns once, turns rows into records by column name, and
works on the connection of the caller's unit of work. Imports `app.domain` only, never services.
"""
