"""Files Tessera generates into the dbt project (declared segments, sync exposures), written only on change so
that an unchanged project keeps its parsed manifest."""

from __future__ import annotations

from pathlib import Path


def write_if_changed(path: Path, text: str) -> bool:
    """Writes `text` to `path` unless it already holds exactly that; True when it wrote."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
