"""Compressed responses: gzip (Litestar's `CompressionConfig`) for every answer of 500 bytes or more,
except the event streams, which must reach the browser event by event (a gzip stream holds its
output back until it has a block to write)."""

from __future__ import annotations

from litestar.config.compression import CompressionConfig

# A route whose answers are always small (a recorded sale, a hold: about 1 KiB of JSON) declares
# `opt={UNCOMPRESSED: True}`. For a client that accepts gzip (every common HTTP library does by
# default) the middleware made a gzip compressor for each answer, and compressed this one: 321 against
# 205 µs of CPU per hot sale, for a few hundred bytes under one TCP segment.
UNCOMPRESSED = "uncompressed"

# Level 6: the dashboard's first page (about 60 KiB of HTML) in well under a millisecond of CPU,
# within a few percent of level 9's size.
COMPRESSION = CompressionConfig(
    backend="gzip", gzip_compress_level=6, exclude=["^/events", "^/import/progress/"], exclude_opt_key=UNCOMPRESSED
)
