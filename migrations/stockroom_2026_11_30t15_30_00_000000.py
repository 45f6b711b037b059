"""Location codes are unique whatever their case (issue 15): "main" beside MAIN would be a second
place that looks like the first in every menu, and a location is never deleted."""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "location codes unique without case"

SQL = """
CREATE UNIQUE INDEX location_code_lower_idx ON location (lower(code));
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
