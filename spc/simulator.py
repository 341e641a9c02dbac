"""The demo simulator: live samples for the demo characteristics, through the pipeline.

On with OPENSPC_SIMULATOR (`make run` sets it; off by default and in production). The web
process starts it on ASGI lifespan startup and stops it on shutdown (openspc/asgi.py). It runs
in one daemon thread with its own database connection and records one sample at a time with
`record_sample` (the pipeline's batch of one, in one transaction: stopping never leaves half a
sample), each characteristic at its own cadence, so it holds SQLite's writer lock no longer
than a form post does. Each characteristic's process is in control most of the time;
now and then its mean shifts, drifts or throws an outlier, and the rules see it.

One process runs it: a simulator holds a lock file in OPENSPC_DATA_DIR while it runs, so a
second web process (`uvicorn --workers N`) finds it taken and leaves the simulation to the first.
"""

import fcntl
import heapq
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from plants.models import Plant
from spc.demo import DemoCharacteristic, demo_characteristics
from spc.models import ATTRIBUTE_CHARTS, Characteristic, Provider, Source
from spc.pipeline import record_sample

log = logging.getLogger(__name__)

CALM = (25, 70)  # points in control between two disturbances
RETRY_AFTER = 30.0  # seconds before a characteristic whose sample failed is tried again
OPERATOR = "simulator"  # the context every simulated sample carries


class Disturbances:
    """The offset of each next point from the process mean, in σ of the plotted statistic: a
    calm stretch of zeros, then a shift, a trend or an outlier (of `kinds`), then calm again.
    With `upward` every disturbance raises the mean: an attribute chart's lower limit is often
    0, and more defects is what a process upset brings."""

    KINDS = {"shift": 0.4, "trend": 0.3, "outlier": 0.3}  # how often each kind comes

    def __init__(self, rng: np.random.Generator, calm: tuple[int, int] = CALM,
                 kinds=tuple(KINDS), upward: bool = False):
        self.rng, self.calm, self.upward = rng, calm, upward
        self.kinds = list(kinds)
        weights = np.array([self.KINDS[k] for k in self.kinds])
        self.weights = weights / weights.sum()
        self.plan: deque[tuple[float, str | None]] = deque()  # (offset, what begins there)

    def next_point(self) -> tuple[float, str | None]:
        """(offset, a description when a disturbance begins at this point, else None)."""
        if not self.plan:
            calm = int(self.rng.integers(*self.calm, endpoint=True))
            self.plan.extend([(0.0, None)] * calm)
            self.plan.extend(self._disturbance(self.rng.choice(self.kinds, p=self.weights)))
        return self.plan.popleft()

    def _disturbance(self, kind: str) -> list[tuple[float, str | None]]:
        sign = 1.0 if self.upward or self.rng.random() < 0.5 else -1.0
        if kind == "shift":
            size, length = sign * self.rng.uniform(1.0, 2.0), int(self.rng.integers(10, 21))
            offsets, what = [size] * length, f"mean shift of {size:+.1f}σ for {length} points"
        elif kind == "trend":
            step, length = sign * self.rng.uniform(0.3, 0.5), int(self.rng.integers(8, 13))
            offsets = [step * (i + 1) for i in range(length)]
            what = f"trend of {step:+.2f}σ per point for {length} points"
        else:
            size = sign * self.rng.uniform(3.5, 4.5)
            offsets, what = [size], f"outlier at {size:+.1f}σ"
        return [(offsets[0], what)] + [(o, None) for o in offsets[1:]]


@dataclass
class Feed:
    """One characteristic the simulator feeds, with its process and random stream."""

    characteristic: Characteristic
    spec: DemoCharacteristic
    rng: np.random.Generator
    disturbances: Disturbances
    every: tuple[float, float]

    def delay(self) -> float:
        return float(self.rng.uniform(*self.every))

    def request(self):
        offset, begins = self.disturbances.next_point()
        if begins:
            log.info("Simulator: %s on %s", begins, self.characteristic.name)
        source = Source.MANUAL if self.spec.provider == Provider.MANUAL else Source.TAG
        return self.spec.request(self.rng, offset, source=source, operator=OPERATOR)


class Simulator:
    """Feeds the demo characteristics of `plant_code` until stopped.

    `cadence` (seconds) replaces every characteristic's own; `seed` makes each characteristic's
    values and disturbances repeatable; `calm` and `kinds` shape the disturbances; `lock_path`
    is the file that keeps it to one process."""

    def __init__(self, plant_code: str = "DEMO", cadence: float | None = None,
                 seed: int | None = None, calm: tuple[int, int] = CALM,
                 kinds=tuple(Disturbances.KINDS), lock_path: Path | None = None):
        self.plant_code, self.cadence, self.seed = plant_code, cadence, seed
        self.calm, self.kinds = calm, kinds
        self.lock_path = lock_path or Path(settings.DATA_DIR) / "simulator.lock"
        self.recorded: Counter[int] = Counter()  # samples recorded, by characteristic id
        self.feeds: list[Feed] = []
        self.ready = threading.Event()  # set once the feeds are known
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file = None

    def start(self) -> bool:
        """Start feeding in a daemon thread; False (and nothing started) when another
        simulator holds the lock."""
        if self._thread is not None:
            raise RuntimeError("A simulator starts once; make a new one")
        if not self._claim():
            log.info("Simulator: another process runs it (%s is locked)", self.lock_path)
            return False
        self._thread = threading.Thread(target=self._run, name="openspc-simulator", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop, waiting up to `timeout` s for a sample being recorded; True once stopped."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("Simulator: still recording after %.0f s; left to finish", timeout)
                return False
        self._release()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _claim(self) -> bool:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases its lock
            self._lock_file = None

    def _run(self) -> None:
        try:
            self.feeds = self._load_feeds()
            self.ready.set()
            if self.feeds:
                log.info("Simulator: feeding %s", ", ".join(
                    f.characteristic.name for f in self.feeds))
                self._loop()
                log.info("Simulator stopped after %d samples", sum(self.recorded.values()))
        except Exception:
            log.exception("Simulator: stopped by an error")
        finally:
            self.ready.set()
            connection.close()

    def _load_feeds(self) -> list[Feed]:
        """The feeds, read again every RETRY_AFTER s while the database cannot be read."""
        while not self._stopping.is_set():
            try:
                return self._read_feeds()
            except DatabaseError:
                log.exception("Simulator: cannot read the demo characteristics; trying again "
                              "in %.0f s", RETRY_AFTER)
                close_old_connections()
                self._stopping.wait(RETRY_AFTER)
        return []

    def _read_feeds(self) -> list[Feed]:
        plant = Plant.objects.filter(code=self.plant_code).first()
        found = demo_characteristics(plant) if plant else []
        if not found:
            log.warning("Simulator: no demo characteristics in %s; run manage.py load_demo",
                        self.plant_code)
        seeds = np.random.SeedSequence(self.seed).spawn(len(found))
        return [self._feed(ch, spec, np.random.default_rng(s))
                for (ch, spec), s in zip(found, seeds, strict=True)]

    def _feed(self, ch, spec, rng) -> Feed:
        every = (self.cadence, self.cadence) if self.cadence is not None else spec.every
        upward = spec.chart in ATTRIBUTE_CHARTS
        return Feed(ch, spec, rng, Disturbances(rng, self.calm, self.kinds, upward), every)

    def _loop(self) -> None:
        now = time.monotonic()
        due = [(now + feed.delay() / 2, i) for i, feed in enumerate(self.feeds)]
        heapq.heapify(due)
        while not self._stopping.wait(max(0.0, due[0][0] - time.monotonic())):
            _, i = heapq.heappop(due)
            feed = self.feeds[i]
            wait = feed.delay() if self._record(feed) else RETRY_AFTER
            heapq.heappush(due, (time.monotonic() + wait, i))

    def _record(self, feed: Feed) -> bool:
        """Record one sample of `feed`; an error is logged and the simulation goes on."""
        try:
            close_old_connections()  # as a request would: drop a broken or expired one
            record_sample(feed.characteristic, feed.request())
        except Exception:
            log.exception("Simulator: no sample for %s", feed.characteristic.name)
            return False
        self.recorded[feed.characteristic.pk] += 1
        return True


def start_from_settings() -> Simulator | None:
    """The running simulator when OPENSPC_SIMULATOR is on and no other process runs one."""
    if not settings.SIMULATOR:
        return None
    simulator = Simulator()
    return simulator if simulator.start() else None
