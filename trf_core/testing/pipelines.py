"""Small toy pipelines for tests: a toy transformer and taggers listening to it.

Everything runs on the toy backend (``trf.ToyTransformer.v1``): no torch, no plugin needed. The
span getter and annotation setters the configs name are registered when this module is imported,
under ``trf.testing.*`` names, so tests using it do not depend on trf-span-getters or trf-setters.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..plugins.registry import annotation_setters, span_getters

DOC_SPANS = "trf.testing.whole_docs.v1"
NULL_SETTER = "trf.testing.null_setter.v1"
MARK_SETTER = "trf.testing.mark_setter.v1"

TAGGED = [
    ("I like green eggs", ["PRON", "VERB", "ADJ", "NOUN"]),
    ("Eat ham now", ["VERB", "NOUN", "ADV"]),
    ("We eat green ham", ["PRON", "VERB", "ADJ", "NOUN"]),
    ("They like eggs", ["PRON", "VERB", "NOUN"]),
]


def whole_docs(docs: list[Doc]) -> list[list[Span]]:
    """One span per doc (none for an empty doc)."""
    return [[doc[:]] if len(doc) else [] for doc in docs]


@span_getters(DOC_SPANS)
def configure_whole_docs() -> Any:
    return whole_docs


@annotation_setters(NULL_SETTER)
def configure_null_setter() -> Any:
    def null_setter(docs: list[Doc], batch: Any) -> None:
        return None

    return null_setter


@annotation_setters(MARK_SETTER)
def configure_mark_setter(key: str = "marked") -> Any:
    """Writes the batch's span count into each doc's user_data: an observable side effect."""

    def mark(docs: list[Doc], batch: Any) -> None:
        for doc, spans in zip(docs, batch.spans):
            doc.user_data[key] = len(spans)

    return mark


def toy_model_cfg(
    width: int = 8, depth: int = 2, max_length: int = 64, seed: int = 0
) -> dict[str, Any]:
    return {
        "@architectures": "trf.ToyTransformer.v1",
        "width": width,
        "depth": depth,
        "max_length": max_length,
        "seed": seed,
        "get_spans": {"@span_getters": DOC_SPANS},
    }


def transformer_cfg(**settings: Any) -> dict[str, Any]:
    """The transformer component's config; ``model_*`` keys go to the toy model."""
    model = {k[len("model_") :]: v for k, v in settings.items() if k.startswith("model_")}
    rest = {k: v for k, v in settings.items() if not k.startswith("model_")}
    cfg: dict[str, Any] = {
        "model": toy_model_cfg(**model),
        "annotation_setter": {"@annotation_setters": NULL_SETTER},
    }
    cfg.update(rest)
    return cfg


def listener_cfg(
    architecture: str = "spacy-transformers.TransformerListener.v1",
    pooling: str = "reduce_mean.v1",
    grad_factor: Any = 1.0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "@architectures": architecture,
        "grad_factor": grad_factor,
        "pooling": {"@layers": pooling},
        **extra,
    }


def tagger_cfg(listener: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "model": {
            "@architectures": "spacy.Tagger.v2",
            "tok2vec": copy.deepcopy(listener or listener_cfg()),
        }
    }


def tagger_examples(nlp: Language) -> list[Example]:
    return [Example.from_dict(nlp.make_doc(text), {"tags": tags}) for text, tags in TAGGED]


def build_nlp(
    listeners: dict[str, dict[str, Any]] | None = None,
    initialize: bool = True,
    **transformer_settings: Any,
) -> Language:
    """A blank English pipeline: a toy transformer and one tagger per entry of ``listeners``."""
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_cfg(**transformer_settings))
    for name, listener in (
        listeners if listeners is not None else {"tagger": listener_cfg()}
    ).items():
        nlp.add_pipe("tagger", name=name, config=tagger_cfg(listener))
    if initialize:
        examples = tagger_examples(nlp)
        nlp.initialize(lambda: examples)
    return nlp


def params_of(model: Any) -> dict[tuple[int, str], numpy.ndarray]:
    """A copy of every parameter in a model tree, keyed by (node index, name)."""
    out = {}
    for i, node in enumerate(model.walk()):
        for name in node.param_names:
            if node.has_param(name):
                out[(i, name)] = numpy.array(node.get_param(name), copy=True)
    return out


def same_params(a: dict[Any, numpy.ndarray], b: dict[Any, numpy.ndarray]) -> bool:
    return a.keys() == b.keys() and all(numpy.array_equal(a[k], b[k]) for k in a)


def tok2vec_outputs(nlp: Language, component: str, docs: list[Doc]) -> list[numpy.ndarray]:
    """What a component's tok2vec layer gives for docs that went through the pipeline."""
    pipe: Any = nlp.get_pipe(component)
    return pipe.model.get_ref("tok2vec").predict(docs)
