"""The throwaway plugin distributions the plugin-system tests install (see plugsys_factory).

Names start with ``kt`` so they never collide with real plugins installed beside them.
"""

from __future__ import annotations

from plugsys_factory import FakeDistribution

GOOD = FakeDistribution(
    "kt-good",
    "1.2.3",
    """
    from trf_core import hookimpl

    def whole_doc_getter():
        def get_spans(docs):
            return [[doc[:]] if len(doc) else [] for doc in docs]
        return get_spans

    def first_token_getter():
        def get_spans(docs):
            return [[doc[:1]] if len(doc) else [] for doc in docs]
        return get_spans

    def count_setter(key: str = "kt.n_spans"):
        def set_annotations(docs, batch):
            for doc, spans in zip(docs, batch.spans):
                doc.user_data[key] = len(spans)
        return set_annotations

    def sum_pooler():
        from thinc.api import reduce_sum
        return reduce_sum()

    @hookimpl
    def trf_span_getters():
        # kt.first_token.v1 is also declared as a catalogue entry point by this same
        # distribution: declaring a name both ways is not a conflict.
        return {"kt.whole_doc.v1": whole_doc_getter, "kt.first_token.v1": first_token_getter}

    @hookimpl
    def trf_annotation_setters():
        return {"kt.count.v1": count_setter}

    @hookimpl
    def trf_poolers():
        return {"kt.sum_pool.v1": sum_pooler}
    """,
    {
        "trf_core": {"kt_good": "kt_good.plugin"},
        "spacy_span_getters": {"kt.first_token.v1": "kt_good.plugin:first_token_getter"},
    },
)

BROKEN_IMPORT = FakeDistribution(
    "kt-broken-import",
    "0.0.1",
    """
    import kt_module_that_does_not_exist  # noqa: F401
    """,
    {"trf_core": {"kt_broken_import": "kt_broken_import.plugin"}},
)

RAISING_HOOK = FakeDistribution(
    "kt-raising-hook",
    "0.0.2",
    """
    from trf_core import hookimpl

    @hookimpl
    def trf_annotation_setters():
        return {"kt.fine_setter.v1": lambda: (lambda docs, batch: None)}

    @hookimpl
    def trf_span_getters():
        raise RuntimeError("kt hook exploded")
    """,
    {"trf_core": {"kt_raising_hook": "kt_raising_hook.plugin"}},
)

BAD_SIGNATURE = FakeDistribution(
    "kt-bad-signature",
    "0.0.3",
    """
    from trf_core import hookimpl

    @hookimpl
    def trf_span_getters(window):
        return {}
    """,
    {"trf_core": {"kt_bad_signature": "kt_bad_signature.plugin"}},
)

BAD_RETURN = FakeDistribution(
    "kt-bad-return",
    "0.0.4",
    """
    from trf_core import hookimpl

    @hookimpl
    def trf_poolers():
        return ["kt.not_a_dict.v1"]
    """,
    {"trf_core": {"kt_bad_return": "kt_bad_return.plugin"}},
)

ORDERED_HOOKS = FakeDistribution(
    "kt-ordered-hooks",
    "0.0.5",
    """
    from trf_core import hookimpl

    @hookimpl
    def trf_annotation_setters():
        return {"kt.ordered_setter.v1": lambda: (lambda docs, batch: None)}

    # pluggy options for a combined call of every plugin; trf-core calls each plugin on its own
    @hookimpl(tryfirst=True)
    def trf_span_getters():
        return {"kt.first_please.v1": lambda: (lambda docs: [[doc[:]] for doc in docs])}

    @hookimpl(wrapper=True)
    def trf_poolers():
        names = yield
        return names
    """,
    {"trf_core": {"kt_ordered_hooks": "kt_ordered_hooks.plugin"}},
)


def _conflicting(name: str, version: str) -> FakeDistribution:
    package = name.replace("-", "_")
    return FakeDistribution(
        name,
        version,
        f"""
        from trf_core import hookimpl

        def make_getter():
            def get_spans(docs):
                return [[doc[:]] for doc in docs]
            get_spans.provider = "{name}"
            return get_spans

        @hookimpl
        def trf_span_getters():
            return {{"kt.shared.v1": make_getter, "kt.only_{package}.v1": make_getter}}
        """,
        {"trf_core": {package: f"{package}.plugin"}},
    )


CONFLICT_A = _conflicting("kt-conflict-a", "1.0.0")
CONFLICT_B = _conflicting("kt-conflict-b", "2.0.0")

ENTRY_POINT_CLAIMANT = FakeDistribution(
    "kt-ep-claimant",
    "3.1.4",
    """
    def whole_doc_getter():
        return lambda docs: [[doc[:]] for doc in docs]
    """,
    {"spacy_span_getters": {"kt.shared_ep.v1": "kt_ep_claimant.plugin:whole_doc_getter"}},
)

HOOK_CLAIMANT = FakeDistribution(
    "kt-hook-claimant",
    "0.9.0",
    """
    from trf_core import hookimpl

    @hookimpl
    def trf_span_getters():
        return {"kt.shared_ep.v1": lambda: (lambda docs: [[] for _ in docs])}
    """,
    {"trf_core": {"kt_hook_claimant": "kt_hook_claimant.plugin"}},
)

REDUCE_MEAN = FakeDistribution(
    "kt-reduce-mean",
    "0.5.0",
    """
    from trf_core import hookimpl

    def my_reduce_mean():
        from thinc.api import reduce_sum
        return reduce_sum()

    @hookimpl
    def trf_poolers():
        return {"reduce_mean.v1": my_reduce_mean}
    """,
    {"trf_core": {"kt_reduce_mean": "kt_reduce_mean.plugin"}},
)

CLI_COMMANDS = FakeDistribution(
    "kt-cli",
    "0.2.0",
    """
    from trf_core import hookimpl

    HELP = "say hello (a plugin's command)"
    EXTRA_ARGS = True

    def configure(parser):
        parser.add_argument("name")

    def run(args):
        print(f"hello {args.name} {args.extra_args}")
        return 3

    @hookimpl
    def trf_cli_commands():
        # the core's `plugins` stays the core's; kt-missing's module does not exist
        return {"kt-hello": "kt_cli.plugin", "kt-missing": "kt_cli.nowhere",
                "plugins": "kt_cli.plugin"}
    """,
    {"trf_core": {"kt_cli": "kt_cli.plugin"}},
)

CLI_CLASH = FakeDistribution(
    "kt-cli-clash",
    "0.3.0",
    """
    from trf_core import hookimpl

    HELP = "another hello"

    def configure(parser):
        pass

    def run(args):
        return 0

    @hookimpl
    def trf_cli_commands():
        return {"kt-hello": "kt_cli_clash.plugin", "kt-other": "kt_cli_clash.plugin"}
    """,
    {"trf_core": {"kt_cli_clash": "kt_cli_clash.plugin"}},
)

CLI_BAD_NAME = FakeDistribution(
    "kt-cli-bad",
    "0.0.1",
    """
    from trf_core import hookimpl

    @hookimpl
    def trf_cli_commands():
        return {"Say Hello": "kt_cli_bad.plugin"}
    """,
    {"trf_core": {"kt_cli_bad": "kt_cli_bad.plugin"}},
)

ALL = [
    CLI_COMMANDS,
    CLI_CLASH,
    CLI_BAD_NAME,
    GOOD,
    BROKEN_IMPORT,
    RAISING_HOOK,
    BAD_SIGNATURE,
    BAD_RETURN,
    ORDERED_HOOKS,
    CONFLICT_A,
    CONFLICT_B,
    ENTRY_POINT_CLAIMANT,
    HOOK_CLAIMANT,
    REDUCE_MEAN,
]

FAKE_SPACY_TRANSFORMERS = FakeDistribution("spacy-transformers", "1.3.9", "# metadata only\n")
"""Only its metadata matters: trf-core must notice spacy-transformers is installed."""

ALL.append(FAKE_SPACY_TRANSFORMERS)
