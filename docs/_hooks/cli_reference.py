"""MkDocs hook: the CLI reference, generated from sigae's own argparse parsers.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; at build
time it is replaced by :func:`reference_markdown`, which walks
``sigae.cli.build_parsers()`` (every ``sigae-<command>`` parser), so a new
command or option appears in the reference without editing the page.
``tests/test_docs.py`` checks the rendered options against each command's
``--help``.
"""

from __future__ import annotations

import argparse

MARKER = "<!-- cli-reference -->"


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _visible(parser):
    return [a for a in parser._actions if a.help is not argparse.SUPPRESS]


def _default(action) -> str:
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return ""
    default = action.default
    if default is None or default is argparse.SUPPRESS:
        return ""
    if default is False and action.nargs == 0:
        return "off"
    return f"`{default}`"


def command_section(name: str, parser: argparse.ArgumentParser) -> str:
    """One command: description, usage, positional arguments, options (with defaults), example."""
    formatter = parser._get_formatter()
    lines = [f"## {parser.prog}", ""]
    if parser.description:
        lines += [parser.description, ""]
    usage = parser.format_usage().strip()
    lines += ["```text", usage, "```", ""]
    actions = _visible(parser)
    positionals = [a for a in actions if not a.option_strings]
    options = [a for a in actions if a.option_strings]
    if positionals:
        lines += ["| argument | meaning |", "|---|---|"]
        for a in positionals:
            optional = " (optional)" if a.nargs in ("?", "*") else ""
            lines.append(f"| `{a.metavar or a.dest}`{optional} | {_cell(formatter._expand_help(a))} |")
        lines.append("")
    if options:
        lines += ["| option | default | meaning |", "|---|---|---|"]
        for a in options:
            invocation = ", ".join(f"`{_cell(s)}`" for s in formatter._format_action_invocation(a).split(", "))
            required = " (required)" if a.required else ""
            lines.append(f"| {invocation}{required} | {_default(a)} | {_cell(formatter._expand_help(a))} |")
        lines.append("")
    for group in parser._mutually_exclusive_groups:
        names = " / ".join(f"`{a.option_strings[-1]}`" for a in group._group_actions if a.option_strings)
        lines += [f"At most one of {names}.", ""]
    if parser.epilog:
        example = parser.epilog.split("example:", 1)[-1].strip()
        lines += ["Example:", "", "```text", example, "```", ""]
    return "\n".join(lines)


def reference_markdown() -> str:
    """The whole generated reference: the ``sigae`` umbrella, then one section per command."""
    from sigae.cli import build_parsers

    parsers = build_parsers()
    lines = ["## sigae", "",
             "`sigae COMMAND ...` is the same as `sigae-COMMAND ...`; `sigae --help` lists the commands, "
             "`sigae --version` prints the version.", "",
             "| command | what it does |", "|---|---|"]
    for name, parser in parsers.items():
        lines.append(f"| [`sigae-{name}`](#sigae-{name}) | {_cell(parser.description or '')} |")
    lines.append("")
    return "\n".join(lines) + "\n" + "\n".join(command_section(n, p) for n, p in parsers.items())


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 (MkDocs hook signature)
    if MARKER in markdown:
        return markdown.replace(MARKER, reference_markdown())
    return markdown
