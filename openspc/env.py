"""Typed readers for the OPENSPC_* environment variables.

Each helper fails loudly (ImproperlyConfigured) on a value it cannot parse, so a typo in a
deployment stops the process at start instead of silently falling back to a default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

PREFIX = "OPENSPC_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(PREFIX + name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{PREFIX}{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{PREFIX}{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{PREFIX}{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str) -> str | None:
    """The value of NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
    value = env_str(name)
    path = env_str(name + "_FILE")
    if value and path:
        raise ImproperlyConfigured(f"Set either {PREFIX}{name} or {PREFIX}{name}_FILE, not both")
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{PREFIX}{name}_FILE={path!r}: {exc.strerror}") from None
        if not value:
            raise ImproperlyConfigured(f"{PREFIX}{name}_FILE={path!r} is empty")
    return value


def local_secret_key(path: Path) -> str:
    """A secret key kept in a local file, generated on first use (embedded default only)."""
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def database_from_url(url: str, conn_max_age: int, pool_size: int = 0,
                      prepared: bool = True) -> dict:
    """Django DATABASES entry for a sqlite:/// or postgresql:// URL.

    With `pool_size` > 0 PostgreSQL connections come from a psycopg pool; otherwise each thread
    keeps its connection for `conn_max_age` seconds. With `prepared`, PostgreSQL binds
    parameters on the server and prepares a statement the second time a connection runs it:
    planning cost more than running the short statements a sample takes (a sample POST
    ~1.5 ms faster). Turn it off behind a transaction-mode pooler such as PgBouncer < 1.21.
    """
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        # sqlite:///relative/file.db or sqlite:////absolute/file.db, as dj-database-url reads them
        path = unquote(parts.path)[1:]
        if not path:
            raise ImproperlyConfigured(f"{PREFIX}DATABASE_URL={url!r} names no SQLite file")
        return sqlite_database(Path(path), conn_max_age)
    if parts.scheme in ("postgres", "postgresql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"{PREFIX}DATABASE_URL={url!r} names no database")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{PREFIX}DATABASE_URL={url!r} has a bad port") from None
        options.setdefault("connect_timeout", "5")
        if prepared:
            options.setdefault("server_side_binding", True)
            options.setdefault("prepare_threshold", 2)
        if pool_size:
            # Each pooled connection is checked before it is handed out (CONN_HEALTH_CHECKS)
            # unless it was given back moments ago (openspc.postgresql).
            options["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": 5}
        return {
            "ENGINE": "openspc.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 0 if pool_size else conn_max_age,
            "CONN_HEALTH_CHECKS": True,  # with a pool: checked as it leaves the pool
            "OPTIONS": options,
            "TEST": {"NAME": f"test_{name}"},
        }
    raise ImproperlyConfigured(
        f"{PREFIX}DATABASE_URL must start with sqlite:/// or postgresql://, got {parts.scheme!r}"
    )


def sqlite_database(path: Path, conn_max_age: int = 60) -> dict:
    """SQLite in WAL mode, waiting on locks instead of failing, with durable commits. Each web
    thread keeps its connection for `conn_max_age` seconds (opening one with its PRAGMAs cost
    ~1 ms of a request)."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "CONN_MAX_AGE": conn_max_age,
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=20000;"
            ),
        },
    }
