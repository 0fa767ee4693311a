"""Apply the SQL migrations in order, each once, each in a transaction.

They are the files of infra/migrations/ and the schema files of each view's folder
(projections/views/<view>/NNNN_what.sql, decision 0016), numbered in one sequence: the
number orders them, wherever they live. Applied ones are recorded in
`cairn_schema_migrations` by number, name and checksum: an applied file that was edited
afterwards is refused, because the database would no longer match what the file says (a file
moved between folders unchanged is the same migration).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = _ROOT / "infra" / "migrations"
# Each folder here is one view: its schema files are migrations too (a new view touches
# nothing outside its folder). Found by path: adapters do not import projections.
VIEWS_DIR = _ROOT / "projections" / "views"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# One lock id for all Cairn processes: two API workers starting at once migrate one by one.
_ADVISORY_LOCK = 0x6361_6972_6E00


class MigrationError(Exception):
    """The migrations on disk and in the database disagree; the message says how."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def sources() -> list[Path]:
    """The project's migration folders: infra/migrations, then every view folder."""
    views = sorted(p for p in VIEWS_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))
    return [MIGRATIONS_DIR, *views]


def discover(directories: Path | Sequence[Path] | None = None) -> list[Migration]:
    """The migrations of `directories` (default: the project's `sources()`), in number order."""
    if directories is None:
        directories = sources()
    elif isinstance(directories, Path):
        directories = [directories]
    found: dict[int, tuple[Path, Migration]] = {}
    for directory in directories:
        for path in sorted(directory.glob("*.sql")):
            match = _NAME.match(path.name)
            if not match:
                raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
            migration = Migration(int(match.group(1)), path.name, path.read_text())
            if migration.version in found:
                other = found[migration.version][0]
                raise MigrationError(f"two migrations share a number: {other} and {path}")
            found[migration.version] = (path, migration)
    return [found[version][1] for version in sorted(found)]


def migrate(database_url: str, directories: Path | Sequence[Path] | None = None) -> list[str]:
    """Apply what is missing; return the names applied now."""
    migrations = discover(directories)
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS cairn_schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute(
                "SELECT version, name, checksum FROM cairn_schema_migrations"
            ).fetchall()
            done = {int(version): (str(name), str(checksum)) for version, name, checksum in rows}
            for migration in migrations:
                if migration.version in done:
                    name, checksum = done[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"migration {name} was changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO cairn_schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK,))
    return applied_now
