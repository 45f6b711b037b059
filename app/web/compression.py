"""Compressed responses: gzip (Litestar's `CompressionConfig`) for every answer of 500 bytes or more,
except the event streams, which must reach the browser event by event (a gzip stream holds its
output back until it has a block to write)."""

from __future__ import annotations

from litestar.config.compression import CompressionConfig

# Level 6: the dashboard's first page (about 60 KiB of HTML) in well under a millisecond of CPU,
# within a few percent of level 9's size.
COMPRESSION = CompressionConfig(backend="gzip", gzip_compress_level=6, exclude=["^/events", "^/import/progress/"])
