"""Input hints: a file that is JSON rather than JSON Lines is refused before anything is sent.

`arrears ingest` reads one event object per line. A pretty-printed JSON array or object
read that way gives a dead letter per line (`json.invalid` for `[`, `{`, every field and
every brace) with no word that the file itself is the wrong shape. So the beginning of
each input is read first (`read_head`): a file whose first non-blank character is `[`
(unless a one-line array is followed by more lines: then it is a JSON Lines file whose
first record is not an object), or whose first record spans lines, is refused with how to
convert it; the lines read are fed to ingest afterwards, so a pipe loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import IO

from contracts.records import MAX_RECORD_BYTES

__all__ = ["Head", "json_lines_problem", "read_head"]

#: JSON's white space, and a UTF-8 byte-order mark, before the first character.
_SPACE = " \t\r\n\ufeff"


@dataclass
class Head:
    """The first lines of an input, read to judge it, and what is wrong with it (None: fine)."""

    lines: list[bytes] = field(default_factory=list)
    problem: str | None = None

    def then(self, rest: IO[bytes]) -> Iterator[bytes]:
        """Every line of the input: the ones read here, then the rest."""
        return chain(self.lines, rest)


def read_head(name: str, handle: IO[bytes]) -> Head:
    """Read the start of `handle` up to its first record (a pretty-printed one whole, at most
    one record's limit past its first line; after a one-line array, up to the next line) and
    judge it with `json_lines_problem`.

    Reads line by line and stops as soon as it can tell, so a pipe that is still being
    written is not waited on past its first record.
    """
    head = Head()
    past_first = -1  # bytes read after the first non-blank line (-1: none seen yet)
    while True:
        line = handle.readline()
        if not line:
            break
        head.lines.append(line)
        if past_first >= 0:
            past_first += len(line)
        if not line.decode("utf-8", "replace").strip(_SPACE):
            continue  # blank so far
        past_first = max(past_first, 0)
        verdict = _judge(name, head.lines, complete=False)
        if verdict is not _UNDECIDED or past_first > MAX_RECORD_BYTES:
            head.problem = verdict if isinstance(verdict, str) else None
            return head
    verdict = _judge(name, head.lines, complete=True)
    head.problem = verdict if isinstance(verdict, str) else None
    return head


def json_lines_problem(name: str, data: bytes) -> str | None:
    """Why an input beginning with `data` is not JSON Lines, with how to convert it; None when
    its start looks like JSON Lines (bad lines in it are dead-lettered one by one as usual).

    >>> json_lines_problem("a.json", b'[\\n  {"event_id": "e1"}\\n]\\n') is not None
    True
    >>> json_lines_problem("a.jsonl", b'{"event_id": "e1"}\\n{"event_id": "e2"}\\n') is None
    True
    """
    verdict = _judge(name, data.splitlines(keepends=True), complete=True)
    return verdict if isinstance(verdict, str) else None


#: `_judge` cannot tell yet: the first record may go on in lines not read.
_UNDECIDED = object()


def _judge(name: str, lines: list[bytes], *, complete: bool) -> str | None | object:
    text = b"".join(lines).decode("utf-8", "replace").lstrip(_SPACE)
    if not text:
        return None  # empty: ingest warns about it
    first, _, rest = text.partition("\n")
    if text[0] == "[":
        # A whole array on the first line with more lines after it is JSON Lines whose first
        # record is not an object: a dead letter like any other, not a JSON file.
        if _is_json(first):
            if rest.strip(_SPACE):
                return None
            if not complete:
                return _UNDECIDED
        return _message(name, "it starts with `[`, a JSON array", "'.[]'")
    if text[0] != "{" or _is_json(first):
        return None
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as err:
        # A bad first line (the error is inside what was read), or a pretty-printed
        # record whose end is not read yet (the decoder ran out of text).
        truncated = err.pos >= len(text.rstrip(_SPACE))
        return _UNDECIDED if truncated and not complete else None
    if end <= len(first):
        return None
    spans = text[:end].count("\n") + 1
    return _message(name, f"its first record spans {spans} lines (pretty-printed JSON)", ".")


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _message(name: str, why: str, filter_: str) -> str:
    target = (name[: -len(".json")] if name.endswith(".json") else name) + ".jsonl"
    return (
        f"{name} is JSON, not JSON Lines: {why}; arrears ingest reads one event object per "
        f"line. Convert it with `jq -c {filter_} {name} > {target}` (`jq -c '.[]'` for an "
        f"array, `jq -c .` for objects one after another) and ingest {target}"
    )
