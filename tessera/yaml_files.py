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
    error: ValidationError, where: str, words: Words | None = None, skip: Callable[[dict], bool] | None = None
) -> list[str]:
    """One problem per pydantic error, `where.field.sub: message`, in the words `words` gives where it has them;
    `skip` leaves out the errors a caller reports better itself. Values are never quoted back."""
    problems = []
    for problem in error.errors(include_input=False):
        if skip and skip(problem):
            continue
        place = ".".join(str(part) for part in problem["loc"])
        message = (words(problem) if words else None) or plain(problem)
        problems.append(f"{where}{'.' + place if place else ''}: {message}")
    return problems


def plain(problem: dict) -> str:
    """pydantic's message, as a sentence a person reads (without "Value error, ")."""
    if problem["type"] == "missing":
        return "required"
    if problem["type"] == "extra_forbidden":
        return "unknown field"
    return str(problem["msg"]).removeprefix("Value error, ")
