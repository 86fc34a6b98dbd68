"""One vector per doc from the transformer, behind ``doc.vector`` and ``doc.similarity``.

Poolings:

- ``"cls"``: the first wordpiece's row of each span (the ``[CLS]`` position), averaged over spans;
- ``"mean"``: the mean of every real wordpiece row (specials included, padding excluded) over all
  spans, which is what sentence-transformers models such as all-MiniLM-L6-v2 were trained with;
- ``"pooler"``: the model's pooled output (``pooler_output``), averaged over spans.

The vector is stored in a Doc extension (``doc._.trf_doc_embedding`` by default). With
``set_hooks`` the doc's ``user_hooks`` make ``doc.vector``, ``doc.vector_norm`` and
``doc.similarity`` use it. A doc the transformer saw nothing of gets zeros.
"""

from typing import Any

from spacy.tokens import Doc
from thinc.api import get_array_module

from ._outputs import batch_width, check_batch, check_layer_setting, layer_of

NAME = "trf.doc_embedding.v1"
POOLINGS = ("cls", "mean", "pooler")


class DocEmbeddingVector:
    """``user_hooks["vector"]``: the stored embedding (a class, so docs with it pickle)."""

    def __init__(self, extension: str) -> None:
        self.extension = extension

    def __call__(self, doc: Doc) -> Any:
        return doc._.get(self.extension)


class DocEmbeddingNorm:
    """``user_hooks["vector_norm"]``: the L2 norm of the stored embedding."""

    def __init__(self, extension: str) -> None:
        self.extension = extension

    def __call__(self, doc: Doc) -> float:
        vector = doc._.get(self.extension)
        xp = get_array_module(vector)
        return float(xp.sqrt((vector * vector).sum()))


class DocEmbeddingSimilarity:
    """``user_hooks["similarity"]``: cosine of this doc's embedding with the other's vector."""

    def __init__(self, extension: str) -> None:
        self.extension = extension

    def __call__(self, doc: Doc, other: Any) -> float:
        mine = doc._.get(self.extension)
        theirs = other.vector
        if not mine.size or not getattr(theirs, "size", 0):
            return 0.0  # a doc (or other) with no vector at all is similar to nothing
        if getattr(theirs, "shape", None) != mine.shape:
            raise ValueError(
                f"doc.similarity compares {NAME} embeddings of width {mine.shape[-1]} with a "
                f"vector of shape {getattr(theirs, 'shape', None)}; compare docs processed by "
                "the same transformer pipeline"
            )
        xp = get_array_module(mine)
        norms = float(xp.sqrt((mine * mine).sum()) * xp.sqrt((theirs * theirs).sum()))
        return 0.0 if norms == 0.0 else float((mine * theirs).sum()) / norms


class DocEmbeddingSetter:
    """The annotation setter ``trf.doc_embedding.v1`` builds."""

    def __init__(
        self,
        pooling: str = "mean",
        layer: int | None = None,
        normalize: bool = False,
        extension: str = "trf_doc_embedding",
        set_hooks: bool = True,
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"{NAME}: pooling must be one of {POOLINGS}, got {pooling!r}")
        check_layer_setting(layer, NAME)
        if pooling == "pooler" and layer is not None:
            raise ValueError(f"{NAME}: pooling 'pooler' reads the pooled output; set layer = null")
        _ensure_extension(extension)
        self.pooling = pooling
        self.layer = layer
        self.normalize = normalize
        self.extension = extension
        self.set_hooks = set_hooks
        self.needs_hidden_states = layer is not None
        self.width = 0
        """The last hidden width seen: what docs of an all-empty batch get."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickled in a spawned worker (nlp.pipe(n_process > 1) on macOS/Windows, Python 3.14's
        # default), where configure never ran: the Doc extension must be registered there too.
        self.__dict__.update(state)
        _ensure_extension(self.extension)

    def __call__(self, docs: list[Doc], batch: Any) -> None:
        check_batch(docs, batch, self.layer, NAME)
        if self.pooling == "pooler" and len(batch.model_output):
            if batch.model_output.get("pooler_output") is None:
                raise ValueError(
                    f"{NAME}: pooling 'pooler' needs the model's pooled output, but this model "
                    f"has none (it returns: {', '.join(batch.model_output)}); use 'cls' or 'mean'"
                )
        width = self.width = batch_width(batch, self.width)
        for doc, data in zip(docs, batch.doc_data):
            doc._.set(self.extension, self._embed(data, width))
            if self.set_hooks:
                doc.user_hooks["vector"] = DocEmbeddingVector(self.extension)
                doc.user_hooks["vector_norm"] = DocEmbeddingNorm(self.extension)
                doc.user_hooks["similarity"] = DocEmbeddingSimilarity(self.extension)

    def _embed(self, data: Any, width: int) -> Any:
        output = data.model_output
        if not len(output):
            import numpy

            return numpy.zeros((width,), dtype="float32")
        lengths = data.wordpieces.lengths
        if self.pooling == "pooler":
            vector = output["pooler_output"].mean(axis=0)
        else:
            array = layer_of(output, self.layer)
            if self.pooling == "cls":
                vector = array[:, 0, :].mean(axis=0)
            else:
                xp = get_array_module(array)
                real = xp.arange(array.shape[1])[None, :] < xp.asarray(lengths)[:, None]
                vector = (array * real[:, :, None]).sum(axis=(0, 1)) / max(int(sum(lengths)), 1)
        vector = vector.astype("float32")
        if self.normalize:
            xp = get_array_module(vector)
            norm = float(xp.sqrt((vector * vector).sum()))
            if norm > 0:
                vector = vector / norm
        return vector


def _ensure_extension(name: str) -> None:
    """Register ``Doc._.<name>`` unless it exists; refuse one we could not write."""
    if not name.isidentifier():
        raise ValueError(f"{NAME}: extension must be a Python identifier, got {name!r}")
    if not Doc.has_extension(name):
        Doc.set_extension(name, default=None)
        return
    _default, method, getter, setter = Doc.get_extension(name)
    if method is not None or (getter is not None and setter is None):
        raise ValueError(
            f"{NAME}: Doc._.{name} already exists as a read-only property or method; choose "
            "another extension name"
        )


def configure_doc_embedding(
    pooling: str = "mean",
    layer: int | None = None,
    normalize: bool = False,
    extension: str = "trf_doc_embedding",
    set_hooks: bool = True,
) -> DocEmbeddingSetter:
    """``trf.doc_embedding.v1``: a doc vector from ``pooling`` over ``layer`` (null = last)."""
    return DocEmbeddingSetter(pooling, layer, normalize, extension, set_hooks)
