"""The progress line: rates and ETA from this run's work, redrawn on a terminal, throttled logs."""

from __future__ import annotations

import io

from trf_core.annotate.progress import Progress, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rates_and_eta_count_only_this_runs_work() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(
        total=1000, already=400, mode="log", stream=stream, log_every=0, clock=clock
    )
    clock.now += 10
    progress.update(records=100, docs=90, words=1800)
    # 100 records in 10 s, 500 left: 50 s; the 400 done before this run count as done only.
    assert stream.getvalue() == (
        "annotate: 500/1,000 records (50%) 9.0 docs/s 180 words/s ETA 0m50s\n"
    )


def test_log_lines_are_throttled_but_the_last_one_is_always_written() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(total=30, mode="log", stream=stream, log_every=10, clock=clock)
    for _ in range(3):
        clock.now += 4
        progress.update(10, 10, 10)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annotate: 30/30 records (100%)")


def test_a_terminal_gets_one_redrawn_line() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(total=20, mode="bar", stream=stream, clock=clock)
    for _ in range(2):
        clock.now += 1
        progress.update(10, 10, 50)
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1


def test_auto_mode_follows_the_stream() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress(1, stream=Terminal()).mode == "bar"
    assert Progress(1, stream=io.StringIO()).mode == "log"


def test_durations_read_like_durations() -> None:
    assert [format_duration(s) for s in (0, 59.6, 61, 3600 * 2 + 5)] == [
        "0m00s", "1m00s", "1m01s", "2h00m05s"
    ]  # fmt: skip
