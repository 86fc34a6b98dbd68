"""Input checks shared by the getters, so a wrong argument fails with a message, not deep inside."""

from collections.abc import Iterable

from spacy.tokens import Doc


def as_doc_list(docs: Iterable[Doc], getter: str) -> list[Doc]:
    """The batch as a list, after checking that every item really is a ``Doc``.

    Getters index ``doc[i:j]`` and read sentence boundaries; a string or a ``Span`` passed by
    mistake would otherwise fail later with an unrelated error (or silently slice characters).
    """
    if isinstance(docs, (Doc, str)):
        raise TypeError(
            f"{getter} takes a list of spaCy Doc objects, not a single {type(docs).__name__}; "
            "wrap it in a list: getter([doc])"
        )
    batch = list(docs)
    for i, doc in enumerate(batch):
        if not isinstance(doc, Doc):
            raise TypeError(
                f"{getter} takes spaCy Doc objects, but item {i} of the batch is a "
                f"{type(doc).__name__}; make docs with nlp.make_doc(text) (or nlp(text)) first"
            )
    return batch


def positive_int(value: int, name: str, getter: str) -> int:
    """``value`` if it is an int >= 1; configs hand these over, so say which setting is wrong."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{getter}: {name} must be a whole number >= 1, got {value!r}")
    return value


def non_negative_int(value: int, name: str, getter: str) -> int:
    """``value`` if it is an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{getter}: {name} must be a whole number >= 0, got {value!r}")
    return value
