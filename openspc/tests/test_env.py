import pytest
from django.core.exceptions import ImproperlyConfigured

from openspc import env


@pytest.fixture
def setenv(monkeypatch):
    def set_(name, value):
        monkeypatch.setenv(env.PREFIX + name, value)

    return set_


@pytest.mark.parametrize("raw,expected", [("true", True), ("1", True), ("Yes", True),
                                          ("false", False), ("0", False), ("off", False)])
def test_booleans_are_read_in_the_usual_spellings(setenv, raw, expected):
    setenv("DEBUG", raw)
    assert env.env_bool("DEBUG", not expected) is expected


def test_a_bad_boolean_fails_loudly(setenv):
    setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="OPENSPC_DEBUG='maybe' is not a boolean"):
        env.env_bool("DEBUG", False)


def test_a_bad_number_fails_loudly(setenv):
    setenv("DB_CONN_MAX_AGE", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env.env_int("DB_CONN_MAX_AGE", 60)
    setenv("DB_CONN_MAX_AGE", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.env_int("DB_CONN_MAX_AGE", 60, minimum=0)


def test_lists_are_comma_separated(setenv):
    setenv("ALLOWED_HOSTS", "spc.example.com, 10.0.0.5 ,")
    assert env.env_list("ALLOWED_HOSTS", []) == ["spc.example.com", "10.0.0.5"]


def test_a_secret_can_come_from_a_file(setenv, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    setenv("SECRET_KEY_FILE", str(secret))
    assert env.env_secret("SECRET_KEY") == "from-a-file"


def test_a_secret_given_twice_or_from_a_missing_file_fails(setenv, tmp_path):
    setenv("SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="No such file"):
        env.env_secret("SECRET_KEY")
    setenv("SECRET_KEY", "inline")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env.env_secret("SECRET_KEY")


def test_the_local_secret_key_is_generated_once_and_kept_private(tmp_path):
    path = tmp_path / "secret_key"
    first = env.local_secret_key(path)
    assert len(first) >= 50
    assert env.local_secret_key(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_postgresql_url_becomes_a_persistent_health_checked_connection():
    db = env.database_from_url("postgresql://spc:p%40ss@db.local:6543/openspc?sslmode=require", 60)
    assert db["ENGINE"] == "openspc.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "openspc", "spc", "p@ss", "db.local", "6543")
    assert db["CONN_MAX_AGE"] == 60 and db["CONN_HEALTH_CHECKS"] is True
    assert db["OPTIONS"]["sslmode"] == "require"


def test_postgresql_prepares_statements_unless_told_not_to():
    db = env.database_from_url("postgresql://spc@db.local/openspc", 60)
    assert db["OPTIONS"]["server_side_binding"] is True
    assert db["OPTIONS"]["prepare_threshold"] == 2
    off = env.database_from_url("postgresql://spc@db.local/openspc", 60, prepared=False)
    assert "server_side_binding" not in off["OPTIONS"]
    assert "prepare_threshold" not in off["OPTIONS"]


def test_postgresql_connections_come_from_a_pool_when_a_pool_size_is_set():
    db = env.database_from_url("postgresql://spc@db.local/openspc", 60, pool_size=8)
    assert db["OPTIONS"]["pool"]["max_size"] == 8
    assert db["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool


def test_sqlite_urls_are_relative_with_three_slashes_and_absolute_with_four():
    assert str(env.database_from_url("sqlite:///var/x.db", 0)["NAME"]) == "var/x.db"
    assert str(env.database_from_url("sqlite:////data/x.db", 0)["NAME"]) == "/data/x.db"


@pytest.mark.parametrize("url", ["mysql://x/y", "postgresql://host", "sqlite://", "nonsense"])
def test_an_unusable_database_url_fails_loudly(url):
    with pytest.raises(ImproperlyConfigured):
        env.database_from_url(url, 0)


def test_the_embedded_sqlite_database_runs_in_wal_mode_with_durable_commits(tmp_path):
    import sqlite3

    config = env.sqlite_database(tmp_path / "db.sqlite3")
    conn = sqlite3.connect(config["NAME"], timeout=config["OPTIONS"]["timeout"])
    conn.executescript(config["OPTIONS"]["init_command"])
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 20000
