"""Contract checks for each plugin kind: DESIGN.md's invariants, as plain functions.

Each ``check_*`` function takes a plugin (or its registered name), runs it on a fixed set of
hostile docs plus, when hypothesis is installed, generated ones, and raises
:class:`ContractViolation` (an ``AssertionError``) naming the invariant that failed, the input it
failed on and what to do about it, in the style of scikit-learn's ``check_estimator``::

    from trf_core.testing.checks import check_span_getter
    check_span_getter("doc_spans.v1", covers_every_token=True)

The invariant checks they run (``span_getter_*``, ``setter_*``, ``pooler_*``, ``backend_*``) are
public too: :mod:`trf_core.testing.suites` turns each into its own pytest test.

Imports stay cheap: hypothesis is imported only when generated examples are asked for.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy
from spacy.tokens import Doc, Span
from thinc.api import Model, get_current_ops
from thinc.types import Ragged

from ..data import FullTransformerBatch, TransformerData
from ..extensions import install_extensions
from ..types import AnnotationSetter, SpanGetter

__all__ = [
    "BACKEND_CHECKS",
    "POOLER_CHECKS",
    "SETTER_CHECKS",
    "SPAN_GETTER_CHECKS",
    "ContractViolation",
    "backend_alignment_invariants",
    "backend_aligns_every_token",
    "backend_backprop",
    "backend_batch_invariance",
    "backend_empty_docs",
    "backend_finite_differences",
    "backend_listener_attrs",
    "backend_returns_batch",
    "backend_serialization",
    "check_annotation_setter",
    "check_backend",
    "check_pooler",
    "check_span_getter",
    "example_docs",
    "generated_pooler_inputs",
    "overlapping_spans",
    "pooler_batch_invariance",
    "pooler_empty_rows",
    "pooler_finite_differences",
    "pooler_inputs",
    "pooler_output_shape",
    "resolve_annotation_setter",
    "resolve_backend",
    "resolve_pooler",
    "resolve_span_getter",
    "run_all",
    "run_on_batches",
    "sentencize",
    "setter_handles_empty_docs",
    "setter_idempotent",
    "setter_keeps_trf_data",
    "span_getter_batch_invariance",
    "span_getter_covers_every_token",
    "span_getter_empty_docs",
    "span_getter_one_list_per_doc",
    "span_getter_spans_inside_doc",
]

BATCH_TOLERANCE = 1e-4
"""DESIGN.md's batching invariance tolerance."""

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

    from . import strategies as trf_st

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(trf_st.docs(max_tokens=25), min_size=max(min_docs, 1), max_size=4))
    def run(docs: list[Doc]) -> None:
        check([prepare(doc) for doc in docs])

    run()


# --------------------------------------------------------------------------------------------
# Span getters
# --------------------------------------------------------------------------------------------


def resolve_span_getter(getter: str | SpanGetter, config: Mapping[str, Any] | None = None) -> Any:
    """A span getter from a registered name (configured with ``config``) or the getter itself."""
    if isinstance(getter, str):
        from .. import registry

        return registry.span_getters.get(getter)(**dict(config or {}))
    if not callable(getter):
        raise TypeError(
            f"expected a span getter (a callable docs -> list of span lists) or its registered "
            f"name, got {type(getter).__name__}"
        )
    return getter


def _spans_for(getter: SpanGetter, docs: list[Doc]) -> list[list[Span]]:
    where = _describe_docs(docs)
    try:
        result = getter(docs)
    except Exception as err:
        raise ContractViolation(
            "span getter",
            "a span getter handles any batch of docs, empty docs included",
            where,
            f"it raised {err.__class__.__name__}: {err}",
            "handle docs with no tokens, whitespace-only docs and docs without sentence "
            "boundaries (return [] for a doc you have nothing for)",
        ) from err
    return result  # type: ignore[no-any-return]


def span_getter_one_list_per_doc(getter: SpanGetter, docs: list[Doc]) -> None:
    """The getter returns a list with one list of Span objects per doc, in order."""
    result = _spans_for(getter, docs)
    where = _describe_docs(docs)
    invariant = "a span getter returns one list of Span objects per doc, in the docs' order"
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
        raise ContractViolation(
            "span getter",
            invariant,
            where,
            f"it returned a {type(result).__name__}",
            "return a list with one list of spans per doc (a generator is not enough: the "
            "backend indexes it)",
        )
    if len(result) != len(docs):
        raise ContractViolation(
            "span getter",
            invariant,
            where,
            f"it returned {len(result)} span lists for {len(docs)} docs",
            "return exactly one (possibly empty) list per doc, even for empty docs",
        )
    for i, spans in enumerate(result):
        if isinstance(spans, Span) or not isinstance(spans, Sequence):
            raise ContractViolation(
                "span getter",
                invariant,
                where,
                f"entry {i} is a {type(spans).__name__}, not a list of spans",
                "wrap each doc's spans in a list: [[doc[:]] for doc in docs], not [doc[:] ...]",
            )
        for span in spans:
            if not isinstance(span, Span):
                raise ContractViolation(
                    "span getter",
                    invariant,
                    where,
                    f"doc {i}'s list holds a {type(span).__name__} ({span!r})",
                    "return spaCy Span objects (doc[start:end]), not tuples or strings",
                )


def span_getter_spans_inside_doc(getter: SpanGetter, docs: list[Doc]) -> None:
    """Every span is a span of the doc it was returned for and lies inside it."""
    result = _spans_for(getter, docs)
    where = _describe_docs(docs)
    invariant = "every span lies inside the doc it was returned for (span.doc is that doc)"
    for i, (doc, spans) in enumerate(zip(docs, result)):
        for span in spans:
            if span.doc is doc and 0 <= span.start <= span.end <= len(doc):
                continue
            if span.end > len(doc):
                detail = (
                    f"doc {i} has {len(doc)} tokens, but span [{span.start}:{span.end}] "
                    f"({span.text[:40]!r}) ends after it: it belongs to another Doc object"
                )
            else:
                detail = (
                    f"span [{span.start}:{span.end}] ({span.text[:40]!r}) returned for doc {i} "
                    f"belongs to another Doc object (text {span.doc.text[:40]!r})"
                )
            raise ContractViolation(
                "span getter",
                invariant,
                where,
                detail,
                "build spans from the doc you were given (doc[start:end]); never cache spans "
                "across calls or return spans of a copy of the doc",
            )


def span_getter_covers_every_token(getter: SpanGetter, docs: list[Doc]) -> None:
    """(Coverage getters) every token of every doc lies in at least one span."""
    result = _spans_for(getter, docs)
    for i, (doc, spans) in enumerate(zip(docs, result)):
        covered = numpy.zeros((len(doc),), dtype=bool)
        for span in spans:
            covered[span.start : span.end] = True
        if len(doc) and not covered.all():
            missing = int(numpy.flatnonzero(~covered)[0])
            raise ContractViolation(
                "span getter",
                "a coverage getter's spans cover every token of the doc",
                _describe_docs(docs),
                f"token {missing} ({doc[missing].text!r}) of doc {i} lies in no span "
                f"({int((~covered).sum())} of {len(doc)} tokens uncovered)",
                "make the spans cover the whole doc, or (if yours is not meant to) declare it "
                "a non-coverage getter (covers_every_token=False)",
            )


def span_getter_batch_invariance(getter: SpanGetter, docs: list[Doc]) -> None:
    """A doc's spans do not depend on the other docs of its batch."""
    together = _spans_for(getter, docs)
    for i, doc in enumerate(docs):
        alone = _spans_for(getter, [doc])[0]
        got = [(s.start, s.end) for s in together[i]]
        want = [(s.start, s.end) for s in alone]
        if got != want:
            raise ContractViolation(
                "span getter",
                "a doc's spans do not depend on the other docs in its batch",
                _describe_docs(docs),
                f"doc {i} got spans {got[:6]} in the batch but {want[:6]} on its own",
                "compute each doc's spans from that doc alone",
            )


def span_getter_empty_docs(getter: SpanGetter, docs: list[Doc]) -> None:
    """Empty docs (no tokens) get an empty list, alone or inside a batch."""
    vocab = docs[0].vocab if docs else None
    if vocab is None:
        return
    empty = Doc(vocab, words=[])
    for batch in ([empty], [empty, *docs[:2]], [empty, empty]):
        result = _spans_for(getter, batch)
        span_getter_one_list_per_doc(getter, batch)
        for i, doc in enumerate(batch):
            if len(doc) == 0 and any(span.end > span.start for span in result[i]):
                raise ContractViolation(
                    "span getter",
                    "an empty doc gets no spans with tokens",
                    _describe_docs(batch),
                    f"empty doc {i} got spans {result[i]!r}",
                    "return [] for a doc with no tokens",
                )


SPAN_GETTER_CHECKS: dict[str, Callable[[SpanGetter, list[Doc]], None]] = {
    "one_list_per_doc": span_getter_one_list_per_doc,
    "spans_inside_doc": span_getter_spans_inside_doc,
    "batch_invariance": span_getter_batch_invariance,
    "empty_docs": span_getter_empty_docs,
}
"""Check name -> invariant check every span getter must pass."""


def check_span_getter(
    getter: str | SpanGetter,
    *,
    config: Mapping[str, Any] | None = None,
    covers_every_token: bool = False,
    max_examples: int = 25,
    prepare_doc: Callable[[Doc], Doc] | None = None,
) -> None:
    """Check a span getter (or registered name, configured with ``config``) against the contract.

    covers_every_token: also require every token to lie in a span (doc, sentence and strided
        getters promise this).
    prepare_doc: applied to every test doc first; by default docs get sentence boundaries from
        spaCy's sentencizer, so sentence-based getters work.
    Raises :class:`ContractViolation` on the first broken invariant.
    """
    fn = resolve_span_getter(getter, config)
    checks = dict(SPAN_GETTER_CHECKS)
    if covers_every_token:
        checks["covers_every_token"] = span_getter_covers_every_token
    run_on_batches(
        lambda docs: run_all(checks.values(), fn, docs),
        max_examples=max_examples,
        doc_factory=prepare_doc or sentencize,
    )


def run_all(
    checks: Iterable[Callable[[Any, list[Doc]], None]], plugin: Any, docs: list[Doc]
) -> None:
    """Run several checks on one batch, so generated batches are drawn once per plugin."""
    for check in checks:
        check(plugin, docs)


def sentencize(doc: Doc) -> Doc:
    """Give a doc sentence boundaries (spaCy's rule-based sentencizer), as pipelines would."""
    from spacy.pipeline import Sentencizer

    return Sentencizer()(doc)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Annotation setters
# --------------------------------------------------------------------------------------------


def resolve_annotation_setter(
    setter: str | AnnotationSetter, config: Mapping[str, Any] | None = None
) -> Any:
    """An annotation setter from a registered name (configured with ``config``) or itself."""
    if isinstance(setter, str):
        from .. import registry

        return registry.annotation_setters.get(setter)(**dict(config or {}))
    if not callable(setter):
        raise TypeError(
            "expected an annotation setter (a callable (docs, FullTransformerBatch) -> None) or "
            f"its registered name, got {type(setter).__name__}"
        )
    return setter


def _toy_batch(docs: list[Doc]) -> FullTransformerBatch:
    """Run the toy backend over docs (overlapping spans) and set ``doc._.trf_data``."""
    from .toy_backend import toy_transformer_v1

    model = toy_transformer_v1(overlapping_spans, width=8, depth=1, n_vocab=97, max_length=8)
    model.initialize()
    batch = model.predict(docs)
    install_extensions()
    for doc, data in zip(docs, batch.doc_data):
        doc._.trf_data = data
    return batch


def overlapping_spans(docs: Sequence[Doc]) -> list[list[Span]]:
    """A span getter for tests: windows of 4 tokens every 3, so neighbours share a token."""
    out: list[list[Span]] = []
    for doc in docs:
        n = len(doc)
        out.append([doc[i : min(i + 4, n)] for i in range(0, max(n - 1, 1), 3)] if n else [])
    return out


def _snapshot_arrays(batch: FullTransformerBatch) -> list[Any]:
    arrays = [numpy.array(a, copy=True) for a in batch.tensors]
    arrays += [numpy.array(batch.align.dataXd, copy=True), numpy.array(batch.align.lengths)]
    arrays.append(numpy.array(batch.wordpieces.input_ids, copy=True))
    return arrays


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, numpy.ndarray) or isinstance(b, numpy.ndarray):
        a_arr, b_arr = numpy.asarray(a), numpy.asarray(b)
        return a_arr.shape == b_arr.shape and bool(numpy.array_equal(a_arr, b_arr))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


_DOC_ATTRS = ("TAG", "POS", "MORPH", "LEMMA", "DEP", "HEAD", "ENT_IOB", "ENT_TYPE", "SENT_START")


def _doc_state(doc: Doc) -> dict[str, Any]:
    """What an annotation setter may change on a doc, in comparable form."""
    user_data = {
        k: v
        for k, v in doc.user_data.items()
        if not (isinstance(k, tuple) and len(k) > 1 and k[1] == "trf_data")
    }
    return {
        "attrs": doc.to_array(list(_DOC_ATTRS)),
        "tensor": numpy.array(doc.tensor, copy=True),
        "ents": [(e.start, e.end, e.label_) for e in doc.ents],
        "spans": {k: [(s.start, s.end, s.label_) for s in g] for k, g in doc.spans.items()},
        "cats": dict(doc.cats),
        "user_data": copy.deepcopy(user_data),
    }


def _call_setter(setter: AnnotationSetter, docs: list[Doc], batch: FullTransformerBatch) -> None:
    try:
        setter(docs, batch)
    except Exception as err:
        raise ContractViolation(
            "annotation setter",
            "an annotation setter handles any batch, empty docs and docs without spans included",
            _describe_docs(docs),
            f"it raised {err.__class__.__name__}: {err}",
            "skip docs whose doc._.trf_data has no rows (TransformerData.empty) instead of "
            "indexing into them",
        ) from err


def setter_keeps_trf_data(setter: AnnotationSetter, docs: list[Doc]) -> None:
    """The setter reads the transformer output but changes neither it nor ``doc._.trf_data``."""
    batch = _toy_batch(docs)
    before = _snapshot_arrays(batch)
    data_before = [doc._.trf_data for doc in docs]
    _call_setter(setter, docs, batch)
    after = _snapshot_arrays(batch)
    where = _describe_docs(docs)
    fix = "treat the batch as read-only: copy an array before changing it"
    for i, (doc, data) in enumerate(zip(docs, data_before)):
        if doc._.trf_data is not data:
            raise ContractViolation(
                "annotation setter",
                "an annotation setter does not replace doc._.trf_data",
                where,
                f"doc {i}'s trf_data was replaced by {type(doc._.trf_data).__name__}",
                "store your annotations elsewhere (doc.tensor, your own doc._ extension)",
            )
    for j, (a, b) in enumerate(zip(before, after)):
        if not _equal(a, b):
            raise ContractViolation(
                "annotation setter",
                "an annotation setter does not change the transformer output",
                where,
                f"array {j} of the batch (tensors, then align data/lengths, input ids) changed",
                fix,
            )


def setter_idempotent(setter: AnnotationSetter, docs: list[Doc]) -> None:
    """Running the setter twice on the same batch leaves the docs as running it once does."""
    batch = _toy_batch(docs)
    _call_setter(setter, docs, batch)
    once = [_doc_state(doc) for doc in docs]
    _call_setter(setter, docs, batch)
    twice = [_doc_state(doc) for doc in docs]
    for i, (a, b) in enumerate(zip(once, twice)):
        for key in a:
            if not _equal(a[key], b[key]):
                raise ContractViolation(
                    "annotation setter",
                    "an annotation setter is idempotent (pipelines may run it again)",
                    _describe_docs(docs),
                    f"doc {i}'s {key} differs after a second run",
                    "set values rather than accumulate them (assign, don't append or +=)",
                )


def setter_handles_empty_docs(setter: AnnotationSetter, docs: list[Doc]) -> None:
    """Empty docs and docs without spans do not crash the setter."""
    vocab = docs[0].vocab if docs else None
    if vocab is None:
        return
    empty = Doc(vocab, words=[])
    for batch_docs in ([empty], [empty, *docs[:2]]):
        _call_setter(setter, batch_docs, _toy_batch(batch_docs))
    # A doc with tokens but no spans: its TransformerData has no rows.
    install_extensions()
    no_spans = FullTransformerBatch.empty(len(docs))
    no_spans.doc_lengths = [len(doc) for doc in docs]
    no_spans.cached_doc_data = [TransformerData.empty(len(doc)) for doc in docs]
    for doc, data in zip(docs, no_spans.doc_data):
        doc._.trf_data = data
    _call_setter(setter, docs, no_spans)


SETTER_CHECKS: dict[str, Callable[[AnnotationSetter, list[Doc]], None]] = {
    "keeps_trf_data": setter_keeps_trf_data,
    "idempotent": setter_idempotent,
    "handles_empty_docs": setter_handles_empty_docs,
}
"""Check name -> invariant check every annotation setter must pass."""


def check_annotation_setter(
    setter: str | AnnotationSetter,
    *,
    config: Mapping[str, Any] | None = None,
    max_examples: int = 15,
) -> None:
    """Check an annotation setter (or registered name) against the contract, on toy outputs."""
    fn = resolve_annotation_setter(setter, config)
    run_on_batches(
        lambda docs: run_all(SETTER_CHECKS.values(), fn, docs), max_examples=max_examples
    )


# --------------------------------------------------------------------------------------------
# Poolers
# --------------------------------------------------------------------------------------------


def resolve_pooler(pooler: str | Model, config: Mapping[str, Any] | None = None) -> Model:
    """A pooler from a registered name (thinc ``layers``, configured with ``config``) or itself."""
    if isinstance(pooler, str):
        from thinc.api import registry as thinc_registry

        configure: Any = thinc_registry.get("layers", pooler)
        return configure(**dict(config or {}))  # type: ignore[no-any-return]
    if not isinstance(pooler, Model):
        raise TypeError(
            f"expected a pooler (a thinc Model[Ragged, Floats2d]) or its registered name, got "
            f"{type(pooler).__name__}"
        )
    return pooler


def _ragged(lengths: Sequence[int], width: int, seed: int) -> Ragged:
    rng = numpy.random.default_rng(seed)
    lens = numpy.asarray(lengths, dtype="int32")
    data = rng.normal(0.0, 1.0, (int(lens.sum()), width)).astype("float32")
    ops: Any = get_current_ops()
    return Ragged(ops.asarray2f(data), ops.asarray1i(lens))


def pooler_inputs(width: int = 6) -> list[Ragged]:
    """Fixed pooler inputs: one row, many rows, tokens with no rows, all tokens empty, none."""
    layouts = [[1], [3, 1, 2], [2, 0, 3, 0], [0, 0], [0, 4, 0, 1, 1], []]
    return [_ragged(lengths, width, seed) for seed, lengths in enumerate(layouts)]


def generated_pooler_inputs(max_examples: int, width: int) -> Iterable[Ragged]:
    """Random layouts (seeded, so the same on every run): up to 6 tokens of 0-3 rows each."""
    rng = numpy.random.default_rng(1234)
    for i in range(max_examples):
        n = int(rng.integers(0, 7))
        lengths = [int(x) for x in rng.integers(0, 4, size=n)]
        yield _ragged(lengths, width, 100 + i)


def _initialized(pooler: Model, X: Ragged) -> Model:
    """Initialize a pooler once, on a sample with rows, as the listener would."""
    if not pooler.attrs.get("_trf_check_initialized"):
        try:
            pooler.initialize(X=X)
        except Exception as err:
            raise ContractViolation(
                "pooler",
                "a pooler initializes from a sample Ragged input",
                _describe_ragged(X),
                f"initialize raised {err.__class__.__name__}: {err}",
                "infer missing dimensions (nI, nO) from X.dataXd.shape[1] in your init function",
            ) from err
        pooler.attrs["_trf_check_initialized"] = True
    return pooler


def _describe_ragged(X: Ragged) -> str:
    lengths = [int(n) for n in numpy.asarray(X.lengths)]
    return f"Ragged(lengths={lengths}, data shape {tuple(X.dataXd.shape)})"


def _pool(pooler: Model, X: Ragged, is_train: bool = False) -> tuple[Any, Any]:
    try:
        return pooler(X, is_train=is_train)  # type: ignore[no-any-return]
    except Exception as err:
        raise ContractViolation(
            "pooler",
            "a pooler accepts any Ragged of wordpiece rows, tokens with no rows included",
            _describe_ragged(X),
            f"it raised {err.__class__.__name__}: {err}",
            "give a token with no rows a zero vector instead of reducing over nothing",
        ) from err


def _n_out(pooler: Model, X: Ragged) -> int:
    if pooler.has_dim("nO") and pooler.get_dim("nO") is not None:
        return int(pooler.get_dim("nO"))
    rows: Any = X.dataXd
    return int(rows.shape[1])


def pooler_output_shape(pooler: Model, X: Ragged) -> None:
    """The output is a finite float array of shape ``(n_tokens, nO)``."""
    _initialized(pooler, X)
    Y, _ = _pool(pooler, X)
    n_tokens = int(X.lengths.shape[0])
    want = (n_tokens, _n_out(pooler, X))
    Y_np = numpy.asarray(getattr(Y, "get", lambda: Y)())
    if Y_np.ndim != 2 or tuple(Y_np.shape) != want:
        raise ContractViolation(
            "pooler",
            "a pooler returns one row per token: shape (n_tokens, nO)",
            _describe_ragged(X),
            f"the output has shape {tuple(Y_np.shape)}, expected {want}",
            "return a Floats2d with len(X.lengths) rows and nO (the input width, unless you set "
            "nO) columns",
        )
    if not numpy.isfinite(Y_np).all():
        raise ContractViolation(
            "pooler",
            "a pooler's output is finite",
            _describe_ragged(X),
            "the output holds NaN or inf",
            "guard divisions by a token's row count (a token may have no rows)",
        )


def pooler_empty_rows(pooler: Model, X: Ragged) -> None:
    """A token with no rows gets a zero vector and passes no gradient."""
    _initialized(pooler, X)
    Y, backprop = _pool(pooler, X, is_train=True)
    lengths = numpy.asarray(X.lengths)
    empty = numpy.flatnonzero(lengths == 0)
    if not len(empty):
        return
    Y_np = numpy.asarray(Y)
    if not numpy.allclose(Y_np[empty], 0.0, atol=1e-7):
        raise ContractViolation(
            "pooler",
            "a token with no wordpiece rows gets a zero vector",
            _describe_ragged(X),
            f"token {int(empty[0])} has no rows but its output is {Y_np[empty[0]][:4]}...",
            "write zeros for tokens whose length is 0",
        )
    dY = numpy.zeros(Y_np.shape, dtype="float32")
    dY[empty] = 1.0
    ops: Any = get_current_ops()
    dX = backprop(ops.asarray2f(dY))
    dX_np = numpy.asarray(dX.dataXd if isinstance(dX, Ragged) else dX)
    if dX_np.shape != tuple(X.dataXd.shape) or not numpy.allclose(dX_np, 0.0, atol=1e-7):
        raise ContractViolation(
            "pooler",
            "a token with no wordpiece rows passes no gradient to any row",
            _describe_ragged(X),
            "a gradient given only for empty tokens reached the input rows "
            f"(max |dX| = {float(numpy.abs(dX_np).max()) if dX_np.size else 0.0:.3g})",
            "ignore dY for tokens with no rows in backprop",
        )


def _loss_and_grad(pooler: Model, X: Ragged, R: Any) -> tuple[float, Any]:
    Y, backprop = _pool(pooler, X, is_train=True)
    loss = float((numpy.asarray(Y, dtype="float64") * R).sum())
    dX = backprop(get_current_ops().asarray2f(R.astype("float32")))
    return loss, numpy.asarray(dX.dataXd if isinstance(dX, Ragged) else dX, dtype="float64")


def pooler_finite_differences(pooler: Model, X: Ragged) -> None:
    """Backprop returns the input's shape and agrees with finite differences."""
    _initialized(pooler, X)
    if X.dataXd.shape[0] == 0:
        return
    Y, _ = _pool(pooler, X)
    rng = numpy.random.default_rng(7)
    R = rng.normal(0.0, 1.0, numpy.asarray(Y).shape)
    _, dX = _loss_and_grad(pooler, X, R)
    if dX.shape != tuple(X.dataXd.shape):
        raise ContractViolation(
            "pooler",
            "backprop returns a gradient of the input's shape",
            _describe_ragged(X),
            f"dX has shape {dX.shape}, the input rows {tuple(X.dataXd.shape)}",
            "return a Ragged (or array) with one gradient row per input row",
        )
    base = numpy.asarray(X.dataXd, dtype="float64")
    ops = get_current_ops()

    def loss_at(step: float, V: Any) -> float:
        moved = Ragged(ops.asarray2f((base + step * V).astype("float32")), X.lengths)
        return _loss_and_grad(pooler, moved, R)[0]

    checked = 0
    for trial in range(8):
        V = rng.normal(0.0, 1.0, base.shape)
        # Central differences at two step sizes: where they disagree the function has a kink
        # along V (max pooling switching rows), and finite differences say nothing there.
        coarse = (loss_at(2e-2, V) - loss_at(-2e-2, V)) / 4e-2
        fine = (loss_at(1e-2, V) - loss_at(-1e-2, V)) / 2e-2
        if abs(coarse - fine) > 1e-2 * max(1.0, abs(fine)):
            continue
        checked += 1
        analytic = float((dX * V).sum())
        if abs(fine - analytic) > 2e-2 * max(1.0, abs(fine), abs(analytic)):
            raise ContractViolation(
                "pooler",
                "the gradient agrees with finite differences",
                _describe_ragged(X),
                f"along random direction {trial}, backprop gives a directional derivative of "
                f"{analytic:.5g} but finite differences give {fine:.5g}",
                "check backprop: it must return d(loss)/d(X.data) for the forward pass you "
                "compute (a reduction's backprop must match the reduction)",
            )
        if checked == 3:
            return


def pooler_batch_invariance(pooler: Model, X: Ragged) -> None:
    """Pooling tokens together gives what pooling them in two halves does (within 1e-4)."""
    _initialized(pooler, X)
    n = int(X.lengths.shape[0])
    if n < 2:
        return
    lengths = numpy.asarray(X.lengths)
    cut = n // 2
    row_cut = int(lengths[:cut].sum())
    first = Ragged(X.dataXd[:row_cut], X.lengths[:cut])
    second = Ragged(X.dataXd[row_cut:], X.lengths[cut:])
    whole, _ = _pool(pooler, X)
    a, _ = _pool(pooler, first)
    b, _ = _pool(pooler, second)
    parts = numpy.concatenate([numpy.asarray(a), numpy.asarray(b)], axis=0)
    if not numpy.allclose(numpy.asarray(whole), parts, atol=BATCH_TOLERANCE):
        raise ContractViolation(
            "pooler",
            "a token's vector does not depend on the other tokens in the batch",
            _describe_ragged(X),
            "pooling the tokens in two halves gives different vectors than pooling them at once "
            f"(max difference {float(numpy.abs(numpy.asarray(whole) - parts).max()):.3g})",
            "pool each token from its own rows only (normalize per token, not per batch)",
        )


POOLER_CHECKS: dict[str, Callable[[Model, Ragged], None]] = {
    "output_shape": pooler_output_shape,
    "empty_rows": pooler_empty_rows,
    "finite_differences": pooler_finite_differences,
    "batch_invariance": pooler_batch_invariance,
}
"""Check name -> invariant check every pooler must pass."""


def check_pooler(
    pooler: str | Model,
    *,
    config: Mapping[str, Any] | None = None,
    width: int = 6,
    max_examples: int = 20,
) -> None:
    """Check a pooler (a thinc ``Model[Ragged, Floats2d]`` or registered name)."""
    model = resolve_pooler(pooler, config)
    inputs = [*pooler_inputs(width), *generated_pooler_inputs(max_examples, width)]
    for check in POOLER_CHECKS.values():
        for X in inputs:
            check(model, X)


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------

BackendFactory = Callable[[SpanGetter], Model]
"""Builds a backend over a given span getter (the kit supplies overlapping spans)."""


def resolve_backend(
    backend: str | Model | BackendFactory, config: Mapping[str, Any] | None = None
) -> Model:
    """An initialized backend: a Model as is, a name or factory built over overlapping spans."""
    if isinstance(backend, Model):
        model = backend
    elif isinstance(backend, str):
        from spacy.util import registry as spacy_registry

        configure = spacy_registry.architectures.get(backend)
        model = configure(get_spans=overlapping_spans, **dict(config or {}))
    elif callable(backend):
        model = backend(overlapping_spans)
    else:
        raise TypeError(
            "expected a backend (a thinc Model[list[Doc], FullTransformerBatch]), a factory "
            f"get_spans -> Model, or a registered architecture name; got {type(backend).__name__}"
        )
    if not model.attrs.get("_trf_check_initialized"):
        model.initialize()
        model.attrs["_trf_check_initialized"] = True
    return model


def _run_backend(model: Model, docs: list[Doc], is_train: bool = False) -> tuple[Any, Any]:
    try:
        batch, backprop = model(docs, is_train=is_train)
    except Exception as err:
        raise ContractViolation(
            "backend",
            "a backend handles any batch of docs, empty docs and docs without spans included",
            _describe_docs(docs),
            f"it raised {err.__class__.__name__}: {err}",
            "give a doc without spans no rows (every token aligned to nothing) instead of failing",
        ) from err
    return batch, backprop


def backend_returns_batch(model: Model, docs: list[Doc]) -> None:
    """The output is a FullTransformerBatch over these docs with consistent shapes."""
    batch, _ = _run_backend(model, docs)
    where = _describe_docs(docs)

    def fail(invariant: str, detail: str, fix: str) -> None:
        raise ContractViolation("backend", invariant, where, detail, fix)

    if not isinstance(batch, FullTransformerBatch):
        fail(
            "a backend returns a FullTransformerBatch",
            f"it returned a {type(batch).__name__}",
            "wrap your outputs in trf_core.FullTransformerBatch",
        )
    if batch.doc_lengths != [len(doc) for doc in docs]:
        fail(
            "batch.doc_lengths holds each doc's token count",
            f"doc_lengths is {batch.doc_lengths}",
            "set doc_lengths=[len(doc) for doc in docs]",
        )
    if len(batch.spans) != len(docs):
        fail(
            "batch.spans has one list per doc",
            f"{len(batch.spans)} lists for {len(docs)} docs",
            "keep one (possibly empty) span list per doc",
        )
    n_spans = sum(len(s) for s in batch.spans)
    if n_spans == 0:
        return
    keys = list(batch.model_output)
    if not keys or keys[0] != "last_hidden_state":
        fail(
            "model_output starts with last_hidden_state",
            f"its keys are {keys}",
            "insert last_hidden_state first, then pooler_output, hidden_states, attentions",
        )
    last = batch.model_output["last_hidden_state"]
    if last.ndim != 3 or last.shape[0] != n_spans or last.shape[1] != batch.wordpieces.max_length:
        fail(
            "last_hidden_state has shape (n_spans, max_length, width)",
            f"shape {tuple(last.shape)} for {n_spans} spans and wordpieces padded to "
            f"{batch.wordpieces.max_length}",
            "return one row of pieces per span, padded to the batch's longest span",
        )
    if len(batch.wordpieces.lengths) != n_spans:
        fail(
            "wordpieces.lengths holds each span's real piece count",
            f"{len(batch.wordpieces.lengths)} lengths for {n_spans} spans",
            "give one length per span (windows count as spans)",
        )
    if model.attrs.get("output_hidden_states"):
        hidden = batch.model_output.get("hidden_states")
        if not isinstance(hidden, tuple) or any(h.shape != last.shape for h in hidden):
            fail(
                "with output_hidden_states, model_output.hidden_states is a tuple of "
                "(n_spans, max_length, width) arrays",
                f"hidden_states is {type(hidden).__name__}",
                "read model.attrs['output_hidden_states'] at call time and output every layer",
            )


def _token_rows(batch: FullTransformerBatch) -> list[Any]:
    lengths = numpy.asarray(batch.align.lengths)
    data = numpy.asarray(batch.align.dataXd).reshape(-1)
    starts = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(int)
    return [data[starts[i] : starts[i + 1]] for i in range(len(lengths))]


def backend_aligns_every_token(model: Model, docs: list[Doc]) -> None:
    """``align`` has an entry for every token of every doc; each doc's split matches its doc."""
    batch, _ = _run_backend(model, docs)
    where = _describe_docs(docs)
    n_tokens = sum(len(doc) for doc in docs)
    if int(batch.align.lengths.shape[0]) != n_tokens:
        raise ContractViolation(
            "backend",
            "align has one entry per token of every doc (whitespace and uncovered tokens too)",
            where,
            f"align.lengths has {int(batch.align.lengths.shape[0])} entries for {n_tokens} tokens",
            "build align with trf_core.align.align_batch, passing doc_lengths",
        )
    for i, (doc, data) in enumerate(zip(docs, batch.doc_data)):
        if int(data.align.lengths.shape[0]) != len(doc):
            raise ContractViolation(
                "backend",
                "each doc's TransformerData aligns every token of that doc",
                where,
                f"doc {i} has {len(doc)} tokens but its align has "
                f"{int(data.align.lengths.shape[0])} entries",
                "set batch.doc_lengths and keep align in doc order",
            )


def backend_alignment_invariants(model: Model, docs: list[Doc]) -> None:
    """Rows are real pieces of spans holding the token, ascending, in every span holding it;
    whitespace tokens align to nothing."""
    batch, _ = _run_backend(model, docs)
    where = _describe_docs(docs)
    width = max(batch.wordpieces.max_length, 1)
    piece_lengths = list(batch.wordpieces.lengths)
    token_rows = _token_rows(batch)
    flat_spans = [(d, span) for d, spans in enumerate(batch.spans) for span in spans]
    doc_offsets = numpy.concatenate([[0], numpy.cumsum([len(doc) for doc in docs])]).astype(int)

    def fail(invariant: str, detail: str, fix: str) -> None:
        raise ContractViolation("backend", invariant, where, detail, fix)

    for d, doc in enumerate(docs):
        for t, token in enumerate(doc):
            rows = token_rows[doc_offsets[d] + t]
            if len(rows) and (numpy.diff(rows) <= 0).any():
                fail(
                    "each token's rows are ascending and distinct",
                    f"token {t} ({token.text!r}) of doc {d} has rows {rows.tolist()}",
                    "sort each token's row indices (align_batch does)",
                )
            if token.is_space and len(rows):
                fail(
                    "whitespace tokens align to no wordpiece",
                    f"whitespace token {t} ({token.text!r}) of doc {d} aligns to rows "
                    f"{rows.tolist()}",
                    "align by character offsets, ignoring pieces that cover only whitespace",
                )
            for row in rows.tolist():
                k, pos = divmod(int(row), width)
                if k >= len(flat_spans) or pos >= piece_lengths[k]:
                    fail(
                        "tokens align only to real (unpadded) pieces",
                        f"token {t} ({token.text!r}) of doc {d} aligns to row {row}: span {k}, "
                        f"position {pos}, past that span's {piece_lengths[k] if k < len(piece_lengths) else 0} pieces",  # noqa: E501
                        "index rows as span * max_length + position, with real positions only",
                    )
                span_doc, span = flat_spans[k]
                if span_doc != d or not (span.start <= t < span.end):
                    fail(
                        "a token aligns only to pieces of spans that contain it",
                        f"token {t} ({token.text!r}) of doc {d} aligns to span {k} "
                        f"(doc {span_doc}, tokens [{span.start}:{span.end}])",
                        "compute alignments per span from character offsets (align_batch)",
                    )
        # A token the model read aligns to rows in every span holding it (overlaps included).
        doc_span_ids = [k for k, (span_doc, _) in enumerate(flat_spans) if span_doc == d]
        for t, token in enumerate(doc):
            rows = token_rows[doc_offsets[d] + t]
            if not len(rows):
                continue
            seen = {int(row) // width for row in rows.tolist()}
            for k in doc_span_ids:
                span = flat_spans[k][1]
                if span.start <= t < span.end and k not in seen:
                    fail(
                        "a token inside several spans aligns to rows in each of them",
                        f"token {t} ({token.text!r}) of doc {d} lies in span {k} (tokens "
                        f"[{span.start}:{span.end}]) but aligns only to spans {sorted(seen)}",
                        "align every span's pieces, not only the first span a token appears in",
                    )
        # Tokens' pieces are in order within each span.
        last_row: dict[int, int] = {}
        for t in range(len(doc)):
            for row in token_rows[doc_offsets[d] + t].tolist():
                k = int(row) // width
                if row < last_row.get(k, -1):
                    fail(
                        "tokens' wordpieces are in order",
                        f"token {t} ({doc[t].text!r}) of doc {d} aligns to row {row}, before "
                        f"row {last_row[k]} of an earlier token in the same span",
                        "keep pieces in text order",
                    )
            for row in token_rows[doc_offsets[d] + t].tolist():
                k = int(row) // width
                last_row[k] = max(last_row.get(k, -1), int(row))


def _doc_outputs(model: Model, docs: list[Doc]) -> list[tuple[Any, Any, Any]]:
    batch, _ = _run_backend(model, docs)
    out = []
    for data in batch.doc_data:
        tensors = data.tensors
        last = numpy.asarray(tensors[0]) if tensors else numpy.zeros((0, 0, 0))
        out.append(
            (last, list(data.wordpieces.lengths), numpy.asarray(data.align.dataXd).reshape(-1))
        )
    return out


def backend_batch_invariance(model: Model, docs: list[Doc]) -> None:
    """A doc's output does not depend on its batch or its place in it (within 1e-4)."""
    where = _describe_docs(docs)
    together = _doc_outputs(model, docs)
    reversed_ = _doc_outputs(model, docs[::-1])[::-1]
    for i, doc in enumerate(docs):
        alone = _doc_outputs(model, [doc])[0]
        for label, other in (("on its own", alone), ("in the reversed batch", reversed_[i])):
            a_last, a_lens, a_align = together[i]
            b_last, b_lens, b_align = other
            same_shape = a_last.shape == b_last.shape and a_lens == b_lens
            if not same_shape or not numpy.array_equal(a_align, b_align):
                raise ContractViolation(
                    "backend",
                    "a doc's tensors are padded only to its own longest span, whatever the batch",
                    where,
                    f"doc {i}'s tensors[0] has shape {a_last.shape} in the batch but "
                    f"{b_last.shape} {label} (piece counts {a_lens} vs {b_lens})",
                    "split the batch with FullTransformerBatch.split_by_doc (doc_data)",
                )
            for k, n in enumerate(a_lens):
                diff = numpy.abs(a_last[k, :n] - b_last[k, :n])
                if diff.size and float(diff.max()) > BATCH_TOLERANCE:
                    raise ContractViolation(
                        "backend",
                        "a doc's output does not depend on the batch it came in (1e-4)",
                        where,
                        f"doc {i}, span {k}: last_hidden_state differs by {float(diff.max()):.3g} "
                        f"between the batch and {label}",
                        "mask padding in attention and pooling; never normalize across a batch",
                    )


def _random_doc_grads(batch: FullTransformerBatch, seed: int) -> list[list[Any]]:
    rng = numpy.random.default_rng(seed)
    grads: list[list[Any]] = []
    for data in batch.doc_data:
        tensors = data.tensors
        doc_grads: list[Any] = [None] * len(tensors)
        if tensors:
            g = rng.normal(0.0, 1.0, numpy.asarray(tensors[0]).shape).astype("float32")
            # Padding positions carry no gradient, as listeners send none there.
            for k, n in enumerate(data.wordpieces.lengths):
                g[k, n:] = 0.0
            ops: Any = get_current_ops()
            doc_grads[0] = ops.asarray(g)
        grads.append(doc_grads)
    return grads


def backend_backprop(model: Model, docs: list[Doc]) -> None:
    """backprop takes per-doc gradients (None for unused tensors) and accepts empty docs."""
    batch, backprop = _run_backend(model, docs, is_train=True)
    grads = _random_doc_grads(batch, 0)
    try:
        backprop(grads)
    except Exception as err:
        raise ContractViolation(
            "backend",
            "backprop accepts one list per doc of gradients (or None) for that doc's tensors",
            _describe_docs(docs),
            f"backprop raised {err.__class__.__name__}: {err}",
            "call batch.unsplit_by_doc(d_tensors) and skip tensors whose gradient is None",
        ) from err


def _params(model: Model) -> list[tuple[Model, str]]:
    return [
        (node, name)
        for node in model.walk()
        for name in node.param_names
        if node.has_param(name) and node.get_param(name) is not None
    ]


def _loss(model: Model, docs: list[Doc], grads: list[list[Any]]) -> float:
    batch, _ = _run_backend(model, docs)
    total = 0.0
    for data, doc_grads in zip(batch.doc_data, grads):
        if doc_grads and doc_grads[0] is not None:
            total += float((numpy.asarray(data.tensors[0], "float64") * doc_grads[0]).sum())
    return total


def backend_finite_differences(model: Model, docs: list[Doc]) -> None:
    """Parameter gradients from backprop agree with finite differences (thinc params only)."""
    params = _params(model)
    if not params or not any(len(doc) for doc in docs):
        return  # a wrapped framework (PyTorch) keeps its parameters out of thinc's sight
    batch, backprop = _run_backend(model, docs, is_train=True)
    grads = _random_doc_grads(batch, 1)
    for node, name in params:
        node.set_grad(name, node.ops.alloc(node.get_param(name).shape, dtype="float32"))
    backprop(grads)
    rng = numpy.random.default_rng(3)
    eps = 1e-3
    for node, name in params[:3]:
        param: Any = node.get_param(name)
        analytic_all = numpy.asarray(node.get_grad(name), dtype="float64")
        flat_index = rng.choice(param.size, size=min(3, param.size), replace=False)
        for idx in flat_index:
            index = numpy.unravel_index(int(idx), param.shape)
            original = float(param[index])
            param[index] = original + eps
            f_plus = _loss(model, docs, grads)
            param[index] = original - eps
            f_minus = _loss(model, docs, grads)
            param[index] = original
            numeric = (f_plus - f_minus) / (2 * eps)
            analytic = float(analytic_all[index])
            if abs(numeric - analytic) > 5e-2 * max(1.0, abs(numeric), abs(analytic)):
                raise ContractViolation(
                    "backend",
                    "parameter gradients agree with finite differences",
                    _describe_docs(docs),
                    f"{node.name}.{name}{tuple(int(i) for i in index)}: backprop gives "
                    f"{analytic:.5g}, finite differences {numeric:.5g}",
                    "check backprop's chain rule, and that it adds (inc_grad) rather than sets",
                )


def backend_empty_docs(model: Model, docs: list[Doc]) -> None:
    """Empty docs get data with no rows, in a batch of their own or mixed with others."""
    vocab = docs[0].vocab if docs else None
    if vocab is None:
        return
    empty = Doc(vocab, words=[])
    for batch_docs in ([empty], [empty, empty], [empty, *docs[:2]]):
        batch, backprop = _run_backend(model, batch_docs, is_train=True)
        for i, (doc, data) in enumerate(zip(batch_docs, batch.doc_data)):
            if len(doc) == 0 and (
                int(data.align.lengths.shape[0]) != 0 or int(data.align.dataXd.shape[0]) != 0
            ):
                raise ContractViolation(
                    "backend",
                    "an empty doc gets TransformerData with no rows and no alignment",
                    _describe_docs(batch_docs),
                    f"empty doc {i} has align lengths {data.align.lengths.tolist()}",
                    "give docs without spans TransformerData.empty(len(doc))",
                )
        backprop(_random_doc_grads(batch, 2))


def backend_listener_attrs(model: Model, docs: list[Doc]) -> None:
    """The backend carries what spaCy's ``replace_listeners`` needs."""
    missing = [n for n in ("replace_listener", "replace_listener_cfg") if n not in model.attrs]
    if missing:
        raise ContractViolation(
            "backend",
            "a backend sets model.attrs['replace_listener'] and ['replace_listener_cfg']",
            f"the model {model.name!r}",
            f"missing: {', '.join(missing)}",
            "set them to trf_core.listener.replace_listener and replace_listener_cfg",
        )


def backend_serialization(model: Model, docs: list[Doc]) -> None:
    """to_bytes / from_bytes into the same model gives identical outputs."""
    before = _doc_outputs(model, docs)
    to_bytes = model.attrs.get("trf_to_bytes") or model.to_bytes
    from_bytes = model.attrs.get("trf_from_bytes") or model.from_bytes
    from_bytes(to_bytes())
    after = _doc_outputs(model, docs)
    for i, (a, b) in enumerate(zip(before, after)):
        if a[0].shape != b[0].shape or not numpy.allclose(a[0], b[0], atol=BATCH_TOLERANCE):
            raise ContractViolation(
                "backend",
                "to_bytes / from_bytes round-trips give identical outputs",
                _describe_docs(docs),
                f"doc {i}'s last hidden state changed after a bytes round trip",
                "serialize every weight and setting (or provide attrs['trf_to_bytes'] and "
                "['trf_from_bytes'])",
            )


BACKEND_CHECKS: dict[str, Callable[[Model, list[Doc]], None]] = {
    "returns_batch": backend_returns_batch,
    "aligns_every_token": backend_aligns_every_token,
    "alignment_invariants": backend_alignment_invariants,
    "batch_invariance": backend_batch_invariance,
    "backprop": backend_backprop,
    "finite_differences": backend_finite_differences,
    "empty_docs": backend_empty_docs,
    "listener_attrs": backend_listener_attrs,
    "serialization": backend_serialization,
}
"""Check name -> invariant check every backend must pass."""


def check_backend(
    backend: str | Model | BackendFactory,
    *,
    config: Mapping[str, Any] | None = None,
    max_examples: int = 10,
    hidden_states: bool = True,
) -> None:
    """Check a backend against the contract.

    backend: a built Model (used with its own span getter), a factory ``get_spans -> Model``, or
        an architecture name whose configure function takes ``get_spans`` plus ``config``; the
        last two are built over overlapping spans, so the overlap invariants are exercised.
    hidden_states: also check with ``attrs["output_hidden_states"] = True``.
    """
    model = resolve_backend(backend, config)
    settings_ = [False, True] if hidden_states else [False]
    for with_hidden in settings_:
        model.attrs["output_hidden_states"] = with_hidden
        skip = ("finite_differences", "serialization", "listener_attrs") if with_hidden else ()
        checks = [c for name, c in BACKEND_CHECKS.items() if name not in skip]

        def run_checks(docs: list[Doc], checks: list[Any] = checks) -> None:
            run_all(checks, model, docs)

        run_on_batches(run_checks, max_examples=max_examples)
    model.attrs["output_hidden_states"] = False
