"""Serving Django's WSGI handler to an ASGI server, one thread hop per request.

The request body is read on the event loop before the application runs (up to the request size
limit), the WSGI application then runs on a fixed pool of long-lived threads — each keeps its
database connection — and the response comes back to the loop in one piece. Only a large
response (a static file, an export) is streamed, chunk by chunk, from the thread.

Measured against a2wsgi, which passes the body and each part of the response between the
thread and the loop while the application runs: a sample POST spent ~3 ms in Django under the
server against ~1.5 ms in-process; every crossing wakes the other thread and contends for the GIL.
"""

import asyncio
import contextlib
import io
import queue
import sys
import threading

STREAM_AFTER = 256 * 1024  # bytes of response kept in memory before streaming the rest
DRAIN_AT_MOST = 256 * 1024 * 1024  # bytes of a too-large body read and dropped before the 413


class WSGIBridge:
    def __init__(self, app, threads: int, max_body: int):
        self.app = app
        self.max_body = max_body
        self.workers = _Workers(threads, "http")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"WSGIBridge serves HTTP only, not {scope['type']!r}")
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            body = b""  # not kept: the size check answers 413 from the declared length
            await self._drain(receive)
        else:
            body, complete = await self._read_body(receive)
            if not complete:
                await self._drain(receive)
        environ = _environ(scope, body, declared)
        loop = asyncio.get_running_loop()
        status, headers, chunks = await self.workers.run(loop, self._run, environ, loop, send)
        if chunks is None:
            return  # a large response, streamed from the thread
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    async def _read_body(self, receive) -> tuple[bytes, bool]:
        """(the body, True) — or, for one that is too large, (its first chunks, past the
        limit, and False while the client is still sending the rest)."""
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(parts), True
            chunk = message.get("body", b"")
            parts.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), True
            if size > self.max_body:
                return b"".join(parts), False

    async def _drain(self, receive) -> None:
        """Read and drop the rest of a body that is too large (up to DRAIN_AT_MOST), so that
        the client, still sending, gets the 413 instead of a reset connection."""
        dropped = 0
        while dropped < DRAIN_AT_MOST:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                return
            dropped += len(message.get("body", b""))

    def _run(self, environ, loop, send):
        """On a pool thread: run the application and collect its response."""
        started = {}

        def start_response(status, headers, exc_info=None):
            if exc_info and started.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                  for k, v in headers]
            return _no_write

        result = self.app(environ, start_response)
        try:
            chunks, size = [], 0
            iterator = iter(result)
            for chunk in iterator:
                if chunk:
                    chunks.append(chunk)
                    size += len(chunk)
                if size > STREAM_AFTER:
                    started["sent"] = True
                    self._stream(loop, send, started, chunks, iterator)
                    return started["status"], started["headers"], None
            return started["status"], started["headers"], chunks
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: connections, signals — on this thread

    @staticmethod
    def _stream(loop, send, started, chunks, iterator):
        def call(message):
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        call({"type": "http.response.start", "status": started["status"],
              "headers": started["headers"]})
        call({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
        for chunk in iterator:
            if chunk:
                call({"type": "http.response.body", "body": chunk, "more_body": True})
        call({"type": "http.response.body", "body": b""})


class _Workers:
    """Up to `threads` long-lived threads taking jobs from one queue, each result handed back to
    the event loop in one callback: what `loop.run_in_executor` does, without its second future
    and condition variables (~0.1 ms less per request on a busy two-core machine). As in
    ThreadPoolExecutor, a thread is started only when none is idle, so requests that come one
    at a time keep to one thread — its database connection and caches stay warm."""

    def __init__(self, threads: int, name: str):
        self.threads, self.name = threads, name
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.idle = threading.Semaphore(0)  # released by a thread each time it finishes a job
        self.started = 0
        self.lock = threading.Lock()

    def run(self, loop, fn, *args) -> asyncio.Future:
        """`fn(*args)` on a worker thread; a future of the event loop `loop` for its result."""
        future = loop.create_future()
        self.jobs.put((loop, future, fn, args))
        if not self.idle.acquire(blocking=False):
            self._start_one()
        return future

    def _start_one(self) -> None:
        with self.lock:
            if self.started < self.threads:
                threading.Thread(target=self._serve, name=f"{self.name}_{self.started}",
                                 daemon=True).start()
                self.started += 1

    def _serve(self) -> None:
        while True:
            loop, future, fn, args = self.jobs.get()
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # raised again in the waiting request
                result, error = None, exc
            # Idle before the answer goes back, so that the next request of the same client
            # finds this thread instead of starting another.
            self.idle.release()
            # RuntimeError: the event loop has closed meanwhile, nobody waits for this any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)
            del loop, future, fn, args, result, error  # hold nothing of a request while idle


def _settle(future: asyncio.Future, result, error) -> None:
    if future.cancelled():  # the request's task was cancelled (the client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _no_write(data):
    raise NotImplementedError("The WSGI write() callable is not supported; return an iterable.")


def _content_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _environ(scope, body: bytes, declared: int | None) -> dict:
    """The PEP 3333 environ of an ASGI HTTP scope (as asgiref and a2wsgi build it)."""
    script_name = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    path_info = scope["path"].encode("utf-8").decode("latin-1")
    if path_info.startswith(script_name):
        path_info = path_info[len(script_name):]
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    # What the application may read: the body as received (a too-large one was cut at the limit
    # + 1 byte, or not read at all when its declared length is over the limit).
    if declared is None or declared <= len(body):
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ
