"""For the `piccolo` command line when run from the repository root."""

from app.piccolo_conf import APP_REGISTRY, DB  # noqa: F401
