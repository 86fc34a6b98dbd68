"""``python -m trf_core new-plugin NAME --kind KIND``: render a new plugin distribution.

The templates live in ``trf_core/cli/templates`` (shipped inside the wheel): ``common/`` holds what
every plugin has (pyproject with the ``trf_core`` entry point, README, package ``__init__``),
``<kind>/`` the hookimpl, a working example and tests that subclass the matching conformance
suite. Files end in ``.tmpl``; ``{{placeholder}}`` is replaced, and a path part ``__package__``
becomes the import package. The repo's own tests render, install and train with the result, so
the templates cannot rot.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..version import __version__

if TYPE_CHECKING:
    from importlib.abc import Traversable

HELP = "render a new plugin distribution (pyproject, hookimpl, example, conformance tests)"

KINDS: dict[str, tuple[str, str, str]] = {
    "span_getter": ("a span getter", "@span_getters", "fixed_windows"),
    "annotation_setter": ("an annotation setter", "@annotation_setters", "piece_counts"),
    "pooler": ("a pooler", "@layers", "mean_pooling"),
    "backend": ("a model backend", "@architectures", "HashingBackend"),
}
"""Kind -> (label, config reference, example function name)."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*([-_][A-Za-z0-9]+)*$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class PluginNames:
    """The names one NAME turns into."""

    dist: str
    """The distribution name (``acme-spans``)."""
    package: str
    """The import package, entry-point name and prefix of registered names (``acme_spans``)."""

    @classmethod
    def from_name(cls, name: str) -> PluginNames:
        if not _NAME.match(name):
            raise ValueError(
                f"{name!r} is not a usable plugin name: use letters and digits, separated by "
                "single '-' or '_', starting with a letter (e.g. acme-spans)"
            )
        lowered = name.lower()
        return cls(dist=lowered.replace("_", "-"), package=lowered.replace("-", "_"))


def trf_core_requirement(version: str = __version__) -> str:
    """The dependency range a new plugin declares: this minor series of trf-core."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"trf-core>={major}.{minor}.0,<{major}.{minor + 1}"


def _config_example(kind: str, example_name: str) -> str:
    if kind == "span_getter":
        return (
            "[components.transformer.model.get_spans]\n"
            f'@span_getters = "{example_name}"\nwindow = 64'
        )
    if kind == "annotation_setter":
        return f'[components.transformer.annotation_setter]\n@annotation_setters = "{example_name}"'
    if kind == "pooler":
        return f'[components.tagger.model.tok2vec.pooling]\n@layers = "{example_name}"'
    return (
        "[components.transformer.model]\n"
        f'@architectures = "{example_name}"\nwidth = 64\n\n'
        "[components.transformer.model.get_spans]\n"
        '@span_getters = "spacy-transformers.strided_spans.v1"\nwindow = 128\nstride = 96'
    )


def placeholders(names: PluginNames, kind: str) -> dict[str, str]:
    """Every ``{{placeholder}}`` the templates use, for one plugin."""
    label, config_ref, example = KINDS[kind]
    example_name = f"{names.package}.{example}.v1"
    return {
        "dist": names.dist,
        "package": names.package,
        "kind": kind,
        "kind_label": label,
        "config_ref": config_ref,
        "example_name": example_name,
        "registered_names": f"``{example_name}``",
        "description": f"{label[0].upper()}{label[1:]} for trf-core: {example_name}.",
        "trf_core_requirement": trf_core_requirement(),
        "config_example": _config_example(kind, example_name),
    }


def _render_text(text: str, values: dict[str, str], source: str) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template {source} uses an unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(replace, text)


def _template_files(root: Traversable, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    files: dict[tuple[str, ...], str] = {}
    for entry in root.iterdir():
        if entry.is_dir():
            files.update(_template_files(entry, (*prefix, entry.name)))
        elif entry.name.endswith(".tmpl"):
            key = (*prefix, entry.name[: -len(".tmpl")])
            files[key] = entry.read_text(encoding="utf8")
    return files


def render_plugin(name: str, kind: str, output: Path | str = ".") -> Path:
    """Render plugin ``name`` of ``kind`` into ``output/<dist>``; returns that folder.

    Refuses to write into an existing, non-empty folder.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown plugin kind {kind!r}; choose one of: {', '.join(KINDS)}")
    names = PluginNames.from_name(name)
    target = Path(output) / names.dist
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(
            f"{target} already exists and is not empty; pick another --output or remove it"
        )
    values = placeholders(names, kind)
    templates = resources.files("trf_core.cli") / "templates"
    files = _template_files(templates / "common")
    files.update(_template_files(templates / kind))  # a kind's file wins over a common one
    for parts, text in sorted(files.items()):
        rel = Path(*(names.package if part == "__package__" else part for part in parts))
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render_text(text, values, "/".join(parts)), encoding="utf8")
    return target


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``new-plugin`` subcommand's arguments."""
    parser.add_argument("name", help="the plugin's name, e.g. acme-spans (package acme_spans)")
    parser.add_argument("--kind", required=True, choices=sorted(KINDS), help="what it provides")
    parser.add_argument(
        "--output", default=".", help="folder to create the plugin's folder in (default: .)"
    )


def run(args: argparse.Namespace) -> int:
    """Render the plugin and say what to do next; exit code 1 on a bad name or folder."""
    try:
        target = render_plugin(args.name, args.kind, args.output)
    except (ValueError, FileExistsError) as err:
        print(f"new-plugin: {err}")
        return 1
    names = PluginNames.from_name(args.name)
    example = placeholders(names, args.kind)["example_name"]
    print(f"Created {target} ({KINDS[args.kind][0]}, registered as {example!r}).")
    print("Next:")
    print(f"  pip install -e '{target}[test]'")
    print(f"  pytest {target}")
    print("  python -m trf_core plugins")
    return 0


__all__ = ["HELP", "KINDS", "PluginNames", "configure", "render_plugin", "run"]
