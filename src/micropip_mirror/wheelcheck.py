"""What a file must be when no hash vouches for it: a wheel that is a readable
zip holding the .dist-info its file name promises, or core metadata naming the
project and version of its wheel. Also: METADATA read out of a verified wheel,
for mirrors that have no PEP 658 .metadata file."""

from __future__ import annotations

import io
import re
import zipfile

from .mirrors import canonical_name


class InvalidFile(ValueError):
    """The bytes are not the file they were fetched as."""


def wheel_name_version(filename: str) -> tuple[str, str]:
    """(project, version) from a wheel file name: name-version(-build)?-py-abi-plat.whl."""
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6):
        raise InvalidFile(f"{filename!r} is not a wheel file name")
    return parts[0], parts[1]


_RELEASE = re.compile(r"^(\d+(?:\.\d+)*)(.*)$")  # release numbers, then the rest


def _same_version(a: str, b: str) -> bool:
    """Equal as PEP 440 versions, for the forms wheel tools write (1.0 == 1.0.0, case)."""
    a, b = a.strip().lower().replace("_", "-"), b.strip().lower().replace("_", "-")
    if a == b:
        return True
    ma, mb = _RELEASE.match(a), _RELEASE.match(b)
    if not (ma and mb) or ma.group(2) != mb.group(2):
        return False
    na, nb = [int(x) for x in ma.group(1).split(".")], [int(x) for x in mb.group(1).split(".")]
    width = max(len(na), len(nb))
    return na + [0] * (width - len(na)) == nb + [0] * (width - len(nb))


def _dist_info(names: list[str], filename: str) -> str:
    """The wheel's ``<name>-<version>.dist-info`` folder that matches its file name."""
    project, version = wheel_name_version(filename)
    for name in names:
        top = name.split("/", 1)[0]
        if name == f"{top}/METADATA" and top.endswith(".dist-info"):
            dist, _, ver = top[: -len(".dist-info")].rpartition("-")
            if canonical_name(dist) == canonical_name(project) and _same_version(ver, version):
                return top
    raise InvalidFile(f"no {project}-{version}.dist-info/METADATA inside")


def check_wheel(data: bytes, filename: str) -> None:
    """Raise InvalidFile unless ``data`` is an intact zip with the right .dist-info."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            bad = zf.testzip()  # reads every member: a truncated or spliced file fails here
            if bad is not None:
                raise InvalidFile(f"corrupt member {bad!r}")
            _dist_info(zf.namelist(), filename)
    except InvalidFile:
        raise
    except Exception as e:  # zipfile on untrusted bytes: zlib.error, RuntimeError
        # (encrypted member), NotImplementedError (compression method), BadZipFile...
        raise InvalidFile(f"not a readable wheel ({type(e).__name__}: {e})") from None


def check_metadata(data: bytes, filename: str) -> None:
    """Raise InvalidFile unless ``data`` is core metadata for the wheel ``filename``."""
    project, version = wheel_name_version(filename)
    if b"\0" in data[:4096] or data[:2] == b"PK":
        raise InvalidFile("binary data, not core metadata")
    headers = metadata_headers(data)
    # strip(): values keep trailing blanks and the line break of a folded header
    name, ver = (headers.get(key, "").strip() for key in ("name", "version"))
    if not name or not ver or not headers.get("metadata-version"):
        raise InvalidFile("no Metadata-Version, Name and Version headers")
    if canonical_name(name) != canonical_name(project) or not _same_version(ver, version):
        raise InvalidFile(f"metadata is for {name} {ver}, not {project} {version}")


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")


def metadata_headers(data: bytes) -> dict[str, str]:
    """The first value of each header (by lower-case name) of core metadata, read
    as the stdlib's ``email.parser.BytesHeaderParser`` reads it: folded lines
    joined, a leading "From " line skipped, the block ended by a blank line or by
    a line that is no header. Not with that parser itself: Pyodide 314 ships the
    email package uncompiled, and importing it took 50-90 ms of every install."""
    lines = []
    for line in _LINE.findall(data.decode("ascii", "surrogateescape")):
        if not _HEADER_LINE.match(line):
            break
        lines.append(line)
    headers: dict[str, str] = {}
    current: list[str] = []

    def keep(header: list[str]) -> None:
        name, _, value = header[0].partition(":")
        value = (value.lstrip(" \t") + "".join(header[1:])).rstrip("\r\n")
        headers.setdefault(name.lower(), value)

    for line in lines:
        if line[0] in " \t":
            if current:
                current.append(line)
            continue
        if current:
            keep(current)
        current = []
        if line.startswith("From ") or line.startswith(":"):
            continue  # an envelope line, or a header without a name
        current = [line]
    if current:
        keep(current)
    return headers


def metadata_from_wheel(data: bytes, filename: str) -> bytes:
    """The METADATA file inside a wheel (what its PEP 658 .metadata would hold)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(_dist_info(zf.namelist(), filename) + "/METADATA")
    except InvalidFile:
        raise
    except Exception as e:  # as in check_wheel: zipfile fails in many ways
        raise InvalidFile(f"cannot read METADATA from the wheel ({type(e).__name__}: {e})") from None
