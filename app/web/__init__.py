"""The web layer: controllers, request parsing, the app factory."""
