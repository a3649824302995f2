import time
import types

import pytest

from reprobook import timing
from reprobook.results import RunRecord
from reprobook.timing import timed


@pytest.fixture
def clock(monkeypatch):
    """A fake perf_counter for reprobook.timing: each call returns the next of the readings appended to it (the
    process clock reads 100 s, then 100.5 s, then 100.5 s onwards)."""
    readings: list[float] = []
    cpu = [100.0, 100.5]
    fake = types.SimpleNamespace(
        perf_counter=lambda: readings.pop(0), process_time=lambda: cpu.pop(0) if len(cpu) > 1 else cpu[0]
    )
    monkeypatch.setattr(timing, "time", fake)
    return readings


def test_timed_records_the_seconds_of_its_block(clock):
    clock += [10.0, 11.0, 12.5]  # start, elapsed() inside the block, end
    with timed() as t:
        assert t.seconds == 0.0 and not t.done
        assert t.elapsed() == 1.0
    assert t.done and t.seconds == 2.5
    assert t.elapsed() == 2.5  # after the block: the block's seconds, no further reading
    assert clock == []


def test_a_timer_outside_a_block_is_a_running_clock_of_wall_and_cpu_seconds(clock):
    clock += [5.0, 7.0, 9.0]  # start, then two readings
    t = timing.Timer()
    assert t.elapsed() == 2.0 and t.elapsed() == 4.0 and not t.done
    assert t.cpu_elapsed() == 0.5  # the process clock: 100 s at the start, 100.5 s now


def test_timed_measures_wall_clock_seconds():
    with timed() as t:
        time.sleep(0.01)
    assert 0.009 <= t.seconds < 5


def test_timed_records_the_seconds_when_the_block_raises(clock):
    clock += [3.0, 3.25]
    with pytest.raises(RuntimeError, match="boom"):
        with timed() as t:
            raise RuntimeError("boom")
    assert t.done and t.seconds == 0.25


def test_run_record_timer_accumulates_blocks_under_one_name(clock):
    clock += [0.0]  # the record's own clock starts
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    clock += [1.0, 2.0, 5.0, 5.5, 7.0, 7.25]
    with rec.timer("train"):
        pass
    with rec.timer("train"):
        pass
    assert rec.timings == {"train": 1.5}
    with pytest.raises(ValueError):
        with rec.timer("train"):
            raise ValueError("a failed block is timed too")
    assert rec.timings == {"train": 1.75}
    assert clock == []
