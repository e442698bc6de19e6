"""MkDocs hook: the command-line reference (docs/reference/cli.md) is generated from tarpose's own
argument parser at build time, so it cannot drift from the options the code takes."""

from __future__ import annotations

import argparse
import html
from typing import Any

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())


def cli_reference() -> str:
    """Markdown: one section per subcommand (its description and a table of its arguments)."""
    from tarpose.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    out = ["| command | what it does |", "|---|---|"]
    out += [f"| [`tarpose {name}`](#tarpose-{name}) | {cell(helps.get(name, ''))} |" for name in sub.choices]
    for name, command in sub.choices.items():
        out += ["", f"## tarpose {name}", ""]
        usage = command.format_usage().replace("usage: ", "").strip()
        out += ["```text", *wrap_usage(usage), "```", ""]
        if command.description:
            out += [paragraphs(command.description), ""]
        out += ["| argument | default | description |", "|---|---|---|"]
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            out.append(f"| {flags(action)} | {default(action)} | {cell(action.help or '')} |")
    return "\n".join(out) + "\n"


def flags(action: argparse.Action) -> str:
    meta = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    if isinstance(meta, tuple):
        meta = " ".join(meta)
    if action.choices and not action.metavar:
        meta = "{" + ",".join(map(str, action.choices)) + "}"
    if not action.option_strings:
        return f"`{meta}`"
    takes = action.nargs != 0
    suffix = "" if not takes else f" {meta}" if action.nargs in (None, 1) else f" {meta}..."
    return ", ".join(f"`{o}{suffix}`" for o in action.option_strings)


def default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS, [], ()) or action.required:
        return ""
    value = " ".join(map(str, action.default)) if isinstance(action.default, (list, tuple)) else action.default
    return f"`{value}`"


def cell(text: str) -> str:
    """One table cell: one line, HTML-escaped, pipes escaped, %% as argparse prints it."""
    return html.escape(" ".join(text.replace("%%", "%").split()), quote=False).replace("|", "\\|")


def paragraphs(text: str) -> str:
    """A module docstring as Markdown paragraphs; indented lines (examples) become code blocks."""
    import textwrap

    blocks, current, code = [], [], []

    def close_code() -> None:
        if code:
            blocks.append("```text\n" + textwrap.dedent("\n".join(code)).strip("\n") + "\n```")
            code.clear()

    for line in textwrap.dedent(text).strip().splitlines():
        if line[:1].isspace() and line.strip():
            if current:
                blocks.append(" ".join(current))
                current.clear()
            code.append(line)
            continue
        if not line.strip():
            if code:
                code.append("")
            elif current:
                blocks.append(" ".join(current))
                current.clear()
            continue
        close_code()
        current.append(html.escape(line.strip(), quote=False))
    close_code()
    if current:
        blocks.append(" ".join(current))
    return "\n\n".join(blocks)


def wrap_usage(usage: str, width: int = 78) -> list[str]:
    """argparse's usage line, re-wrapped to ``width`` at option boundaries."""
    words, lines, line = " ".join(usage.split()).split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "    " + word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]
