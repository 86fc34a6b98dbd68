"""The setter that sets nothing: the transformer's output is only kept on ``doc._.trf_data``."""

from collections.abc import Callable
from typing import Any

from spacy.tokens import Doc


def null_annotation_setter(docs: list[Doc], trf_data: Any) -> None:
    """Leave the docs alone (the component itself stores ``doc._.trf_data``)."""
    return None


def configure_null_annotation_setter() -> Callable[[list[Doc], Any], None]:
    """``spacy-transformers.null_annotation_setter.v1`` (and the old misspelt
    ``spacy-transformer.null_annotation_setter.v1``): takes no settings."""
    return null_annotation_setter
