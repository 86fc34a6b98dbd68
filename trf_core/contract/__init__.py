"""The data contract: what a backend, a listener, a span getter and an annotation setter exchange.

Data classes (``data``), the alignment of tokens to wordpieces (``align``), the protocol types
(``types``), the backend's ``model.attrs`` keys (``backend``), array helpers, the ``Doc``
extensions and the errors. This layer imports nothing else from ``trf_core`` (see
``docs/architecture.md``).
"""
