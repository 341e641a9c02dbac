"""Serving Django's WSGI handler to an ASGI server, one thread hop per request.

The request body is read on the event loop before the application runs (up to the request size
limit), the WSGI application then runs on a fixed pool of long-lived threads — each keeps its
database connection — and the response comes back to the loop in one piece. Only a large
response (a static file, an export) is streamed, chunk by chunk, from the thread.

Measured against a2wsgi, which passes the body and each part of the response between the
thread and the loop while the application runs: a sample POST spent ~3 ms in Django under the
server against ~1.5 ms in-process; every crossing wakes the other thread and contends for the GIL.

At its edge it does what a maintained server does:

* The application sees a request only once its body has arrived whole (or past the size limit,
  to answer 413). A client that goes away before the end of its Content-Length or of its chunked
  body has sent no request: nothing runs, and there is nobody to answer.
* A body must arrive within `body_timeout` seconds, or the answer is 408 (up to a quarter of the
  timeout later, at most 1 s) and the connection is closed. The body is read on the event loop,
  so a slow upload holds no thread meanwhile; the timeout frees its socket and buffer.
* A declared length over the limit is answered 413 without reading the body (see `__call__`).
* At most `threads` requests run and `queue` more wait for a thread; beyond that the answer is
  503 with Retry-After at once, instead of a queue that grows without limit.

There is no response timeout. A thread running Django cannot be stopped, and a 504 sent while it
carries on would tell a client that its sample was not stored when it then is: the client's
retry would store it twice. The body timeout and the bounded queue bound what can wait for a
thread; what runs on one is bounded by the database's own timeouts.
"""

import asyncio
import contextlib
import io
import json
import queue
import sys
import threading

STREAM_AFTER = 256 * 1024  # bytes of response kept in memory before streaming the rest
RETRY_AFTER_S = 1  # what a 503 for a full queue tells the client to wait


class WSGIBridge:
    def __init__(self, app, threads: int, max_body: int, queue: int = 64,
                 body_timeout: float = 60):
        self.app = app
        self.max_body = max_body
        self.workers = _Workers(threads, "http", queue)
        # Reads of a body in progress, by task: their deadline, or None once timed out. One
        # sweep per `sweep_every` s cancels those past it, while there are any — instead of a
        # timer per request: setting and cancelling one (asyncio.timeout, loop.call_at) costs
        # ~8 µs under uvloop, for a read that is nearly always over at once.
        self.body_timeout = body_timeout
        self.reading: dict[asyncio.Task, float | None] = {}
        self.sweep_every = min(1.0, body_timeout / 4)
        self.sweeping_on = None  # the event loop a sweep is scheduled on

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"WSGIBridge serves HTTP only, not {scope['type']!r}")
        declared, chunked = _framing(scope)
        loop = asyncio.get_running_loop()
        close = False
        if declared is not None and declared > self.max_body:
            # Not read at all: the application answers 413 from the declared length
            # (RequestSizeLimitMiddleware, before anything else). uvicorn sends "100 Continue"
            # only when receive() is first called, so a client that asked for it never sends
            # the body; it is told the connection closes (RFC 9110 §10.1.1), since the server
            # would otherwise take its next request for the body it announced. A client already
            # sending gets the 413 now instead of after up to its whole body; the connection is
            # kept, and uvicorn's parser (httptools or h11) reads and drops the rest of the body
            # once the response is complete, without buffering it. Closing instead would reset
            # the connection under a client that is still sending (unread data at close() makes
            # the kernel send RST), and a client that writes its whole body before reading — as
            # http.client and most machine clients do — would see the reset, never the 413.
            body = b""
            close = _expects_continue(scope)
        elif declared or chunked or scope.get("http_version") == "2":
            body = await self._read_body(loop, receive, send, declared)
            if body is None:
                return  # cut off (nobody to answer) or answered already
        else:
            body = b""  # HTTP/1.x frames a request body only by Content-Length or chunks
        if self.workers.full():
            await _answer(send, 503, _BUSY, _RETRY, *((_CLOSE,) if close else ()))
            return
        environ = _environ(scope, body, declared)
        status, headers, chunks = await self.workers.run(loop, self._run, environ, loop, send)
        if chunks is None:
            return  # a large response, streamed from the thread (a 413 never is)
        if close:
            headers.append(_CLOSE)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    async def _read_body(self, loop, receive, send, declared: int | None) -> bytes | None:
        """The whole body — or, for one that is too large, its first chunks past the limit (the
        application answers 413 from their length; the server drops the rest after the answer,
        as for a declared length). None when there is nothing to run: the client went away
        before the end of the body, or it did not arrive within the timeout (answered 408)."""
        task = asyncio.current_task()
        self.reading[task] = loop.time() + self.body_timeout
        if self.sweeping_on is not loop:
            self.sweeping_on = loop
            loop.call_later(self.sweep_every, self._sweep, loop)
        parts, size = [], 0
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None  # http.disconnect: the upload was cut off
                chunk = message.get("body", b"")
                parts.append(chunk)
                size += len(chunk)
                if not message.get("more_body", False):
                    break
                if size > self.max_body:
                    return b"".join(parts)
        except asyncio.CancelledError:
            if self.reading.get(task, 0) is not None or task.uncancel() > 0:
                raise  # not (only) the sweep's doing
            await _answer(send, 408, _TIMED_OUT, _CLOSE)
            return None
        finally:
            del self.reading[task]
        if declared is not None and size != declared:
            # uvicorn's parsers never end a message short of its Content-Length; another
            # server might, and a short body must not pass for the whole one.
            await _answer(send, 400, _SHORT, _CLOSE)
            return None
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _sweep(self, loop) -> None:
        """Cancel the reads past their deadline; again in `sweep_every` s while any is left."""
        if self.reading:
            now = loop.time()
            for task, deadline in self.reading.items():
                if deadline is not None and deadline <= now:
                    self.reading[task] = None  # a value, not a key: the dict's size stays
                    task.cancel()
            loop.call_later(self.sweep_every, self._sweep, loop)
        else:
            self.sweeping_on = None

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
    at a time keep to one thread — its database connection and caches stay warm.

    At most `waiting` jobs wait for a thread: `full()` says when one more would exceed that.
    The count is kept by the event loop alone (a job counts from `run` to its settling on the
    loop), so it needs no lock; one event loop submits the jobs, as under uvicorn."""

    def __init__(self, threads: int, name: str, waiting: int):
        self.threads, self.name = threads, name
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.idle = threading.Semaphore(0)  # released by a thread each time it finishes a job
        self.started = 0
        self.lock = threading.Lock()
        self.capacity = threads + waiting  # jobs running or waiting for a thread
        self.outstanding = 0

    def full(self) -> bool:
        """Every thread is busy and `waiting` jobs wait already."""
        return self.outstanding >= self.capacity

    def run(self, loop, fn, *args) -> asyncio.Future:
        """`fn(*args)` on a worker thread; a future of the event loop `loop` for its result."""
        future = loop.create_future()
        self.outstanding += 1
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
                loop.call_soon_threadsafe(self._settle, future, result, error)
            del loop, future, fn, args, result, error  # hold nothing of a request while idle

    def _settle(self, future: asyncio.Future, result, error) -> None:
        """On the event loop: a job is done."""
        self.outstanding -= 1
        if future.cancelled():  # the request's task was cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _json(detail: str) -> bytes:
    return json.dumps({"detail": detail}).encode()


_BUSY = _json("The server is busy; retry in a moment.")
_TIMED_OUT = _json("The request body did not arrive in time.")
_SHORT = _json("The request body is shorter than its Content-Length.")
_CLOSE = (b"connection", b"close")
_RETRY = (b"retry-after", str(RETRY_AFTER_S).encode())


async def _answer(send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    """A short JSON answer of the bridge's own, for a request the application never sees."""
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        *headers,
    ]})
    await send({"type": "http.response.body", "body": body})


def _no_write(data):
    raise NotImplementedError("The WSGI write() callable is not supported; return an iterable.")


def _framing(scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None: absent or not a number) and whether the body is sent
    in chunks (Transfer-Encoding), in one pass over the headers."""
    declared, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None  # the application answers 400 (RequestSizeLimitMiddleware)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _expects_continue(scope) -> bool:
    return any(name == b"expect" and value.lower() == b"100-continue"
               for name, value in scope["headers"])


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
    # What the application may read: the body as received (a too-large one ends with the chunk
    # that crossed the limit, or is not read at all when its declared length is over the limit).
    if declared is None or declared <= len(body):
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ
