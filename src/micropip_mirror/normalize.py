"""Turn whatever a mirror answers into one project page, and that page into the
PEP 691 JSON every supported micropip parses the same way.

Accepted: PEP 691 JSON (api 1.x), PEP 503 HTML, the legacy JSON API
(/pypi/<name>/json), and JSON labelled application/json, text/plain or
application/octet-stream. File URLs come out absolute (relative ones resolved
against the final response URL) and http(s) only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from .errors import InvalidAnswer
from .mirrors import canonical_name

PEP691_JSON = "application/vnd.pypi.simple.v1+json"
_JSON_TYPES = {PEP691_JSON, "application/json", "text/json", "text/plain",
               "application/octet-stream", ""}
_HTML_TYPES = {"application/vnd.pypi.simple.v1+html", "text/html",
               "application/xhtml+xml", "text/plain", "application/octet-stream", ""}
_DIST_FILE = re.compile(r"\.(whl|tar\.gz|zip|tar\.bz2|tgz|egg)$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass
class FileEntry:
    filename: str
    url: str
    sha256: str | None = None
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: bool | dict = False
    size: int | None = None

    @property
    def version(self) -> str | None:
        """The version field of a wheel filename (None for other files)."""
        if not self.filename.endswith(".whl"):
            return None
        parts = self.filename[:-4].split("-")
        return parts[1] if len(parts) >= 5 else None


@dataclass
class ProjectPage:
    name: str
    files: list[FileEntry] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # entries dropped, and why

    def find(self, filename: str) -> FileEntry | None:
        return next((f for f in self.files if f.filename == filename), None)


def parse_answer(body: bytes, content_type: str, url: str, project: str) -> ProjectPage:
    """Parse a mirror's answer for ``project`` fetched from ``url`` (final URL).

    Raises InvalidAnswer for anything that is not a project page.
    """
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in _JSON_TYPES | _HTML_TYPES:
        raise InvalidAnswer(f"content type {ctype!r} is not an index page")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidAnswer(f"answer is not UTF-8 text ({ctype or 'no content type'})") from e
    head = text.lstrip()[:1]
    if head in ("{", "[") and ctype in _JSON_TYPES:
        page = _from_json(text, url, project)
    elif head == "<" and ctype in _HTML_TYPES:
        page = _from_html(text, url, project)
    else:
        raise InvalidAnswer(f"answer is neither JSON nor HTML ({ctype or 'no content type'}, "
                            f"starts {text[:20]!r})")
    if canonical_name(page.name) != canonical_name(project):
        raise InvalidAnswer(f"answer is for project {page.name!r}, not {project!r}")
    return page


def _from_json(text: str, url: str, project: str) -> ProjectPage:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InvalidAnswer(f"unparsable JSON ({e.msg} at char {e.pos})") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("JSON answer is not an object")
    if "files" in data:
        return _from_pep691(data, url, project)
    if "releases" in data or "urls" in data:
        return _from_legacy_json(data, url, project)
    raise InvalidAnswer("JSON answer has neither 'files' (PEP 691) nor 'releases' (JSON API)")


def _from_pep691(data: dict, url: str, project: str) -> ProjectPage:
    api = str(_dict(data.get("meta"), "meta").get("api-version", "1.0"))
    if not api.startswith("1."):
        raise InvalidAnswer(f"unsupported PEP 691 api-version {api}")
    files = data["files"]
    if not isinstance(files, list):
        raise InvalidAnswer("PEP 691 'files' is not a list")
    page = ProjectPage(name=_str(data.get("name", project), "name"))
    for raw in files:
        if not isinstance(raw, dict):
            raise InvalidAnswer("PEP 691 file entry is not an object")
        hashes = raw.get("hashes") or {}
        if not isinstance(hashes, dict):
            raise InvalidAnswer("PEP 691 'hashes' is not an object")
        meta = raw.get("core-metadata", raw.get("data-dist-info-metadata",
                                                raw.get("dist-info-metadata", False)))
        _add(page, url,
             filename=_str(raw.get("filename"), "filename"),
             href=_str(raw.get("url"), "url"),
             sha256=hashes.get("sha256"),
             requires_python=raw.get("requires-python"),
             yanked=raw.get("yanked", False),
             core_metadata=meta,
             size=raw.get("size"))
    return page


def _from_legacy_json(data: dict, url: str, project: str) -> ProjectPage:
    info = _dict(data.get("info"), "info")
    page = ProjectPage(name=_str(info.get("name", project), "info.name"))
    releases = data.get("releases")
    groups = releases.values() if isinstance(releases, dict) else [data.get("urls") or []]
    for group in groups:
        if not isinstance(group, list):
            raise InvalidAnswer("JSON API release is not a list")
        for raw in group:
            if not isinstance(raw, dict):
                raise InvalidAnswer("JSON API file entry is not an object")
            digests = raw.get("digests") or {}
            if not isinstance(digests, dict):
                raise InvalidAnswer("JSON API 'digests' is not an object")
            yanked = raw.get("yanked", False)
            if yanked and raw.get("yanked_reason"):
                yanked = raw["yanked_reason"]
            _add(page, url,
                 filename=_str(raw.get("filename"), "filename"),
                 href=_str(raw.get("url"), "url"),
                 sha256=digests.get("sha256"),
                 requires_python=raw.get("requires_python"),
                 yanked=yanked,
                 core_metadata=False,
                 size=raw.get("size"))
    return page


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[dict, list[str]]] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self._open = []
            self.anchors.append((dict(attrs), self._open))

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open.append(data)


def _from_html(text: str, url: str, project: str) -> ProjectPage:
    parser = _AnchorParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as e:  # html.parser is lenient; this is belt and braces
        raise InvalidAnswer(f"unparsable HTML ({e})") from None
    base = urljoin(url, parser.base) if parser.base else url
    page = ProjectPage(name=project)
    for attrs, text_parts in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        link, fragment = urldefrag(href)
        filename = "".join(text_parts).strip() or urlsplit(link).path.rsplit("/", 1)[-1]
        if not _DIST_FILE.search(filename):
            continue
        algo, _, digest = fragment.partition("=")
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        yanked = attrs.get("data-yanked")
        _add(page, base,
             filename=filename,
             href=link,
             sha256=digest if algo == "sha256" else None,
             requires_python=attrs.get("data-requires-python"),
             yanked=(yanked or True) if yanked is not None else False,
             core_metadata=_html_meta(meta),
             size=None)
    if not page.files and not page.refused:
        raise InvalidAnswer("HTML page lists no distribution files "
                            "(a login, error or captive-portal page?)")
    return page


def _html_meta(value: str | None) -> bool | dict:
    if value is None:
        return False
    algo, _, digest = value.partition("=")
    if algo == "sha256" and digest:
        return {"sha256": digest}
    return value.strip().lower() != "false"


def _add(page: ProjectPage, base: str, *, filename, href, sha256, requires_python,
         yanked, core_metadata, size) -> None:
    file_url = urljoin(base, href)
    scheme = urlsplit(file_url).scheme
    if scheme not in ("http", "https"):
        page.refused.append(f"{filename}: refused {scheme or 'relative'} URL {href!r}")
        return
    if "/" in filename or "\\" in filename or filename in ("", ".", ".."):
        page.refused.append(f"refused file name {filename!r}")
        return
    if sha256 is not None and not (isinstance(sha256, str) and _HEX64.match(sha256)):
        sha256 = None  # empty or malformed digests carry no information
    if not isinstance(requires_python, str) or not requires_python.strip():
        requires_python = None
    if not isinstance(yanked, bool | str):
        yanked = bool(yanked)
    if not isinstance(core_metadata, bool | dict):
        core_metadata = bool(core_metadata)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        size = None
    page.files.append(FileEntry(filename, file_url, sha256.lower() if sha256 else None,
                                requires_python, yanked, core_metadata, size))


def _dict(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidAnswer(f"{what!r} is not an object")
    return value


def _str(value, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidAnswer(f"missing or non-string {what!r}")
    return value


def to_pep691_json(page: ProjectPage) -> str:
    """Render the page as PEP 691 JSON (api 1.0) with absolute http(s) URLs.

    Both core-metadata spellings are written: micropip 0.9+ reads either. No
    metadata is written as null, not false: micropip 0.9-0.11 takes any value
    but None as "available" and would fetch a .metadata file that is not there.
    """
    files = []
    for f in page.files:
        entry = {
            "filename": f.filename,
            "url": f.url,
            "hashes": {"sha256": f.sha256} if f.sha256 else {},
            "requires-python": f.requires_python,
            "yanked": f.yanked,
            "core-metadata": f.core_metadata or None,
            "data-dist-info-metadata": f.core_metadata or None,
        }
        if f.size is not None:
            entry["size"] = f.size
        files.append(entry)
    return json.dumps({"meta": {"api-version": "1.0"}, "name": page.name, "files": files})
