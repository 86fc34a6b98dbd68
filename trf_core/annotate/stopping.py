"""Stopping on a signal: SIGTERM becomes an exception, like SIGINT's ``KeyboardInterrupt``.

Schedulers and ``kill`` send SIGTERM to the command's process alone. Python's default action
for it ends the process at once, leaving the workers it started running; raised as
:class:`Terminated` instead, it unwinds through the engines, which stop their workers on the way
out, exactly as Ctrl-C does.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException like KeyboardInterrupt: ``except Exception`` misses it)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    # A second signal while the workers are being stopped must not cut that short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Terminated()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated`, SIGINT ``KeyboardInterrupt``, inside the block."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _raise_terminated)
    if previous[signal.SIGINT] is not signal.SIG_IGN:  # started with SIGINT ignored: keep it so
        signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["Terminated", "stop_on_signals"]
