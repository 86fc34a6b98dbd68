"""The ``transformer`` pipeline component and what runs inside it.

The component (``transformer``), its listeners (``listeners``), the training step, output
retention, batching, pooling, and the helpers a tokenizer-based backend shares (``windowing``,
``wordpiece_backend``). Imports the contract and the plugin bridge, never the command line
(see ``docs/architecture.md``).
"""
