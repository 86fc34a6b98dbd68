"""Switches the network off for this process: any socket connection raises.

Put this folder on PYTHONPATH to prove a pipeline loads and runs with nothing but its own files.
"""

import socket


class _NetworkDisabled(OSError):
    pass


def _refuse(*args: object, **kwargs: object) -> None:
    raise _NetworkDisabled(f"network access is disabled in this process (tried {args!r})")


socket.socket.connect = _refuse  # type: ignore[method-assign]
socket.socket.connect_ex = _refuse  # type: ignore[method-assign,assignment]
socket.create_connection = _refuse  # type: ignore[assignment]
socket.getaddrinfo = _refuse  # type: ignore[assignment]
