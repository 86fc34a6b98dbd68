"""The transformer component keeps freed memory for reuse (glibc), once per process, unless told
not to: what the settings are, who decides, and that glibc really keeps a freed block."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from trf_core.component import allocator
from trf_core.testing.pipelines import build_nlp, tagger_examples


class RecordingLibc:
    def __init__(self, result: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.result = result

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return self.result


@pytest.fixture
def undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_decided", None)
    monkeypatch.delenv(allocator.ENV_VAR, raising=False)


def test_the_first_call_raises_both_thresholds_and_later_calls_keep_its_decision(
    undecided: None,
) -> None:
    libc = RecordingLibc()
    assert allocator.keep_freed_memory(libc=libc) is True
    assert sorted(libc.calls) == sorted(
        [(-1, allocator.TRIM_THRESHOLD), (-3, allocator.MMAP_THRESHOLD)]
    )
    again = RecordingLibc()
    assert allocator.keep_freed_memory(enable=False, libc=again) is True
    assert again.calls == []


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_the_environment_variable_leaves_malloc_alone(
    undecided: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(allocator.ENV_VAR, value)
    libc = RecordingLibc()
    assert allocator.keep_freed_memory(libc=libc) is False
    assert libc.calls == []


def test_a_refused_mmap_threshold_leaves_malloc_as_it_was(undecided: None) -> None:
    libc = RecordingLibc(result=0)
    assert allocator.keep_freed_memory(libc=libc) is False
    assert libc.calls == [(-3, allocator.MMAP_THRESHOLD)]  # the trim threshold is not touched


@pytest.mark.parametrize("run", ["predict", "update"])
def test_the_component_decides_on_its_first_run(
    undecided: None, monkeypatch: pytest.MonkeyPatch, run: str
) -> None:
    applied: list[object] = []
    monkeypatch.setattr(allocator, "_apply", lambda libc: applied.append(libc) or True)
    nlp = build_nlp()
    monkeypatch.setattr(allocator, "_decided", None)  # as if the process started here
    applied.clear()
    if run == "predict":
        nlp("a cat sat")
    else:
        nlp.update(tagger_examples(nlp))
    assert applied == [None]
    nlp("on the mat")
    assert len(applied) == 1


def test_the_thresholds_bound_what_is_kept() -> None:
    # Blocks up to the mmap threshold are reused; the trim threshold still returns a heap top
    # of free memory larger than that, so one huge batch does not pin its memory forever.
    assert 32 * 2**20 < allocator.MMAP_THRESHOLD <= allocator.TRIM_THRESHOLD <= 2**31 - 1


GLIBC_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from trf_core.component.allocator import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "keep":
        assert keep_freed_memory() is True
    block = 64 * 2**20
    p = libc.malloc(block)
    mapped = libc.mallinfo2().hblkhd
    libc.free(p)
    print(int(mapped >= block), int(libc.mallinfo2().fordblks >= block))
    """
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's",
)
def test_glibc_keeps_a_freed_64_mb_block_only_once_the_thresholds_are_raised() -> None:
    def probe(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", GLIBC_PROBE, mode], capture_output=True, text=True, check=True
        )
        return done.stdout.split("\n")[0]

    # By default glibc maps a 64 MB block on its own and unmaps it when freed; with the
    # thresholds raised it comes from the heap and, freed, stays there for the next one.
    assert probe("default") == "1 0"
    assert probe("keep") == "0 1"
