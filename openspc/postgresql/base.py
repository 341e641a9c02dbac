"""Django's PostgreSQL backend, whose pool skips checking a connection given back moments ago.

Django's pool (CONN_HEALTH_CHECKS) checks each connection as it leaves the pool with an empty
query: one more round trip on every request, ~0.4–0.5 ms of a ~5 ms sample POST on a busy
two-core machine. Here a connection that went back to the pool less than `RECENTLY` seconds
ago, in good status and idle, is handed out unchecked; any other is checked as before (a
connection broken while it waited — a restarted server, a dropped link — is replaced before a
request sees it). HikariCP skips its check the same way (aliveBypassWindowMs, 500 ms).

When a connection fails its check, every idle connection of the pool is checked at once and the
broken ones replaced: after a database restart all of them are broken, and psycopg_pool alone
would try them one by one with a growing pause between tries — the request waited the pool's
whole timeout (5 s) and failed. Everything else is Django's backend as it is.
"""

from time import monotonic

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from psycopg import pq

RECENTLY = 0.5  # seconds
_RETURNED_AT = "_openspc_returned_at"


def check_unless_recent(conn) -> None:
    """psycopg_pool's check, skipped for a healthy connection given back within RECENTLY."""
    returned = getattr(conn, _RETURNED_AT, None)
    if (returned is not None and monotonic() - returned < RECENTLY
            and conn.pgconn.status == pq.ConnStatus.OK
            and conn.info.transaction_status == pq.TransactionStatus.IDLE):
        return
    from psycopg_pool import ConnectionPool

    ConnectionPool.check_connection(conn)


class _PoolCheck:
    """`check_unless_recent` for one pool; a failure has the pool check all its idle ones."""

    def __init__(self):
        self.pool = None

    def __call__(self, conn) -> None:
        try:
            check_unless_recent(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()  # drops the broken ones and opens new ones in the background
            raise


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if (self.alias == base.NO_DB_ALIAS or not pool_options
                or not self.settings_dict["CONN_HEALTH_CHECKS"]
                or self.alias in self._connection_pools):
            return super().pool
        # As Django 5.2 creates its pool, but with the check above.
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
        if pool_options is True:
            pool_options = {}
        from psycopg_pool import ConnectionPool

        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True
        check = _PoolCheck()
        pool = check.pool = ConnectionPool(kwargs=connect_kwargs, open=False,
                                           configure=self._configure_connection, check=check,
                                           **pool_options)
        self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]

    def _close(self):
        if self.connection is not None and self.pool is not None:
            setattr(self.connection, _RETURNED_AT, monotonic())
        return super()._close()
