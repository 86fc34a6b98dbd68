"""What every plugin kind's checks share: the fixed hostile docs, :class:`ContractViolation`, and
the runner that feeds a check the fixed batches and then generated ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from spacy.tokens import Doc, Span

BATCH_TOLERANCE = 1e-4
"""The batching invariance tolerance (docs/plugin-guide.md, "The contract")."""

EXAMPLE_TEXTS: tuple[str, ...] = (
    "Hello world. This is a test.",
    "",
    "  leading and trailing whitespace \n\n and a blank line  ",
    "İstanbul straße naïve cafe\u0301 😀 👍🏽 🇩🇪 東京都に住む",
    "a\u200bb -- ... $3.50 @user #tag http://x.y/z?q=1",
    " ".join(["supercalifragilisticexpialidocious"] * 3 + ["word"] * 40),
    "\t",
)
"""Fixed hostile texts every check runs on before any generated example: scripts without
spaces, multi-code-point emoji, case changes that change length, whitespace-only and empty docs,
and a doc long enough to need several spans or windows."""


def has_hypothesis() -> bool:
    """Whether hypothesis is installed (generated examples need it; fixed ones do not)."""
    import importlib.util

    return importlib.util.find_spec("hypothesis") is not None


def example_docs() -> list[Doc]:
    """The fixed hostile docs, tokenized by a blank English pipeline."""
    global _EXAMPLE_NLP
    if _EXAMPLE_NLP is None:
        import spacy

        _EXAMPLE_NLP = spacy.blank("en")
    return [_EXAMPLE_NLP.make_doc(text) for text in EXAMPLE_TEXTS]


_EXAMPLE_NLP: Any = None


class ContractViolation(AssertionError):
    """A plugin broke one of trf-core's invariants.

    ``kind`` is the plugin kind, ``invariant`` a one-line statement of the broken rule, ``where``
    the input it broke on, ``detail`` what happened, ``fix`` what to do.
    """

    def __init__(self, kind: str, invariant: str, where: str, detail: str, fix: str) -> None:
        self.kind = kind
        self.invariant = invariant
        self.where = where
        self.detail = detail
        self.fix = fix
        super().__init__(
            f"{kind} contract violated: {invariant}\n"
            f"  on input: {where}\n"
            f"  what happened: {detail}\n"
            f"  what to do: {fix}"
        )


def _describe_docs(docs: Sequence[Doc]) -> str:
    parts = []
    for doc in docs[:4]:
        text = doc.text if len(doc.text) <= 60 else doc.text[:57] + "..."
        parts.append(f"Doc({len(doc)} tokens, text={text!r})")
    more = f" and {len(docs) - 4} more" if len(docs) > 4 else ""
    return f"a batch of {len(docs)} docs: [{', '.join(parts)}]{more}"


def empty_doc_beside(docs: Sequence[Doc]) -> Doc | None:
    """An empty doc sharing the examples' vocab (so it can join their batches); None when
    there are no examples to take a vocab from."""
    return Doc(docs[0].vocab, words=[]) if docs else None


def run_on_batches(
    check: Callable[[list[Doc]], None],
    *,
    max_examples: int,
    doc_factory: Callable[[Doc], Doc] | None = None,
    min_docs: int = 1,
) -> None:
    """Run ``check`` on the fixed hostile batches, then on generated ones (hypothesis).

    Generated examples are derandomized (the same on every run, so a check never flakes) and
    shrunk by hypothesis when one fails; the error names the smallest failing batch.
    """
    prepare = doc_factory or (lambda doc: doc)
    fixed = [prepare(doc) for doc in example_docs()]
    batches = [fixed, fixed[::-1], [fixed[0]], fixed[1:3]]
    for batch in batches:
        if len(batch) >= min_docs:
            check(batch)
    if max_examples <= 0 or not has_hypothesis():
        return
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from ..strategies import docs as generated_docs

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(generated_docs(max_tokens=25), min_size=max(min_docs, 1), max_size=4))
    def run(docs: list[Doc]) -> None:
        check([prepare(doc) for doc in docs])

    run()


def run_all(
    checks: Iterable[Callable[[Any, list[Doc]], None]], plugin: Any, docs: list[Doc]
) -> None:
    """Run several checks on one batch, so generated batches are drawn once per plugin."""
    for check in checks:
        check(plugin, docs)


def overlapping_spans(docs: Sequence[Doc]) -> list[list[Span]]:
    """A span getter for tests: windows of 4 tokens every 3, so neighbours share a token."""
    out: list[list[Span]] = []
    for doc in docs:
        n = len(doc)
        out.append([doc[i : min(i + 4, n)] for i in range(0, max(n - 1, 1), 3)] if n else [])
    return out
