"""How to install a distribution, for error messages that tell the user to install one.

Why a module of its own: trf-core's distributions are not on PyPI yet, so a bare
``pip install trf-onnx`` fails for everyone who has only a clone of the repository. Every message
that names a first-party distribution goes through :func:`install_command`, which adds how to
install it from the clone (the folder that holds it, or ``examples/install.sh`` for everything);
a third-party distribution gets the plain ``pip install``.
"""

from __future__ import annotations

__all__ = ["CLONE_FOLDERS", "install_command"]

CLONE_FOLDERS: dict[str, str] = {
    "trf-kernel": "core",
    "trf-core": ".",
    "trf-hf": "plugins/hf",
    "trf-poolers": "plugins/poolers",
    "trf-onnx": "plugins/onnx",
    "trf-span-getters": "contrib_span_getters",
    "trf-setters": "contrib_setters",
    "trf-train": "plugins/train",
}
"""First-party distribution -> its folder in a clone of the repository."""


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def install_command(distribution: str, extras: str = "") -> str:
    """``pip install 'DIST[EXTRAS]'``, plus the command that installs it from a clone.

    >>> install_command("trf-onnx", "export")  # doctest: +NORMALIZE_WHITESPACE
    "pip install 'trf-onnx[export]' (not yet on PyPI: from a clone of trf-core, run
    pip install -e 'plugins/onnx[export]' in its folder, or bash examples/install.sh for
    everything)"
    """
    suffix = f"[{extras}]" if extras else ""
    published = f"pip install '{distribution}{suffix}'" if suffix else f"pip install {distribution}"
    folder = CLONE_FOLDERS.get(_normalize(distribution))
    if folder is None:
        return published
    target = f"'{folder}{suffix}'" if suffix else folder
    return (
        f"{published} (not yet on PyPI: from a clone of trf-core, run pip install -e {target} in "
        "its folder, or bash examples/install.sh for everything)"
    )
