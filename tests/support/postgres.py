"""Throwaway PostgreSQL databases and Redis databases on loopback for service-mode tests.

Both services are the machine's own (trust auth for user postgres, Redis without a password). The destructive
helpers refuse anything but loopback, and drop_database refuses names this module did not generate, so a
mistyped URL cannot take out a real database.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import psycopg
import redis
from psycopg import sql

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
# Redis's default `databases 16` (redis.conf): valid indexes are 0..15.
REDIS_DATABASES = 16
CONNECT_TIMEOUT_S = 5
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# PostgreSQL identifiers are at most 63 bytes (NAMEDATALEN - 1); 13 go to "_" + the random suffix.
_MAX_PREFIX = 50
_SUFFIX_HEX = 12
_GENERATED_NAME = re.compile(rf"^[a-z][a-z0-9_]*_[0-9a-f]{{{_SUFFIX_HEX}}}$")


def fresh_database_url(name_prefix: str) -> str:
    """Create an empty, uniquely named database and return its postgres:// URL."""
    prefix = re.sub(r"[^a-z0-9_]", "_", name_prefix.lower()).strip("_")[:_MAX_PREFIX]
    if not prefix or not prefix[0].isalpha():
        raise ValueError(f"database name prefix must start with a letter: {name_prefix!r}")
    name = f"{prefix}_{secrets.token_hex(_SUFFIX_HEX // 2)}"
    # template0: template1 may carry local additions, and CREATE DATABASE from template1 fails while any
    # other session (a concurrent test run) is connected to it.
    _run_maintenance(
        sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
    )
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def drop_database(url: str) -> None:
    """Drop a database made by fresh_database_url, disconnecting its sessions; a missing one is fine."""
    parts = urlsplit(url)
    _require_loopback(parts.hostname, url)
    name = parts.path.lstrip("/")
    if not _GENERATED_NAME.fullmatch(name):
        raise ValueError(f"refusing to drop {name!r}: not a name fresh_database_url generates")
    # WITH (FORCE) (PostgreSQL 13+) ends sessions a killed worker may have left behind.
    _run_maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_exists(url: str) -> bool:
    name = urlsplit(url).path.lstrip("/")
    with _maintenance_connection() as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def redis_url_db(n: int) -> str:
    if not 0 <= n < REDIS_DATABASES:
        raise ValueError(f"redis database index must be in 0..{REDIS_DATABASES - 1}, got {n}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{n}"


def flush_redis(url: str) -> None:
    """FLUSHDB on the database `url` names (only that one, never FLUSHALL)."""
    _require_loopback(urlsplit(url).hostname, url)
    client = redis.Redis.from_url(
        url, socket_timeout=CONNECT_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
    )
    try:
        client.flushdb()
    finally:
        client.close()


def _require_loopback(host: str | None, url: str) -> None:
    if host not in _LOOPBACK_HOSTS:
        raise ValueError(f"refusing a destructive test helper on a non-loopback URL: {url}")


def _maintenance_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,  # CREATE/DROP DATABASE cannot run inside a transaction block
        connect_timeout=CONNECT_TIMEOUT_S,
    )


def _run_maintenance(statement: sql.Composed) -> None:
    with _maintenance_connection() as conn:
        conn.execute(statement)
