"""Stockroom: inventory kept as a per-product ledger."""

import os

# Piccolo finds its engine through this module path, wherever the app is started from.
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")
