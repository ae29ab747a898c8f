"""`lambda-ci package`: a reproducible zip of a folder, checked against Lambda's limits, and its manifest.

Reproducible: the bytes depend only on the files' names, contents and executable bits. Entries are sorted
by name, every timestamp is 1980-01-01, modes are 0644 or 0755, and there are no directory entries, no
extra fields (owners, mtimes) and no .pyc files unless asked (keep_bytecode). The compressor is zlib-ng
pinned as a dependency, not the system's zlib, whose output differs between versions.

Fast: members are cut into CHUNK-sized pieces compressed on every core (zlib-ng releases the GIL). Each
piece is primed with the 32 KiB before it and ends on a byte boundary (a sync flush), so the pieces of a
member concatenate into one deflate stream, as pigz does, and the bytes do not depend on the thread count.
A bounded number of pieces is in flight, so memory does not grow with the package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import struct
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from zlib_ng import zlib_ng

from lambda_ci import gitlab
from lambda_ci.errors import BadInput, OperationFailed

# Left out of every package; patterns without a "/" match a name at any depth, others from the top.
BYTECODE = ("__pycache__", "*.pyc")  # kept when asked (keep_bytecode)
DEFAULT_EXCLUDES = (*BYTECODE, ".git", ".aws", "/tests")

DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # zipped, for ZipFile in CreateFunction/UpdateFunctionCode
UNZIPPED_LIMIT = 250 * 1024 * 1024  # the function and all its layers
MAX_ENTRIES = 0xFFFF  # without zip64 records

COMPRESSOR = "zlib-ng"
LEVEL = 5  # zlib-ng 5 is about as small as zlib 6 (zip -r), and faster than its own 6
CHUNK = 256 * 1024
WINDOW = 32 * 1024  # deflate's window: how far back a piece may refer
PROBE = 4096  # bytes of each of the 4 samples that tell incompressible pieces apart
BATCH = 64  # small members compressed by one task, to keep per-task overhead low
MAX_IN_FLIGHT = 64  # tasks of at most about CHUNK each: bounds memory whatever the core count

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class Member:
    name: str  # in the zip
    path: str  # the file to read (a symlink's target)
    size: int
    executable: bool


# ---- the tree ----------------------------------------------------------------------------------------


def collect(source: Path, excludes: Sequence[str] = DEFAULT_EXCLUDES, prefix: str = "",
            skip: Collection[Path] = ()) -> list[Member]:
    """Every file under source to package, sorted by name in the zip.

    Raises BadInput for what is unsafe to unpack: a symlink leaving the folder (or looping, or dangling),
    a name that is absolute or has a `..` part (where `\\` is a separator, as zip tools on Windows read it).
    """
    root = os.path.realpath(source)
    skipped = {os.path.realpath(path) for path in skip}
    members: list[Member] = []
    _walk(root, root, "", _excluder(excludes), prefix, {root}, skipped, members)
    members.sort(key=lambda member: member.name.encode())
    return members


def _excluder(patterns: Sequence[str]):
    anywhere, anchored = [], []
    for pattern in patterns:
        pattern = pattern.rstrip("/").removeprefix("./")
        if "/" in pattern:
            anchored.append(pattern.lstrip("/"))
        else:
            anywhere.append(pattern)

    def excluded(rel: str, name: str) -> bool:
        return (any(fnmatchcase(name, p) for p in anywhere)
                or any(fnmatchcase(rel, p) or (p.startswith("**/") and fnmatchcase(rel, p[3:]))
                       for p in anchored))

    return excluded


def _walk(root: str, directory: str, rel_dir: str, excluded, prefix: str, ancestors: set[str],
          skipped: set[str], members: list[Member]) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            rel = rel_dir + entry.name
            if excluded(rel, entry.name):
                continue
            _check_name(rel)
            path = entry.path
            if entry.is_symlink():
                path = _link_target(root, rel, entry.path)
            if path in skipped:
                continue
            info = os.stat(path)
            if stat.S_ISDIR(info.st_mode):
                if path in ancestors:
                    raise BadInput(f"`source_dir` input: symlink `{rel}` loops back to a folder holding it")
                _walk(root, path, rel + "/", excluded, prefix, ancestors | {path}, skipped, members)
            elif stat.S_ISREG(info.st_mode):
                executable = bool(info.st_mode & 0o111)
                members.append(Member(prefix + rel, path, info.st_size, executable))
            else:
                raise BadInput(f"`source_dir` input: `{rel}` is neither a file nor a folder")


def _check_name(rel: str) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"`source_dir` input: `{rel!r}` is not a UTF-8 name: rename it") from None
    if rel.startswith(("/", "\\")) or _DRIVE.match(rel):
        raise BadInput(f"`source_dir` input: `{rel}` is an absolute path, which would unpack outside the "
                       "function's folder: rename it")
    if ".." in rel.replace("\\", "/").split("/"):
        raise BadInput(f"`source_dir` input: `{rel}` has a `..` part, which would unpack outside the "
                       "function's folder: rename it")


def _link_target(root: str, rel: str, link: str) -> str:
    target = os.path.realpath(link)
    if os.path.commonpath([root, target]) != root:
        raise BadInput(f"`source_dir` input: symlink `{rel}` points outside the source folder "
                       f"(to `{os.readlink(link)}`): copy what it points to into the folder, or exclude it")
    if not os.path.exists(target):
        raise BadInput(f"`source_dir` input: symlink `{rel}` points to nothing (`{os.readlink(link)}`)")
    return target


# ---- compression ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    member: Member
    offset: int
    size: int  # bytes of the member it holds
    data: bytes  # deflated, or the raw member when `stored`
    crc: int
    stored: bool

    @property
    def last(self) -> bool:
        return self.offset + self.size >= self.member.size


def _tasks(members: Iterable[Member]) -> Iterator[list[tuple[Member, int]]]:
    """(member, offset) pieces grouped into tasks: a large member's pieces alone, small members batched."""
    batch: list[tuple[Member, int]] = []
    batch_bytes = 0
    for member in members:
        if member.size > CHUNK:
            if batch:
                yield batch
                batch, batch_bytes = [], 0
            for offset in range(0, member.size, CHUNK):
                yield [(member, offset)]
            continue
        batch.append((member, 0))
        batch_bytes += member.size
        if batch_bytes >= CHUNK or len(batch) >= BATCH:
            yield batch
            batch, batch_bytes = [], 0
    if batch:
        yield batch


def _compress(task: list[tuple[Member, int]]) -> list[Piece]:
    pieces = []
    for member, offset in task:
        start = max(0, offset - WINDOW)
        size = min(CHUNK, member.size - offset)
        with open(member.path, "rb") as f:
            f.seek(start)
            buffer = f.read(offset - start + size)
        if len(buffer) != offset - start + size:
            raise OperationFailed(f"`{member.name}` changed while it was being packaged")
        history, data = buffer[:offset - start], buffer[offset - start:]
        options = {"zdict": history} if history else {}
        level = LEVEL if _compressible(data) else 0
        compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, -15, 8, zlib_ng.Z_DEFAULT_STRATEGY,
                                         **options)
        last = offset + size >= member.size
        ending = zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH  # a sync flush ends on a byte boundary
        deflated = compressor.compress(data) + compressor.flush(ending)
        crc = zlib_ng.crc32(data)
        # A whole member that deflate does not shrink is stored (large ones are decided by the writer).
        stored = offset == 0 and last and len(deflated) >= size
        pieces.append(Piece(member, offset, size, data if stored else deflated, crc, stored))
    return pieces


def _compressible(data: bytes) -> bool:
    """False for data that deflate cannot shrink (already compressed, random): a piece of it is written as
    stored deflate blocks (level 0) instead of being searched for matches in vain, which is most of the
    time such data costs. A fast look at four samples decides, so the choice depends on the bytes only."""
    if len(data) < 16 * PROBE:
        return True
    step = len(data) // 4
    sample = b"".join(data[i * step:i * step + PROBE] for i in range(4))
    return len(zlib_ng.compress(sample, 2, -15)) < 0.95 * len(sample)


def _pieces(members: Sequence[Member], workers: int) -> Iterator[Piece]:
    """The pieces of every member in order, compressed on `workers` threads, a bounded number ahead."""
    in_flight = min(4 * workers, MAX_IN_FLIGHT)
    with ThreadPoolExecutor(workers, thread_name_prefix="deflate") as pool:
        pending: deque = deque()
        for task in _tasks(members):
            pending.append(pool.submit(_compress, task))
            if len(pending) >= in_flight:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


# ---- the zip file ----------------------------------------------------------------------------------------

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 20  # deflate, no zip64
_MADE_BY = (3 << 8) | _VERSION  # 3: Unix, so readers take the mode from the external attributes
_UTF8 = 0x800
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01 (the earliest a zip can hold), 00:00:00
_STORED, _DEFLATED = 0, 8


@dataclass
class _Entry:
    member: Member
    offset: int
    method: int
    crc: int = 0
    compressed: int = 0

    @property
    def name(self) -> bytes:
        return self.member.name.encode()

    @property
    def flags(self) -> int:
        return _UTF8 if not self.member.name.isascii() else 0

    def local_header(self) -> bytes:
        return _LOCAL.pack(0x04034B50, _VERSION, self.flags, self.method, 0, _DOS_DATE, self.crc,
                           self.compressed, self.member.size, len(self.name), 0) + self.name

    def central_header(self) -> bytes:
        mode = stat.S_IFREG | (0o755 if self.member.executable else 0o644)
        return _CENTRAL.pack(0x02014B50, _MADE_BY, _VERSION, self.flags, self.method, 0, _DOS_DATE, self.crc,
                             self.compressed, self.member.size, len(self.name), 0, 0, 0, 0, mode << 16,
                             self.offset) + self.name


def write_zip(members: Sequence[Member], out, workers: int | None = None) -> None:
    """Write the zip of members to `out`, a file open for writing and reading at position 0."""
    workers = workers or len(os.sched_getaffinity(0))
    entries: list[_Entry] = []
    entry: _Entry | None = None
    position = 0  # tracked: tell() on a buffered file flushes it
    for piece in _pieces(members, workers):
        if piece.offset == 0:
            entry = _Entry(piece.member, position, _STORED if piece.stored else _DEFLATED, piece.crc,
                           len(piece.data))
            # Right for a member in one piece; one in several gets its sizes and CRC at its end.
            header = entry.local_header()
            out.write(header)
            position += len(header)
        else:
            entry.crc = zlib_ng.crc32_combine(entry.crc, piece.crc, piece.size)
            entry.compressed += len(piece.data)
        out.write(piece.data)
        position += len(piece.data)
        if piece.last:
            if piece.offset > 0:
                position = _finish_large(out, entry)
            entries.append(entry)
    directory_size = 0
    for entry in entries:
        directory_size += out.write(entry.central_header())
    out.write(_END.pack(0x06054B50, 0, 0, len(entries), len(entries), directory_size, position, 0))


def _finish_large(out, entry: _Entry) -> int:
    """Patch the local header of a member written in pieces, storing it raw when deflate did not shrink it;
    return the position after the member."""
    data_start = entry.offset + _LOCAL.size + len(entry.name)
    if entry.compressed >= entry.member.size:
        out.seek(data_start)
        out.truncate()
        with open(entry.member.path, "rb") as raw:
            shutil.copyfileobj(raw, out, CHUNK)
        entry.method, entry.compressed = _STORED, entry.member.size
    out.seek(entry.offset)
    out.write(entry.local_header())
    out.seek(0, os.SEEK_END)
    return data_start + entry.compressed


def code_sha256(path: Path) -> str:
    """Base64 SHA-256 of the file, as Lambda reports CodeSha256."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


# ---- the command ---------------------------------------------------------------------------------------


def default_manifest(output: Path) -> Path:
    return output.with_name(output.name.removesuffix(".zip") + ".manifest.json")


def build_info_path(folder: Path) -> Path:
    """Where `lambda-ci build` records the runtime and architecture of a folder: beside it."""
    folder = folder.resolve()
    return folder.with_name(folder.name + ".build.json")


def compressor_version() -> str:
    return zlib_ng.ZLIBNG_RUNTIME_VERSION


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


def check_unzipped(members: Sequence[Member]) -> int:
    """The unzipped size; raises OperationFailed when Lambda would refuse the package."""
    total = sum(member.size for member in members)
    if total > UNZIPPED_LIMIT:
        raise OperationFailed(f"{_mb(total)} unzipped is above Lambda's limit of 250 MB for a function and "
                              "its layers together: leave out what the function does not need (exclude "
                              "input) or ship it as a container image")
    if len(members) > MAX_ENTRIES:
        raise OperationFailed(f"{len(members)} files is more than a zip without zip64 holds ({MAX_ENTRIES}): "
                              "leave some out (exclude input)")
    return total


def run(settings: dict[str, Any]) -> int:
    source = Path(settings["source_dir"])
    if not source.is_dir():
        raise BadInput(f"`source_dir` input: `{source}` is not a folder")
    output = Path(settings["output"])
    manifest_path = Path(settings.get("manifest") or default_manifest(output))
    prefix = "python/" if settings["layer"] else ""
    defaults = [p for p in DEFAULT_EXCLUDES if not (settings["keep_bytecode"] and p in BYTECODE)]
    members = collect(source, [*defaults, *settings["exclude"]], prefix, skip=(output, manifest_path))
    if not members:
        raise BadInput(f"`source_dir` input: `{source}` has no files to package (after the excludes)")
    if settings["keep_bytecode"]:
        _warn_timestamped_bytecode(members)
    if prefix and all(member.name.startswith("python/python/") for member in members):
        gitlab.warn(f"{source} already has python/ at its top, so the layer holds python/python/: "
                    "give the folder inside python/ as source_dir")
    unzipped = check_unzipped(members)

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        with partial.open("w+b") as out:
            write_zip(members, out)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)

    size = output.stat().st_size
    manifest = {
        "code_sha256": code_sha256(output),
        "size": size,
        "unzipped_size": unzipped,
        "files": len(members),
        "layer": bool(prefix),
        **_build_info(source),
        "compressor": COMPRESSOR,
        "compressor_version": compressor_version(),
        "compression_level": LEVEL,
    }
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{output}: {len(members)} files, {_mb(unzipped)} unzipped, {_mb(size)} zipped, "
          f"CodeSha256 {manifest['code_sha256']} (manifest {manifest_path})")
    if size > DIRECT_UPLOAD_LIMIT:
        gitlab.warn(f"{output} is {_mb(size)} zipped, above the 50 MB of a direct upload: deploy will upload "
                    "it through S3 (set the deploy's s3_bucket input)")
    return 0


def _warn_timestamped_bytecode(members: Sequence[Member]) -> None:
    """A .pyc's header holds its source's mtime unless it was compiled hash-based (PEP 552: bit 0 of the
    flags word after the magic number), so kept .pyc files made the default way change the zip's bytes
    whenever the sources are touched, and every pipeline would publish a new version."""
    stamped = []
    for member in members:
        if member.name.endswith(".pyc"):
            with open(member.path, "rb") as pyc:
                header = pyc.read(8)
            if len(header) == 8 and not int.from_bytes(header[4:], "little") & 1:
                stamped.append(member.name)
    if stamped:
        gitlab.warn(f"{len(stamped)} kept .pyc files hold their sources' mtimes (e.g. {stamped[0]}), so the zip "
                    "changes whenever the sources are touched: compile them with "
                    "`python -m compileall --invalidation-mode unchecked-hash`")


def _build_info(source: Path) -> dict[str, str | None]:
    path = build_info_path(source)
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    return {"runtime": recorded.get("runtime"), "architecture": recorded.get("architecture")}
