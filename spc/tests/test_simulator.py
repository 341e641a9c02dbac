"""The demo simulator: a real thread recording through the pipeline into the test database, and
the ASGI lifespan that starts and stops it with the web process.

While a simulator runs, the test thread keeps off the database (it watches the simulator's
counters): on SQLite the test database is shared in memory, where a reader would meet the
writer's table lock instead of waiting for it."""

import asyncio
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from asgiref.testing import ApplicationCommunicator

from openspc.tests.test_server import ROOT, VENV_BIN, _free_port, manage, server_env
from plants.demo import load_demo
from plants.models import Plant
from spc import events
from spc.demo import DEMO_CHARACTERISTICS, load_demo_characteristics
from spc.models import Characteristic, ChartType, Provider, Sample, Source, Violation
from spc.simulator import OPERATOR, Disturbances, Simulator, start_from_settings


@pytest.fixture
def demo(transactional_db):
    load_demo()
    load_demo_characteristics(Plant.objects.get(code="DEMO"), count=40)


@pytest.fixture
def recorded_events():
    seen = Counter()

    def count(sender, event, **kwargs):
        seen[event.characteristic_id] += len(event.points)

    events.samples_recorded.connect(count)
    yield seen
    events.samples_recorded.disconnect(count)


def run_until(simulator: Simulator, each: int, within: float = 30.0) -> None:
    """Start `simulator`, wait until it has recorded `each` samples of every characteristic it
    feeds, and stop it."""
    assert simulator.start()
    try:
        assert simulator.ready.wait(within)
        deadline = time.monotonic() + within
        while not simulator.feeds or min(simulator.recorded[f.characteristic.pk]
                                         for f in simulator.feeds) < each:
            assert time.monotonic() < deadline, dict(simulator.recorded)
            time.sleep(0.02)
    finally:
        assert simulator.stop()


def test_every_demo_characteristic_gets_samples_through_the_pipeline(demo, recorded_events,
                                                                     tmp_path):
    simulator = Simulator(cadence=0.02, seed=1, lock_path=tmp_path / "lock")
    run_until(simulator, each=3)
    live = Sample.objects.filter(operator=OPERATOR).select_related("characteristic")
    by_name = Counter(s.characteristic.name for s in live)
    assert set(by_name) == {spec.name for spec in DEMO_CHARACTERISTICS}
    assert all(count >= 3 for count in by_name.values())
    # the pipeline told the after-commit listeners about every one of them
    assert sum(recorded_events.values()) == live.count() == sum(simulator.recorded.values())
    manual = {spec.name for spec in DEMO_CHARACTERISTICS if spec.provider == Provider.MANUAL}
    assert {s.source for s in live if s.characteristic.name in manual} == {Source.MANUAL}
    assert {s.source for s in live if s.characteristic.name not in manual} == {Source.TAG}
    # judged as they came: each carries what its chart carries for the next one
    assert all(s.ewma is not None for s in live if s.characteristic.chart_type == ChartType.EWMA)
    assert all(s.cusum_upper is not None for s in live
               if s.characteristic.chart_type == ChartType.CUSUM)


def test_shifts_raise_violations_on_every_chart(demo, tmp_path):
    simulator = Simulator(cadence=0.01, seed=11, calm=(0, 0), kinds=("shift",),
                          lock_path=tmp_path / "lock")
    run_until(simulator, each=40)
    flagged = set(Violation.objects.filter(sample__operator=OPERATOR)
                  .values_list("characteristic__name", flat=True))
    assert flagged == {spec.name for spec in DEMO_CHARACTERISTICS}


def test_a_sample_that_fails_is_logged_and_the_others_go_on(demo, tmp_path, caplog):
    # a configuration the process no longer matches: every Piston diameter sample is refused
    Characteristic.objects.filter(name="Piston diameter").update(subgroup_size=3)
    simulator = Simulator(cadence=0.02, seed=4, lock_path=tmp_path / "lock")
    assert simulator.start()
    try:
        assert simulator.ready.wait(10)
        others = [f.characteristic.pk for f in simulator.feeds
                  if f.characteristic.name != "Piston diameter"]
        deadline = time.monotonic() + 30
        while min(simulator.recorded[pk] for pk in others) < 3:
            assert time.monotonic() < deadline, dict(simulator.recorded)
            time.sleep(0.02)
        assert simulator.running
    finally:
        assert simulator.stop()
    assert len(simulator.recorded) == len(others)
    failures = [r for r in caplog.records if r.getMessage() == "Simulator: no sample for "
                "Piston diameter"]
    assert len(failures) == 1 and "needs exactly 3 values" in failures[0].exc_text


def test_the_disturbances_are_seeded_calm_then_a_shift():
    def first(seed, points):
        plan = Disturbances(np.random.default_rng(seed), calm=(5, 5), kinds=("shift",))
        return [plan.next_point() for _ in range(points)]

    points = first(3, 30)
    assert points == first(3, 30)
    assert points[:5] == [(0.0, None)] * 5
    offset, what = points[5]
    assert 1.0 <= abs(offset) <= 2.0 and what.startswith("mean shift")
    length = int(re.search(r"for (\d+) points", what).group(1))
    assert 10 <= length <= 20
    assert [o for o, _ in points[5:5 + length]] == [offset] * length
    assert points[5 + length] == (0.0, None)


def test_an_attribute_chart_is_only_disturbed_upwards():
    plan = Disturbances(np.random.default_rng(5), calm=(0, 0), upward=True)
    assert min(plan.next_point()[0] for _ in range(500)) > 0


def test_it_stops_within_a_second_between_samples(demo, tmp_path):
    simulator = Simulator(seed=2, lock_path=tmp_path / "lock")  # the demo's own cadences
    assert simulator.start()
    assert simulator.ready.wait(10)
    time.sleep(0.3)
    began = time.monotonic()
    assert simulator.stop()
    assert time.monotonic() - began < 1.0
    assert not simulator.running


def test_one_simulator_at_a_time(demo, tmp_path):
    first = Simulator(cadence=0.5, lock_path=tmp_path / "lock")
    second = Simulator(cadence=0.5, lock_path=tmp_path / "lock")
    assert first.start()
    try:
        assert not second.start()
        assert not second.running
    finally:
        first.stop()
    assert second.start()  # the lock is free again once the first has stopped
    second.stop()


def test_it_is_off_unless_the_setting_is_on(settings):
    assert settings.SIMULATOR is False  # the default, as in every test
    assert start_from_settings() is None


def simulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "openspc-simulator"]


def lifespan_exchange(during=None) -> list[dict]:
    """Startup and shutdown through the application's lifespan scope; what it answered, with
    `during()` called between them."""
    from openspc.asgi import application

    async def exchange():
        app = ApplicationCommunicator(application, {"type": "lifespan",
                                                    "asgi": {"version": "3.0"}})
        await app.send_input({"type": "lifespan.startup"})
        answers = [await app.receive_output(5)]
        if during:
            await asyncio.to_thread(during)
        await app.send_input({"type": "lifespan.shutdown"})
        answers.append(await app.receive_output(2))
        await app.wait(1)
        return answers

    # on a thread of its own: the session may run an event loop on this one (Playwright's
    # sync API keeps one running for the session's Chromium)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, exchange()).result(timeout=30)


COMPLETE = [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_the_lifespan_starts_and_stops_the_simulator_when_it_is_on(demo, settings, tmp_path):
    settings.SIMULATOR = True
    settings.DATA_DIR = tmp_path  # its lock file
    during = []
    answers = lifespan_exchange(lambda: during.extend(simulator_threads()))
    assert answers == COMPLETE
    assert len(during) == 1
    assert simulator_threads() == []


def test_the_lifespan_starts_nothing_when_it_is_off(settings):
    assert lifespan_exchange(lambda: None) == COMPLETE
    assert simulator_threads() == []


def test_make_run_serves_with_the_simulator_and_stops_cleanly_on_ctrl_c(tmp_path):
    """uvicorn as `make run` starts it, on its own SQLite: samples arrive; SIGINT stops the
    simulator and the server, exit status 0, no traceback."""
    env = server_env(tmp_path, SIMULATOR="true")
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "load_demo")
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(_free_port()),
             "--lifespan", "on", "openspc.asgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "Simulator: feeding" not in log_path.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            time.sleep(4)  # Fill weight comes every 1–2 s
            proc.send_signal(signal.SIGINT)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log_path.read_text()
    assert "Traceback" not in output
    stopped = re.search(r"Simulator stopped after (\d+) samples", output)
    assert stopped and int(stopped.group(1)) > 0, output
    assert output.index("Simulator stopped") < output.index("Application shutdown complete")
