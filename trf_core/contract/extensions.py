"""The ``doc._.trf_data`` extension, registered in one place.

Both the component (which writes it) and the listeners (which read it) need it to exist, and
either may be imported first; registering is idempotent, so each calls :func:`install_extensions`.
"""

from __future__ import annotations

from spacy.tokens import Doc

__all__ = ["install_extensions"]


def install_extensions() -> None:
    """Register ``Doc._.trf_data`` (default ``None``) unless it already exists."""
    if not Doc.has_extension("trf_data"):
        Doc.set_extension("trf_data", default=None, force=True)
