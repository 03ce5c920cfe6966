"""The one reader of Tessera's YAML files (syncs, segments): each file's top-level list read item by item, every
mistake reported with its place (`file: syncs[2] (name).field: message`), one broken item never hiding the
others; and pydantic's validation errors turned into those places and plain words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError


def entries(path: Path, key: str, shown: str, problems: list[str]) -> Iterator[tuple[str, object]]:
    """Each item of the file's top-level `key:` list, with its place (`key[0]`); a file that is not YAML or has
    no such list adds one problem and yields nothing."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        problems.append(f"{shown}: not valid YAML: {error}")
        return
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        problems.append(f"{shown}: expected a top-level `{key}:` list")
        return
    for index, item in enumerate(document[key]):
        yield f"{key}[{index}]", item


Words = Callable[[dict], str | None]  # a better message for one pydantic error, or None for pydantic's own


def located(
    error: ValidationError,
    where: str,
    words: Words | None = None,
    skip: Callable[[dict], bool] | None = None,
    depth: int | None = None,
) -> list[str]:
    """One problem per place, `where.field[0].sub: message`, in the words `words` gives where it has them; `skip`
    leaves out the errors a caller reports better itself; `depth` keeps that many parts of a place (1 for a flat
    model, whose union alternatives pydantic names in the place). A value that fits none of a field's forms is one
    problem naming what each form wanted. Values are never quoted back."""
    by_place: dict[str, list[str]] = {}
    for problem in error.errors(include_input=False):
        if skip and skip(problem):
            continue
        message = (words(problem) if words else None) or plain(problem)
        messages = by_place.setdefault(place(problem["loc"][:depth]), [])
        if message not in messages:
            messages.append(message)
    return [
        f"{where}{spot}: {messages[0] if len(messages) == 1 else 'fits none of its forms: ' + '; '.join(messages)}"
        for spot, messages in by_place.items()
    ]


def place(loc: tuple) -> str:
    """`('conditions', '@all', 'all', 0, 'within')` -> `.conditions.all[0].within`: list positions in brackets, the
    tags of a discriminated union (`@...`) left out."""
    spot = ""
    for part in loc:
        if isinstance(part, int):
            spot += f"[{part}]"
        elif not str(part).startswith("@"):
            spot += f".{part}"
    return spot


def plain(problem: dict) -> str:
    """pydantic's message, as a sentence a person reads (without "Value error, ")."""
    if problem["type"] == "missing":
        return "required"
    if problem["type"] == "extra_forbidden":
        return "unknown field"
    return str(problem["msg"]).removeprefix("Value error, ")
