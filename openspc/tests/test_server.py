"""The web process as `make run` starts it: uvicorn serving openspc.asgi, with HTTP going through
openspc.wsgi_bridge to Django on its thread pool. A real server on a free port, real sockets."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import plotly
import pytest

from openspc.wsgi_bridge import _environ

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data: Path, **settings: str) -> dict:
    """The environment of a web process on its own embedded SQLite in `data` (never the
    database of the test run), with OPENSPC_<name> for each of `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSPC_")}
    env.update(OPENSPC_DATA_DIR=str(data), OPENSPC_ALLOWED_HOSTS="127.0.0.1",
               DJANGO_SETTINGS_MODULE="openspc.settings")
    env.update({f"OPENSPC_{name}": value for name, value in settings.items()})
    return env


def manage(env: dict, *args: str) -> str:
    """Run manage.py with `env`; its output."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=120).stdout


@contextlib.contextmanager
def serving(env: dict):
    """uvicorn serving openspc.asgi with `env` (migrated) on a free port; the port."""
    data = Path(env["OPENSPC_DATA_DIR"])
    manage(env, "migrate", "--noinput", "-v", "0")
    port = _free_port()
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port),
         "--lifespan", "off", "openspc.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (data / "server.log").read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline, "uvicorn did not listen within 60 s"
            time.sleep(0.2)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = server_env(tmp_path_factory.mktemp("server"), MAX_REQUEST_MB="1", WEB_THREADS="2")
    with serving(env) as port:
        yield port


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=body is not None and not isinstance(body, bytes | str))
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_health_and_a_json_error_come_back_whole(server):
    status, headers, body = _request(server, "GET", "/health")
    assert (status, json.loads(body)) == (200, {"status": "healthy", "database": "connected"})
    status, _, body = _request(server, "GET", "/api/v1/plants/?x=%C3%A9")
    assert status == 401 and "credentials" in json.loads(body)["detail"]


def test_a_posted_body_reaches_django(server):
    status, _, body = _request(
        server, "POST", "/api/v1/auth/token/",
        body=json.dumps({"username": "nobody", "password": "wrong"}),
        headers={"Content-Type": "application/json"})
    assert status == 400
    assert "Unable to log in" in json.dumps(json.loads(body))


def test_a_large_static_file_is_streamed_complete(server):
    """plotly.min.js (several MB) is streamed from the thread in chunks; every byte arrives."""
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    status, headers, body = _request(server, "GET", "/static/vendor/plotly.min.js")
    assert status == 200
    assert body == bundled.read_bytes()
    assert int(headers["content-length"]) == len(body)


def test_a_body_over_the_limit_is_413_declared_or_chunked(server):
    big = b"[" + b"1," * 600_000 + b"1]"  # 1.2 MB against OPENSPC_MAX_REQUEST_MB=1
    status, _, body = _request(server, "POST", "/api/v1/auth/token/", body=big,
                               headers={"Content-Type": "application/json"})
    assert status == 413 and "limit" in json.loads(body)["detail"]

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    status, _, body = _request(server, "POST", "/api/v1/auth/token/", body=chunks(),
                               headers={"Content-Type": "application/json",
                                        "Transfer-Encoding": "chunked"})
    assert status == 413 and "limit" in json.loads(body)["detail"]


def test_cookies_and_repeated_response_headers_survive(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    response.read()
    cookies = response.msg.get_all("Set-Cookie") or []
    conn.close()
    assert response.status == 200
    assert any(c.startswith("csrftoken=") and "HttpOnly" in c for c in cookies)


def test_the_environ_follows_pep_3333():
    scope = {
        "type": "http", "method": "POST", "root_path": "/spc", "path": "/spc/a/é",
        "query_string": b"q=%C3%A9&x=1", "http_version": "1.1", "scheme": "https",
        "server": ("plant.example", 443), "client": ("10.0.0.7", 51000),
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"2"),
                    (b"x-forwarded-for", b"10.0.0.1"), (b"x-forwarded-for", b"10.0.0.2"),
                    (b"host", b"plant.example")],
    }
    environ = _environ(scope, b"{}", 2)
    assert environ["SCRIPT_NAME"] == "/spc"
    assert environ["PATH_INFO"] == "/a/é".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "q=%C3%A9&x=1"
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("application/json", "2")
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1,10.0.0.2"
    assert (environ["REMOTE_ADDR"], environ["SERVER_PORT"]) == ("10.0.0.7", "443")
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["wsgi.input"].read() == b"{}"
    # A declared length over the limit is passed on unread, so the size check can refuse it.
    assert _environ({**scope, "headers": [(b"content-length", b"99999999")]}, b"",
                    99999999)["CONTENT_LENGTH"] == "99999999"


def _bridge_call(messages, max_body=10, headers=((b"transfer-encoding", b"chunked"),),
                 **options):
    """Run WSGIBridge on a scripted request; what the app saw (empty if it never ran), what was
    sent and the messages left unread."""
    import asyncio

    from openspc.wsgi_bridge import WSGIBridge

    seen = {}

    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    pending = list(messages)

    async def receive():
        if not pending:
            await asyncio.sleep(3600)  # a client that sends nothing more
        return pending.pop(0)

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": list(headers),
             "query_string": b""}
    bridge = WSGIBridge(app, threads=1, max_body=max_body, **options)
    asyncio.run(asyncio.wait_for(bridge(scope, receive, send), 10))
    return seen, sent, pending


def test_a_body_whose_last_chunk_crosses_the_limit_is_not_waited_for():
    seen, sent, _ = _bridge_call([
        {"type": "http.request", "body": b"12345", "more_body": True},
        {"type": "http.request", "body": b"6789012", "more_body": False}])
    assert seen == {"length": "12", "body": b"123456789012"}  # over 10: the app answers 413
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"


def test_the_rest_of_a_too_large_body_is_left_to_the_server_not_read():
    """Past the limit the application answers at once; uvicorn drops what the client still
    sends once the response is complete."""
    seen, sent, pending = _bridge_call([
        {"type": "http.request", "body": b"123456789012", "more_body": True},
        {"type": "http.request", "body": b"x" * 100, "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False}])
    assert seen["length"] == "12"
    assert len(pending) == 2 and sent[0]["status"] == 200


def test_a_declared_length_over_the_limit_is_not_read_and_an_expect_gets_the_connection_closed():
    for expect, closed in (((), False), (((b"expect", b"100-continue"),), True)):
        seen, sent, pending = _bridge_call(
            [{"type": "http.request", "body": b"x" * 10, "more_body": True}],
            headers=[(b"content-length", b"999999"), *expect])
        assert seen == {"length": "999999", "body": b""}  # the app answers 413 from it
        assert len(pending) == 1  # receive() never called: uvicorn sends no 100 Continue
        assert ((b"connection", b"close") in sent[0]["headers"]) is closed


def test_an_upload_cut_off_before_its_end_never_reaches_the_application():
    for headers in ([(b"content-length", b"8")], [(b"transfer-encoding", b"chunked")]):
        seen, sent, _ = _bridge_call([{"type": "http.request", "body": b"1234", "more_body": True},
                                      {"type": "http.disconnect"}], headers=headers)
        assert (seen, sent) == ({}, [])


def test_a_body_that_stops_coming_is_408_without_running_the_application():
    seen, sent, _ = _bridge_call([{"type": "http.request", "body": b"1234", "more_body": True}],
                                 headers=[(b"content-length", b"8")], body_timeout=0.05)
    assert seen == {}
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert b"in time" in sent[1]["body"]


def test_a_body_shorter_than_its_content_length_is_refused():
    seen, sent, _ = _bridge_call([{"type": "http.request", "body": b"1234", "more_body": False}],
                                 headers=[(b"content-length", b"8")])
    assert seen == {} and sent[0]["status"] == 400


async def _get(bridge, path, sent=None) -> list:
    """A bodiless GET through `bridge`; the messages it sent (appended to `sent` as they go)."""
    sent = [] if sent is None else sent

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await bridge({"type": "http", "method": "GET", "path": path, "headers": []}, receive, send)
    return sent


def test_an_error_raised_by_the_application_reaches_the_server():
    """Django turns view errors into 500 pages itself; anything escaping the WSGI application
    is raised in the server's task (uvicorn answers 500), and the worker thread serves on."""
    import asyncio

    from openspc.wsgi_bridge import WSGIBridge

    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/boom":
            raise LookupError("escaped the application")
        start_response("200 OK", [])
        return [b"fine"]

    bridge = WSGIBridge(app, threads=1, max_body=10)

    async def both():
        with pytest.raises(LookupError, match="escaped the application"):
            await _get(bridge, "/boom")
        return await _get(bridge, "/next")

    sent = asyncio.run(both())
    assert calls == ["/boom", "/next"]
    assert sent[1]["body"] == b"fine"


def test_a_request_cancelled_while_its_thread_works_leaves_the_thread_serving():
    """A client that goes away cancels the request's task; its thread finishes the work,
    drops the answer and takes the next request."""
    import asyncio
    import threading

    from openspc.wsgi_bridge import WSGIBridge

    release = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            release.wait(10)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    bridge = WSGIBridge(app, threads=1, max_body=10)

    async def scenario():
        slow_sent = []
        slow = asyncio.ensure_future(_get(bridge, "/slow", slow_sent))
        await asyncio.sleep(0.05)
        slow.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await slow
        return slow_sent, await asyncio.wait_for(_get(bridge, "/next"), 10)

    slow_sent, next_sent = asyncio.run(scenario())
    assert slow_sent == []
    assert next_sent[1]["body"] == b"/next"


def test_requests_one_at_a_time_keep_to_one_thread_and_concurrent_ones_spread():
    """A thread is started only when none is idle (its database connection and caches stay
    warm for a machine posting one sample at a time), up to the configured number."""
    import asyncio
    import threading

    from openspc.wsgi_bridge import WSGIBridge

    names = []
    together = threading.Barrier(3, timeout=10)

    def app(environ, start_response):
        names.append(threading.current_thread().name)
        if environ["PATH_INFO"] == "/together":
            together.wait()  # three requests that can only finish side by side
        start_response("200 OK", [])
        return [b""]

    bridge = WSGIBridge(app, threads=3, max_body=10)

    async def scenario():
        for _ in range(5):
            await _get(bridge, "/alone")
        await asyncio.gather(*(_get(bridge, "/together") for _ in range(3)))

    asyncio.run(scenario())
    assert len(set(names[:5])) == 1
    assert len(set(names[5:])) == 3


def test_beyond_the_threads_and_the_queue_a_request_is_503_at_once():
    """One thread, one place in the queue: a third request is refused with Retry-After without
    waiting; once the thread is free again requests run as before."""
    import asyncio
    import threading

    from openspc.wsgi_bridge import WSGIBridge

    release = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            release.wait(10)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    bridge = WSGIBridge(app, threads=1, max_body=10, queue=1)

    async def scenario():
        running = asyncio.ensure_future(_get(bridge, "/slow"))
        waiting = asyncio.ensure_future(_get(bridge, "/slow"))
        await asyncio.sleep(0.05)
        refused = await asyncio.wait_for(_get(bridge, "/refused"), 1)
        release.set()
        await asyncio.wait_for(asyncio.gather(running, waiting), 10)
        return refused, await asyncio.wait_for(_get(bridge, "/next"), 10)

    refused, after = asyncio.run(scenario())
    assert refused[0]["status"] == 503
    assert (b"retry-after", b"1") in refused[0]["headers"]
    assert b"busy" in refused[1]["body"]
    assert after[1]["body"] == b"/next"
    assert bridge.workers.outstanding == 0
