"""Passed with ``--code`` to the annotate runs of these tests (imported in every worker).

It registers the toy pipeline's names (``trf_core.testing.pipelines``) and three test-only
components: one that is slow (so a run can be killed midway), one that raises on texts holding
"BOOM" (a record the pipeline fails on), one that records the worker's torch thread count.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import time

from spacy.language import Language
from spacy.tokens import Doc

import trf_core.testing.pipelines  # noqa: F401  (registers the toy span getter and setters)


@Language.component("annotate_test_slow")
def slow(doc: Doc) -> Doc:
    """Sleeps ANNOTATE_TEST_SLEEP seconds a doc, or 0.3 s on a text holding SLOW (the marker
    reaches Ray actors, whose environment is the cluster's)."""
    time.sleep(0.3 if "SLOW" in doc.text else float(os.environ.get("ANNOTATE_TEST_SLEEP", "0")))
    return doc


@Language.component("annotate_test_boom")
def boom(doc: Doc) -> Doc:
    if "BOOM" in doc.text:
        raise ValueError("this component refuses BOOM")
    return doc


@Language.component("annotate_test_threads")
def threads(doc: Doc) -> Doc:
    if importlib.util.find_spec("torch") is None:
        doc.user_data["threads"] = -1
    else:
        import torch

        doc.user_data["threads"] = torch.get_num_threads()
    return doc


@Language.component("annotate_test_kill")
def kill(doc: Doc) -> Doc:
    """Ends this process on a text holding ``KILL:how``: exit3 (os._exit(3)), or a signal name."""
    for how in ("exit3", "SIGSEGV", "SIGKILL"):
        if f"KILL:{how}" in doc.text:
            if how == "exit3":
                os._exit(3)
            os.kill(os.getpid(), getattr(signal, how))
            time.sleep(10)  # a signal is delivered asynchronously; never return meanwhile
    return doc
