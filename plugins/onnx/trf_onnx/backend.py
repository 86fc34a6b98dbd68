"""The ONNX Runtime backend: a thinc ``Model[list[Doc], FullTransformerBatch]`` for inference.

It tokenizes and windows exactly as trf-hf does (the shared :mod:`trf_core.component.windowing`),
runs the windows through an ONNX Runtime session and reassembles spans in numpy, so a pipeline
exported from trf-hf gives the same ``doc._.trf_data`` and feeds the same listeners, without torch.
All loaded state (session, tokenizer, export facts) lives in one :class:`OnnxState`, which the
contract's serialization attributes are bound to, as trf-hf binds its own to its shim.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Ints2d

from trf_core.component.listeners import listener_attrs
from trf_core.component.piece_cache import PieceCache
from trf_core.component.wordpiece_backend import (
    PIECE_CACHE,
    count_pieces,
    doc_spans,
    empty_batch,
    plan_spans,
    window_size,
)
from trf_core.contract import backend as contract
from trf_core.contract.align import align_batch
from trf_core.contract.data import FullTransformerBatch, ModelOutput
from trf_core.contract.types import BackendModel, SpanGetter

from . import files as onnx_files
from .errors import TRAINING_MESSAGE, TrainingNotSupportedError, UnsupportedSettingError
from .runtime import (
    LAST,
    POOLED,
    hidden_state_name,
    make_session,
    mean_per_span,
    reassemble,
    run_windows,
)
from .tokenizer import FastTokenizer


class OnnxState:
    """The session, tokenizer and export facts of one backend, and where its files come from.

    Files loaded from a folder are read again from there when saving (no second copy of the
    weights in memory); files loaded from bytes are kept. ``copy.deepcopy`` (``Model.copy``)
    shares the read-only session and tokenizer, and a later load into the copy replaces only
    the copy's references.
    """

    def __init__(self, name: str, intra_op_num_threads: int) -> None:
        self.name = name
        self.intra_op_num_threads = int(intra_op_num_threads)
        self.session: Any = None
        self.tokenizer: FastTokenizer | None = None
        self.meta: onnx_files.ExportMeta | None = None
        self.source: Path | dict[str, bytes] | None = None

    @property
    def loaded(self) -> bool:
        return self.session is not None

    def ensure_loaded(self) -> None:
        """Load the folder ``name`` unless a model is loaded already."""
        if self.loaded:
            return
        if not self.name:
            raise FileNotFoundError(
                "this trf-onnx backend has no model: its `name` is empty and nothing was loaded "
                "from a pipeline folder or bytes. Set `name` to a folder `trf-core export-onnx` "
                "wrote (holding model.onnx, tokenizer.json and trf_onnx.json), or load the "
                "exported pipeline with spacy.load"
            )
        self.load_dir(Path(self.name).expanduser())

    def load_dir(self, path: Path) -> None:
        onnx_files.check_dir(path)
        meta = onnx_files.ExportMeta.from_json(
            (path / onnx_files.META_FILE).read_text(encoding="utf8")
        )
        tokenizer = FastTokenizer.from_file(
            path / onnx_files.TOKENIZER_FILE, meta.pad_token_id, meta.model_input_names
        )
        session = make_session(str(path / onnx_files.MODEL_FILE), self.intra_op_num_threads)
        self.meta, self.tokenizer, self.session = meta, tokenizer, session
        self.source = path.resolve()

    def load_files(self, files: dict[str, bytes]) -> None:
        from tokenizers import Tokenizer

        missing = [name for name in onnx_files.FILES if name not in files]
        if missing:
            raise ValueError(f"trf-onnx bytes without {', '.join(missing)}: export again")
        meta = onnx_files.ExportMeta.from_json(files[onnx_files.META_FILE].decode("utf8"))
        backend_tokenizer = Tokenizer.from_str(files[onnx_files.TOKENIZER_FILE].decode("utf8"))
        tokenizer = FastTokenizer(backend_tokenizer, meta.pad_token_id, meta.model_input_names)
        session = make_session(files[onnx_files.MODEL_FILE], self.intra_op_num_threads)
        self.meta, self.tokenizer, self.session = meta, tokenizer, session
        self.source = dict(files)

    def files(self) -> dict[str, bytes]:
        """Every file of the loaded model, read from wherever it was loaded from."""
        self.ensure_loaded()
        if isinstance(self.source, dict):
            return dict(self.source)
        folder = cast(Path, self.source)
        try:
            return {name: (folder / name).read_bytes() for name in onnx_files.FILES}
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"cannot save the trf-onnx model: it was loaded from {str(folder)!r}, whose files "
                "are gone. Load the pipeline again from a folder that still holds them"
            ) from err

    # the contract's serialization attributes ----------------------------------------------------
    def to_disk_dir(self, path: Path) -> None:
        path = Path(path)
        if isinstance(self.source, Path) and path.resolve() == self.source and self.loaded:
            return  # saving over the folder it was loaded from: the files are already there
        contents = self.files()
        path.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            (path / name).write_bytes(data)

    def from_disk_dir(self, path: Path) -> None:
        self.load_dir(Path(path))

    def to_bytes(self) -> bytes:
        return onnx_files.files_to_bytes(self.files())

    def from_bytes(self, data: bytes) -> OnnxState:
        contents = onnx_files.files_from_bytes(data)
        if contents:
            self.load_files(contents)
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> OnnxState:
        clone = copy.copy(self)
        memo[id(self)] = clone
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as settings plus files: an ONNX Runtime session does not pickle."""
        return {
            "name": self.name,
            "intra_op_num_threads": self.intra_op_num_threads,
            "files": self.files() if self.loaded else {},
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["intra_op_num_threads"])  # type: ignore[misc]
        if state["files"]:
            self.load_files(state["files"])


def build_onnx_backend(
    name: str,
    get_spans: SpanGetter,
    window: int = 0,
    stride: int = 0,
    truncate: bool = False,
    intra_op_num_threads: int = 0,
) -> BackendModel:
    """The backend model; nothing is loaded until initialize, first use or a load."""
    if window < 0 or stride < 0:
        raise ValueError(
            f"window ({window}) and stride ({stride}) count wordpieces and must be >= 0 "
            "(0 means: the model's maximum input length, and three quarters of a window)"
        )
    if intra_op_num_threads < 0:
        raise ValueError(
            f"intra_op_num_threads = {intra_op_num_threads}: give a thread count, or 0 to let "
            "ONNX Runtime choose"
        )
    model: BackendModel = Model(
        "trf-onnx",
        _forward,
        init=_init,
        attrs={
            "name": str(name),
            "get_spans": get_spans,
            "window": int(window),
            "stride": int(stride),
            "truncate": bool(truncate),
            contract.OUTPUT_HIDDEN_STATES: False,
            contract.OUTPUT_ATTENTIONS: False,
            # functions of the model: a copy reads its own state, with nothing to re-bind
            **contract.serialization_attrs(
                _state,
                to_bytes="to_bytes",
                from_bytes="from_bytes",
                to_disk="to_disk_dir",
                from_disk="from_disk_dir",
            ),
            contract.COUNT_PIECES: _count_pieces,
            PIECE_CACHE: PieceCache(),
            **listener_attrs(),
            "onnx_state": OnnxState(str(name), intra_op_num_threads),
        },
    )
    return model


def _state(model: BackendModel) -> OnnxState:
    """The model's own state (a copy's is its own: ``Model.copy()`` deep-copies attrs)."""
    return cast(OnnxState, model.attrs["onnx_state"])


def _count_pieces(model: BackendModel, docs: list[Doc]) -> list[int]:
    """Each doc's wordpieces, so ``Transformer.pipe`` groups docs by length."""
    state, cache = _state(model), model.attrs[PIECE_CACHE]
    return count_pieces(state.tokenizer, model.attrs["get_spans"], docs, cache)


def get_state(model: BackendModel) -> OnnxState:
    """The backend's state, loaded."""
    state = _state(model)
    state.ensure_loaded()
    return state


def _init(model: BackendModel, X: Any = None, Y: Any = None) -> None:
    """Load the exported model (unless a load from disk or bytes already did)."""
    get_state(model)


def _check_settings(model: BackendModel, meta: onnx_files.ExportMeta) -> bool:
    """Whether to return hidden states; a clear error for what the export cannot give."""
    if model.attrs.get(contract.OUTPUT_ATTENTIONS):
        raise UnsupportedSettingError(
            "output_attentions is not supported by the ONNX backend: the exported encoder "
            "returns hidden states only. Run this pipeline with trf-hf to read attentions"
        )
    wants_hidden = contract.wants_hidden_states(model)
    if wants_hidden and not meta.has_hidden_states:
        raise UnsupportedSettingError(
            "a listener or the annotation setter reads hidden layers, but this ONNX model was "
            "exported with the last hidden state only; export the pipeline again (trf-core "
            "export-onnx exports every hidden state)"
        )
    return wants_hidden


def _forward(
    model: BackendModel, docs: list[Doc], is_train: bool
) -> tuple[FullTransformerBatch, Callable[[Any], list[Any]]]:
    if is_train:
        raise TrainingNotSupportedError(TRAINING_MESSAGE)
    state = get_state(model)
    meta = cast(onnx_files.ExportMeta, state.meta)
    wants_hidden = _check_settings(model, meta)
    spans = doc_spans(model.attrs["get_spans"], docs)
    doc_lengths = [len(doc) for doc in docs]
    flat_spans = [span for spans_of_doc in spans for span in spans_of_doc]
    if not flat_spans:
        n_states = meta.num_hidden_layers + 1 if wants_hidden else None
        empty = empty_batch(
            model.ops, spans, doc_lengths, meta.hidden_size, meta.has_pooler, n_states
        )
        return empty, _no_backprop
    window = window_size(int(model.attrs["window"]), int(meta.max_length))
    cache = model.attrs[PIECE_CACHE]
    plan = plan_spans("trf-onnx", state.tokenizer, flat_spans, window, model.attrs, cache)
    names = [LAST] + ([POOLED] if meta.has_pooler else [])
    if wants_hidden:
        names += [hidden_state_name(i) for i in range(meta.num_hidden_layers + 1)]
    out = run_windows(state.session, plan, names, "token_type_ids" in meta.input_names)
    rows, padding = out.span_rows(plan)
    ops = model.ops
    model_output = ModelOutput()
    model_output["last_hidden_state"] = ops.asarray3f(reassemble(out, LAST, rows, padding, plan))
    if meta.has_pooler:
        model_output["pooler_output"] = ops.asarray2f(mean_per_span(out, plan))
    if wants_hidden:
        model_output["hidden_states"] = tuple(
            ops.asarray3f(reassemble(out, name, rows, padding, plan))
            for name in names
            if name.startswith("h")
        )
    batch = FullTransformerBatch(
        spans=spans,
        wordpieces=plan.wordpieces.map_arrays(ops.asarray2i),
        model_output=model_output,
        align=align_batch(spans, cast(list[Ints2d], plan.offsets), plan.span_width, doc_lengths),
        doc_lengths=doc_lengths,
    )
    return batch, _no_backprop


def _no_backprop(d_docs: Any) -> list[Any]:
    raise TrainingNotSupportedError(TRAINING_MESSAGE)
