"""The plugin system's trf-core side: the bridge to ``trf_kernel``, registries, hook specs.

``loader`` loads the plugins through the kernel, ``registry`` holds the catalogue registries
with their conflict and missing-distribution guards, ``hookspecs`` the hooks a plugin
implements, ``providers`` / ``requirements`` / ``load_report`` say who provides what. Imports
the contract and ``trf_kernel`` only (see ``docs/architecture.md``).
"""
