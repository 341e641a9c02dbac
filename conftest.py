"""Test-wide setup: real services (skipped outside CI when missing, failing under CI=true)."""

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
SERVICES = {
    "postgres": ("PostgreSQL", ("127.0.0.1", 5432)),
    "redis": ("Redis", ("127.0.0.1", 6379)),
    "mqtt": ("Mosquitto", ("127.0.0.1", 1883)),
    "browser": ("headless Chromium", CHROMIUM),
}
_available: dict[str, bool] = {}
_skipped: dict[str, int] = {}


def service_available(marker: str) -> bool:
    if marker not in _available:
        target = SERVICES[marker][1]
        if isinstance(target, str):
            _available[marker] = bool(shutil.which(target))
        else:
            try:
                socket.create_connection(target, timeout=2).close()
                _available[marker] = True
            except OSError:
                _available[marker] = False
    return _available[marker]


def pytest_runtest_setup(item):
    for marker in SERVICES:
        if item.get_closest_marker(marker) and not service_available(marker):
            name, target = SERVICES[marker]
            where = target if isinstance(target, str) else f"{target[0]}:{target[1]}"
            message = f"{name} is not available at {where}"
            if CI:
                pytest.fail(f"{message} (CI=true: a missing service is a failure)")
            _skipped[marker] = _skipped.get(marker, 0) + 1
            pytest.skip(message)


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.section("skipped for missing services")
        for marker, count in _skipped.items():
            terminalreporter.write_line(f"{SERVICES[marker][0]}: {count} test(s) skipped")


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("django"):
        return  # the pure engine tests can run without Django (-p no:django)
    from django.conf import settings

    # Argon2 is deliberately slow; tests that check hashing put it back with `settings`.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Live-server threads must not keep connections that block dropping the test database.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def pytest_sessionstart(session):
    url = os.environ.get("OPENSPC_REDIS_URL")
    if url and service_available("redis"):
        import redis

        redis.Redis.from_url(url).flushdb()


def database_is_postgres() -> bool:
    url = os.environ.get("OPENSPC_DATABASE_URL", "")
    return urlsplit(url).scheme in ("postgres", "postgresql")


@pytest.fixture
def cast(db):
    """A plant with one user per role, a second plant, and an outsider who only works there."""
    from plants.tests.factories import Cast

    return Cast.build()


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
ARTIFACTS = os.path.join(os.path.dirname(__file__), "test-artifacts")


def pytest_collection_modifyitems(config, items):
    """Browser tests last: the session's Chromium (Playwright's sync API) keeps an event loop
    running on the main thread from its first use to the end of the session, where
    asyncio.run and async tests cannot start another."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session (each test gets its own context)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def new_page(browser, width=1280, height=800, theme="light"):
    """A page in a fresh context of `browser` that records console errors."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=theme)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    return page


@pytest.fixture
def browser_page(request, chromium):
    """A Playwright page in Debian's headless Chromium that records console errors."""
    page = new_page(chromium)
    yield page
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        page.screenshot(path=os.path.join(ARTIFACTS, f"FAILED-{request.node.name}.png"))
    page.context.close()
    # ORM calls made while Playwright's loop runs get their own connection: close it here,
    # or PostgreSQL refuses to drop the test database at the end of the session.
    from django.db import connections

    connections.close_all()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
