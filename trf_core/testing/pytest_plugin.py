"""The ``pytest11`` plugin trf-core installs: fixtures for plugin tests and the ``gpu`` marker.

pytest loads this module in every session of an environment where trf-core is installed, so it
imports nothing heavy at module level: spaCy, hypothesis, torch and cupy are imported inside the
fixtures and hooks that need them. A user without hypothesis or torch never notices it.

Fixtures:

- ``trf_nlp``: a blank English pipeline (``spacy.blank("en")``).
- ``trf_make_docs``: a factory ``make_docs(*texts) -> list[Doc]`` tokenizing with ``trf_nlp``.
- ``trf_toy_backend``: an initialized toy backend (``trf.ToyTransformer.v1``) over whole-doc
  spans, small enough to run in milliseconds.

Marker: ``@pytest.mark.gpu`` skips a test, with a message saying why, when no CUDA GPU is visible
through cupy or torch.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

GPU_MARKER = "gpu: needs a CUDA GPU (skipped, with a message, when cupy/torch see none)"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``gpu`` marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line("markers", GPU_MARKER)


def cuda_available() -> tuple[bool, str]:
    """Whether a CUDA GPU is usable, and what was found (cupy first, then torch)."""
    if importlib.util.find_spec("cupy") is not None:
        try:
            import cupy

            if int(cupy.cuda.runtime.getDeviceCount()) > 0:
                return True, "cupy sees a CUDA device"
        except Exception as err:  # no driver, no device: both mean "no GPU here"
            reason = f"cupy is installed but sees no CUDA device ({err.__class__.__name__})"
        else:
            reason = "cupy is installed but sees no CUDA device"
    else:
        reason = "cupy is not installed"
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return True, "torch sees a CUDA device"
        return False, f"{reason}; torch is installed but torch.cuda.is_available() is False"
    return False, f"{reason}; torch is not installed"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip ``gpu``-marked tests cleanly where there is no GPU."""
    if item.get_closest_marker("gpu") is None:
        return
    ok, reason = cuda_available()
    if not ok:
        pytest.skip(f"needs a CUDA GPU: {reason}")


@pytest.fixture
def trf_nlp() -> Any:
    """A blank English pipeline: the tokenizer plugins' docs come from."""
    import spacy

    return spacy.blank("en")


@pytest.fixture
def trf_make_docs(trf_nlp: Any) -> Callable[..., list[Any]]:
    """A factory: ``trf_make_docs("One text.", "Another.")`` -> a list of docs."""

    def make_docs(*texts: str) -> list[Any]:
        return [trf_nlp.make_doc(text) for text in texts]

    return make_docs


@pytest.fixture
def trf_toy_backend() -> Any:
    """An initialized toy backend over whole-doc spans (width 8, one layer)."""
    from trf_core.testing.toy_backend import toy_transformer_v1

    model = toy_transformer_v1(
        lambda docs: [[doc[:]] if len(doc) else [] for doc in docs], width=8, depth=1
    )
    model.initialize()
    return model
