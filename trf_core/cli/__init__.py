"""The ``trf-core`` command line: one module per command, the plugin scaffold and its templates.

``main`` dispatches; every other layer may be imported from here, nothing imports the command
line (see ``docs/architecture.md``).
"""
