"""trf-kernel: the plugin kernel of trf-core."""
