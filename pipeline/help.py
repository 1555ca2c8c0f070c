"""How `arrears --help` reads: text wrapped by display width (a Chinese character takes two
columns), defaults shown, and every command's help ending with the exit codes it uses.

argparse measures text with `len()` and wraps it with `textwrap`, so a line of Chinese is
twice as wide on screen as argparse believes, and `RawDescriptionHelpFormatter` does not
wrap at all. `Formatter` wraps by cells (`rich.cells.cell_len`), breaks between Chinese
characters but never before a closing mark (，。）), and keeps indented lines as written.
`Parser` takes the codes a command exits with (`codes=`) and ends its help with them, their
meanings from the one `ExitCode` enum.
"""

from __future__ import annotations

import argparse
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from rich.cells import cell_len

from pipeline.errors import MEANINGS, ExitCode

__all__ = ["Formatter", "Parser", "exit_codes_text", "wrap", "walk", "ALWAYS"]

#: Every command can end in these: done, failed, bad arguments, Ctrl-C.
ALWAYS = (ExitCode.OK, ExitCode.FAILURE, ExitCode.USAGE, ExitCode.INTERRUPTED)

#: Help never wider than this, however wide the terminal: longer lines are hard to read.
MAX_WIDTH = 100

_CLOSING = set("，。、；：！？）」』》】〉”’,.;:!?)]}%")
_OPENING = set("（「『《【〈“‘([{")


def _wide(char: str) -> bool:
    return cell_len(char) == 2


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, space before it): a run of narrow characters is one token, each wide
    character is one (a line may break between any two), closing marks stick to the
    token before them and opening marks to the token after."""
    out: list[tuple[str, bool]] = []
    space = False
    glue = False  # the last token ends in an opening mark: the next character joins it
    for word in re.split(r"(\s+)", text):
        if not word:
            continue
        if word.isspace():
            space, glue = True, False
            continue
        for char in word:
            joins_previous = bool(out) and not space and (glue or char in _CLOSING)
            if not joins_previous and out and not space and not _wide(char):
                joins_previous = not _wide(out[-1][0][-1])  # a narrow run goes on
            if joins_previous:
                out[-1] = (out[-1][0] + char, out[-1][1])
            else:
                out.append((char, space))
            space = False
            glue = char in _OPENING
    return out


def _pieces(token: str, width: int) -> list[str]:
    """A token wider than a line (a long path) cut after its slashes, else by cells."""
    out: list[str] = []
    for part in re.split(r"(?<=/)", token):
        while cell_len(part) > width:
            cut = width
            while cell_len(part[:cut]) > width:
                cut -= 1
            out.append(part[:cut])
            part = part[cut:]
        if out and cell_len(out[-1]) + cell_len(part) <= width:
            out[-1] += part
        elif part:
            out.append(part)
    return out


def for_stream(text: str, stream: TextIO) -> str:
    """`text` as is into a pipe or a log (a line to grep); on a terminal each of its lines
    wrapped between words by display width (`wrap`), the rest indented by two: a terminal
    would otherwise cut words at its edge."""
    if not stream.isatty():
        return text
    width = shutil.get_terminal_size((80, 24)).columns - 2  # room for the indent
    return "\n".join("\n  ".join(wrap(line, width)) for line in text.splitlines())


def wrap(text: str, width: int) -> list[str]:
    """`text` (white space folded) in lines of at most `width` display columns; a token
    wider than a line (a path) is cut after a slash."""
    lines: list[str] = []
    line = ""
    tokens: list[tuple[str, bool]] = []
    for token, space in _tokens(text):
        if cell_len(token) > width:
            first, *rest = _pieces(token, width)
            tokens += [(first, space), *((p, True) for p in rest)]
        else:
            tokens.append((token, space))
    for token, space in tokens:
        piece = (" " if space and line else "") + token
        if line and cell_len(line) + cell_len(piece) > width:
            lines.append(line)
            line = token
        else:
            line += piece
    if line:
        lines.append(line)
    return lines


class Formatter(argparse.HelpFormatter):
    """Paragraphs (separated by blank lines) wrapped by display width; lines that start
    with white space kept as they are (lists, examples); defaults shown."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        columns = shutil.get_terminal_size().columns - 2
        kwargs.setdefault("width", max(40, min(columns, MAX_WIDTH)))
        super().__init__(prog, **kwargs)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        for paragraph in re.split(r"\n\s*\n", text.strip("\n")):
            if out:
                out.append("")
            lines = paragraph.splitlines()
            if any(line[:1].isspace() for line in lines):
                out.extend(indent + line.rstrip() for line in lines)
            else:
                out.extend(indent + line for line in wrap(paragraph, width - len(indent)))
        return "\n".join(out) + "\n"

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = (
            action.option_strings
            and default not in (None, False, argparse.SUPPRESS, [], ())
            and "default" not in text
            and "%(default)" not in text
        )
        return f"{text} (default: %(default)s)" if shown else action.help


def exit_codes_text(codes: Iterable[int] = ()) -> str:
    """The exit-code lines a command's help ends with: the ones every command has plus
    `codes`, in order, each with its meaning from `ExitCode`."""
    chosen = sorted({ExitCode(c) for c in (*ALWAYS, *codes)})
    return "exit codes:\n" + "\n".join(f"  {int(c):<4} {MEANINGS[c]}" for c in chosen)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help is laid out by `Formatter` and ends with its exit codes.

    `codes`: the codes beyond 0, 1, 2 and 130 this command uses (ExitCode members). The
    subparsers it makes are Parsers too, so every command gets the same treatment.
    """

    def __init__(self, *args: Any, codes: Sequence[int] = (), **kwargs: Any) -> None:
        kwargs["formatter_class"] = Formatter
        epilog = kwargs.pop("epilog", None)
        tail = exit_codes_text(codes)
        kwargs["epilog"] = f"{epilog}\n\n{tail}" if epilog else tail
        super().__init__(*args, **kwargs)
        #: The subcommand groups this parser has (`walk` goes through them).
        self.subcommands: list[Any] = []

    def add_subparsers(self, **kwargs: Any) -> Any:
        action = super().add_subparsers(**kwargs)
        self.subcommands.append(action)
        return action


def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every subcommand parser below it, depth first."""
    yield parser
    for action in getattr(parser, "subcommands", ()):
        for child in dict.fromkeys(action.choices.values()):  # aliases once
            yield from walk(child)
