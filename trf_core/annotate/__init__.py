"""``trf-core annotate``: run a spaCy pipeline over a large corpus, sharded and resumable.

The input is cut into shards of a fixed number of records (:mod:`.records`); each shard is
annotated by one worker (:mod:`.shard`) and written to its own file by a temporary name and an
atomic rename; the manifest and its journal (:mod:`.manifest`) record the finished shards and a
fingerprint of the input and every option that changes the output. Rerunning the same command
continues where the last run stopped. :mod:`.supervise` hands shards to workers and replaces
the ones that die, :mod:`.isolation` finds the records that kill them; the engines
(:mod:`.local`, :mod:`.ray_engine`) only decide where workers run. Nothing here imports torch or
ray at import time.
"""

from __future__ import annotations

from .settings import AnnotateSettings

__all__ = ["AnnotateSettings"]
