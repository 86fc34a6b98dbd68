"""trf-core's version, in a module of its own so every layer can read it without importing the
package's public surface (``trf_core/__init__.py`` loads the plugins)."""

__version__ = "0.1.0"
