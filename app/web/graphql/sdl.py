"""The schema's SDL, as checked in at docs/schema.graphql (a test fails when they differ).
Write it again after changing the schema: `python -m app.web.graphql.sdl`."""

from __future__ import annotations

from pathlib import Path

from app.web.graphql.schema import schema

SDL_FILE = Path(__file__).resolve().parents[3] / "docs" / "schema.graphql"


def sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    SDL_FILE.write_text(sdl(), encoding="utf-8")
    print(f"wrote {SDL_FILE}")
