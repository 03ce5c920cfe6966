"""What the landing folder holds: the files each source's loader reads, and every other file, with the reason
it is left alone.

Exports arrive as they are made, not as the contract pictures them: in nested date folders
(`orders/2026/10/01/part-0.parquet`), compressed (`.csv.gz`, `.jsonl.bz2`, `.csv.zst`), with upper-case
extensions (`.CSV`). All of those load. What does not load is never skipped silently: a hidden file (a name
starting with `.`, as partial uploads have), a file of another format, a file at the landing root or in an
unknown folder is *left alone* and named in `tessera run`'s summary; a link that points outside the landing
folder (or nowhere) is *refused*, named as a failure, and never read.

A file's name is its path under the landing folder, as the load manifest records it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from ..sources import SOURCES, TRUTH_FOLDER, FileFormat, Source

# The outer compressions a CSV or JSONL export may arrive in, by extension (Parquet compresses its own pages).
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}


@dataclass(frozen=True)
class LandingFile:
    path: Path  # where it is in the landing folder (for a link, the link)
    name: str  # its path under the landing folder, e.g. orders/2026/10/01/part-0.parquet
    compression: str | None = None  # gzip, bz2, zstd, or None


@dataclass
class SourceFiles:
    """One source's folder: the files to load, in name order, and what is not loaded, each with its reason."""

    files: list[LandingFile] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)  # "<name>: <why>", reported
    refused: list[str] = field(default_factory=list)  # "<name>: <why>", reported as a failure


def extensions(source: Source) -> list[str]:
    """The file names a source's loader reads, e.g. `.csv, .csv.gz, .csv.bz2, .csv.zst` (any letter case)."""
    plain = f".{source.extension}"
    if source.format is FileFormat.PARQUET:
        return [plain]
    return [plain, *(plain + suffix for suffix in COMPRESSIONS)]


def reads(name: str, source: Source) -> bool:
    """Whether the source's loader reads a file of this name (one of `extensions`, in any letter case)."""
    return name.lower().endswith(tuple(extensions(source)))


def compression_of(name: str) -> str | None:
    """The outer compression a file's name says (gzip, bz2, zstd), or None."""
    return next((codec for suffix, codec in COMPRESSIONS.items() if name.lower().endswith(suffix)), None)


def source_files(landing: Path, source: Source) -> SourceFiles:
    """The files under `<landing>/<source>/`, at any depth."""
    found = SourceFiles()
    folder = landing / source.name
    if not folder.is_dir():
        return found
    root = landing.resolve()
    for directory, folders, names in os.walk(folder):
        here = Path(directory)
        for sub in sorted(folders):
            path = here / sub
            name = path.relative_to(landing).as_posix()
            if path.is_symlink():
                _link_problem(path, name, root, found) or found.left_alone.append(
                    f"{name}/: a link to a folder, not followed (deliver the files themselves)"
                )
            elif sub.startswith("."):
                found.left_alone.append(f"{name}/: a hidden folder (its name starts with '.')")
        folders[:] = sorted(sub for sub in folders if not sub.startswith(".") and not (here / sub).is_symlink())
        for file_name in sorted(names):
            path = here / file_name
            name = path.relative_to(landing).as_posix()
            if path.is_symlink() and _link_problem(path, name, root, found):
                continue
            if not path.is_file():
                found.left_alone.append(f"{name}: not a regular file")
            elif file_name.startswith("."):
                found.left_alone.append(
                    f"{name}: a hidden file (its name starts with '.', as a partial upload's does); "
                    "rename it to load it"
                )
            elif not reads(file_name, source):
                found.left_alone.append(f"{name}: not a {source.name} file (expected {', '.join(extensions(source))})")
            else:
                found.files.append(LandingFile(path, name, compression_of(file_name)))
    found.files.sort(key=lambda file: file.name)
    return found


def _link_problem(path: Path, name: str, root: Path, found: SourceFiles) -> bool:
    """Records a link that points outside the landing folder or nowhere as refused; True when it was."""
    target = path.resolve()
    if not target.is_relative_to(root):
        found.refused.append(f"{name}: a link to {target}, outside the landing folder: refused, nothing read")
        return True
    if not target.exists():
        found.refused.append(f"{name}: a link to {target}, which does not exist: refused")
        return True
    return False


def outside_sources(landing: Path) -> list[str]:
    """Everything in the landing folder that no source owns: files at its root and unknown folders, each with
    what to do. The generators' `_truth/` is not mentioned: it is never read, by design."""
    if not landing.is_dir():
        return []
    known = {source.name: source for source in SOURCES}
    notes = []
    for path in sorted(landing.iterdir()):
        if path.name == TRUTH_FOLDER or path.name in known:
            continue
        if path.is_dir():
            notes.append(f"{path.name}/: not a known source folder ({', '.join(known)}): left alone")
            continue
        owner = next((s for s in SOURCES if path.name.startswith(s.name) and reads(path.name, s)), None)
        hint = f"; move it into {owner.name}/ to load it" if owner else ""
        notes.append(f"{path.name}: a file at the landing root, where no source reads: left alone{hint}")
    return notes


@contextmanager
def open_bytes(file: LandingFile | Path, compression: str | None = None) -> Iterator[BinaryIO]:
    """The file's content, decompressed, as a binary stream (read it line by line, or give it to pyarrow)."""
    path, codec = (file.path, file.compression) if isinstance(file, LandingFile) else (file, compression)
    with pa.input_stream(str(path), compression=codec) as stream:
        yield stream


def write_bytes(path: Path, data: bytes, compression: str | None) -> None:
    """Writes `data` to `path`, compressed as `compression` (the purge rewrites a compressed file as it came)."""
    with pa.output_stream(str(path), compression=compression) as stream:
        stream.write(data)
