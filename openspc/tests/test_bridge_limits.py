"""The edge of openspc.wsgi_bridge against a real uvicorn process, over raw sockets: uploads cut
off or never finished reach no view, a body must arrive in time, a too-large declared length is
refused before its body is sent, and requests beyond the threads and the queue get 503.

The server has one thread, one place in its queue, a 1 s body timeout and a 1 MB limit; it
serves its own SQLite file, so a test can hold the database's write lock to keep its thread
busy. Every socket operation has a timeout: a regression fails, it does not hang.
"""

import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from openspc.tests.test_server import manage, server_env, serving

BODY_TIMEOUT_S = 1
SETUP = """
import json
from plants.models import Level
from plants.roles import Role
from plants.tests.factories import NodeFactory, PlantFactory, user_with_role
from rest_framework.authtoken.models import Token
from spc.tests.factories import CharacteristicFactory
plant = PlantFactory()
characteristic = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE))
user = user_with_role(plant, Role.OPERATOR, "machine")
print(json.dumps({"id": characteristic.pk, "token": Token.objects.create(user=user).key}))
"""


class Tight:
    def __init__(self, port: int, data: Path, characteristic: int, token: str):
        self.port, self.data = port, data
        self.samples = f"/api/v1/characteristics/{characteristic}/samples/"
        self.auth = f"Authorization: Token {token}\r\n"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def head(self, method: str, path: str, *headers: str) -> bytes:
        lines = "".join(f"{h}\r\n" for h in headers)
        return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.auth}{lines}\r\n".encode()

    def post_sample(self, value: float) -> bytes:
        body = json.dumps({"values": [value]}).encode()
        return self.head("POST", self.samples, "Content-Type: application/json",
                         f"Content-Length: {len(body)}") + body

    def stored_values(self) -> list[list[float]]:
        sock = self.connect()
        with sock:
            sock.sendall(self.head("GET", self.samples))
            status, _, body = read_response(sock)
        assert status == 200, body
        return [sample["values"] for sample in json.loads(body)["results"]]


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    data = tmp_path_factory.mktemp("tight")
    env = server_env(data, MAX_REQUEST_MB="1", WEB_THREADS="1", WEB_QUEUE="1",
                     REQUEST_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S))
    with serving(env) as port:
        made = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
        yield Tight(port, data, made["id"], made["token"])


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict, bytes]:
    """One response (an interim 1xx included) from `sock`: status, headers, body."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])

    def at_least(size):
        nonlocal rest
        while len(rest) < size:
            chunk = sock.recv(65536)
            assert chunk, "connection closed in the middle of a response"
            rest += chunk

    if status >= 200 and headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                at_least(len(rest) + 1)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            at_least(size + 2)
            body, rest = body + rest[:size], rest[size + 2:]
            if size == 0:
                return status, headers, body
    length = 0 if status < 200 else int(headers.get("content-length", 0))
    at_least(length)
    return status, headers, rest[:length]


def closed_by_server(sock: socket.socket, timeout: float = 5) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_sample_post_cut_off_before_its_end_stores_nothing(tight):
    """The reproduction of issue 10: a client that sent a valid JSON prefix of the body it
    declared, or a chunked body without its last chunk, and went away, stored a sample."""
    body = json.dumps({"values": [11.0]}).encode()
    cut_off = [
        tight.head("POST", tight.samples, "Content-Type: application/json",
                   f"Content-Length: {len(body) + 40}") + body,
        tight.head("POST", tight.samples, "Content-Type: application/json",
                   "Transfer-Encoding: chunked") + b"%x\r\n%s\r\n" % (len(body), body),
    ]
    for request in cut_off:
        sock = tight.connect()
        sock.sendall(request)
        time.sleep(0.1)  # the server has the part that was sent
        sock.close()
    sock = tight.connect()
    with sock:
        sock.sendall(tight.post_sample(12.0))
        status, _, answer = read_response(sock)
    assert status == 201, answer
    assert tight.stored_values() == [[12.0]]  # the one whole request, only


@pytest.mark.parametrize("framing", ["Content-Length: 1000", "Transfer-Encoding: chunked"])
def test_a_body_that_never_ends_is_408_after_the_body_timeout(tight, framing):
    before = tight.stored_values()
    sock = tight.connect()
    with sock:
        started = time.monotonic()
        sock.sendall(tight.head("POST", tight.samples, "Content-Type: application/json", framing)
                     + (b"4\r\n" if "chunked" in framing else b"") + b'{"va')
        status, headers, body = read_response(sock, timeout=BODY_TIMEOUT_S + 5)
        elapsed = time.monotonic() - started
        assert status == 408 and "in time" in json.loads(body)["detail"]
        assert headers["connection"] == "close" and closed_by_server(sock)
    assert BODY_TIMEOUT_S - 0.2 < elapsed < BODY_TIMEOUT_S + 3
    assert tight.stored_values() == before


def test_expect_100_continue_with_a_length_over_the_limit_is_413_without_a_continue(tight):
    sock = tight.connect()
    with sock:
        started = time.monotonic()
        sock.sendall(tight.head("POST", tight.samples, "Content-Type: application/json",
                                f"Content-Length: {300 * 1024 * 1024}", "Expect: 100-continue"))
        status, headers, body = read_response(sock, timeout=5)
        assert time.monotonic() - started < 3
        assert status == 413 and "limit" in json.loads(body)["detail"]
        # The first answer, no "100 Continue" before it; the connection closes, as the body
        # will not be sent.
        assert headers["connection"] == "close" and closed_by_server(sock)


def test_expect_100_continue_within_the_limit_gets_its_continue_and_is_served(tight):
    body = json.dumps({"values": [13.0]}).encode()
    sock = tight.connect()
    with sock:
        sock.sendall(tight.head("POST", tight.samples, "Content-Type: application/json",
                                f"Content-Length: {len(body)}", "Expect: 100-continue"))
        assert read_response(sock, timeout=5)[0] == 100
        sock.sendall(body)
        status, _, answer = read_response(sock)
    assert status == 201 and json.loads(answer)["values"] == [13.0]


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(tight):
    """No 256 MB read and dropped first: the 413 comes while the client has sent 64 KB of its
    300 MB, and the server drops whatever else it sends on that connection."""
    sock = tight.connect()
    with sock:
        started = time.monotonic()
        sock.sendall(tight.head("POST", tight.samples, "Content-Type: application/json",
                                f"Content-Length: {300 * 1024 * 1024}") + b"1" * 65536)
        status, _, body = read_response(sock, timeout=5)
        assert time.monotonic() - started < 3
        assert status == 413 and "limit" in json.loads(body)["detail"]
        sock.sendall(b"1" * 65536)  # still accepted (and dropped), not reset
    assert tight.stored_values()  # the server serves on


def test_beyond_the_thread_and_the_queue_a_request_is_503_with_retry_after(tight):
    """The one thread is held by a sample POST waiting for the SQLite write lock the test
    holds, a second waits in the queue of one: any further request is refused at once."""
    lock = sqlite3.connect(tight.data / "openspc.sqlite3", isolation_level=None, timeout=10)
    lock.execute("BEGIN IMMEDIATE")
    held, refused = [], None
    try:
        for value in (21.0, 22.0):
            sock = tight.connect()
            sock.sendall(tight.post_sample(value))
            held.append(sock)
        # Until both are in (the order in which the server reads the sockets is its own),
        # a probe may still run or wait; at most two can wait before the queue is full.
        deadline = time.monotonic() + 5
        while refused is None:
            assert time.monotonic() < deadline, "no request was refused"
            sock = tight.connect()
            sock.sendall(tight.head("GET", "/health"))
            try:
                status, headers, body = read_response(sock, timeout=0.5)
            except TimeoutError:
                held.append(sock)  # waiting for the thread: read after the lock goes
                continue
            sock.close()
            if status == 503:
                refused = headers, body
        started = time.monotonic()
        sock = tight.connect()
        with sock:
            sock.sendall(tight.head("GET", "/health"))
            assert read_response(sock, timeout=2)[0] == 503
        assert time.monotonic() - started < 1  # answered at once, not after a wait
    finally:
        lock.rollback()
        lock.close()
    headers, body = refused
    assert headers["retry-after"] == "1" and "busy" in json.loads(body)["detail"]
    statuses = [read_response(sock)[0] for sock in held]
    for sock in held:
        sock.close()
    assert statuses[:2] == [201, 201] and set(statuses[2:]) <= {200}
    sock = tight.connect()
    with sock:
        sock.sendall(tight.head("GET", "/health"))
        assert read_response(sock)[0] == 200
