"""Turn whatever a mirror answers into one project page, and that page into the
PEP 691 JSON every supported micropip parses the same way.

Accepted: PEP 691 JSON (api 1.x), PEP 503 HTML, the legacy JSON API
(/pypi/<name>/json), and JSON labelled application/json, text/plain or
application/octet-stream; bytes that are not UTF-8 are replaced, as the
fetch().text() plain micropip reads pages with does. File URLs come out absolute
(relative ones resolved against the final response URL or the page's <base href>),
http(s) only, with their percent-encoding untouched and without a fragment: a
``#sha256=...`` fragment becomes the file's hash when the answer gives none otherwise.
A file's PEP 658 metadata counts as available only when the mirror says so
(``true`` or a hash); ``false`` or no key means it is not.

Files micropip can never install in this runtime (see ``micropip_could_install``;
for the legacy JSON API, non-wheels) are counted and left out before any other work: on a big page (pypi.org lists
thousands of sdists and platform wheels) they are nearly all of it, and parsing,
rendering and re-parsing them cost b most of its time over plain micropip.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from .errors import InvalidAnswer
from .mirrors import canonical_name

PEP691_JSON = "application/vnd.pypi.simple.v1+json"
_JSON_TYPES = {PEP691_JSON, "application/json", "text/json", "text/plain",
               "application/octet-stream", ""}
_HTML_TYPES = {"application/vnd.pypi.simple.v1+html", "text/html",
               "application/xhtml+xml", "text/plain", "application/octet-stream", ""}
_DIST_FILE = re.compile(r"\.(whl|tar\.gz|zip|tar\.bz2|tgz|egg)$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]+$")

# Hash algorithms PEP 503 allows in a URL fragment, strongest first, with their hex length.
HASH_ALGORITHMS = {"sha256": 64, "sha512": 128, "sha384": 96, "sha224": 56, "sha1": 40, "md5": 32}


@dataclass
class FileEntry:
    filename: str
    url: str  # absolute http(s), no fragment
    hashes: dict[str, str] = field(default_factory=dict)  # algorithm -> lower-case hex
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: dict | bool | None = None  # None: no .metadata announced; True or its hashes
    size: int | None = None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def best_hash(self) -> tuple[str, str] | None:
        """(algorithm, digest) of the strongest hash known for the file."""
        return best_hash(self.hashes)

    @property
    def version(self) -> str | None:
        return wheel_version(self.filename)


def wheel_version(filename: str) -> str | None:
    """The version field of a wheel filename (None for other files)."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    return parts[1] if len(parts) >= 5 else None


@dataclass
class ProjectPage:
    name: str
    files: list[FileEntry] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # entries dropped, and why
    # Names of the files left out: micropip could never install them here.
    skipped: list[str] = field(default_factory=list)

    def find(self, filename: str) -> FileEntry | None:
        return next((f for f in self.files if f.filename == filename), None)


def micropip_could_install(filename: str) -> bool:
    """Whether micropip could ever choose this file here. It is micropip's own
    first check (``_fast_check_incompatibility``, the same in 0.6-0.11, with
    the wasm32 rule of 0.9+): only a ``.whl`` named for ``sys.platform``
    ("emscripten" in Pyodide), for any platform, or for wasm32 passes; micropip
    never looks further at the others, so leaving them out changes nothing it
    can install, nor its error when nothing fits."""
    if not filename.endswith(".whl"):
        return False
    platform = sys.platform
    return (platform in filename or filename.endswith("-none-any.whl")
            or (platform == "emscripten" and filename.endswith("wasm32.whl")))


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
        # Plain micropip reads pages with fetch().text(), which replaces bad bytes: a
        # page with a stray non-UTF-8 byte (a Latin-1 footer or comment) works there.
        text = body.decode("utf-8-sig", "replace")
        if text.lstrip()[:1] not in ("{", "[", "<"):
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
    except json.JSONDecodeError as e:
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
        filename = _str(raw.get("filename"), "filename")
        if not micropip_could_install(filename):
            page.skipped.append(filename)
            continue
        hashes = raw.get("hashes") or {}
        if not isinstance(hashes, dict):
            raise InvalidAnswer("PEP 691 'hashes' is not an object")
        meta = _first_present(raw, "core-metadata", "data-dist-info-metadata", "dist-info-metadata")
        _add(page, url,
             filename=filename,
             href=_str(raw.get("url"), "url"),
             hashes=hashes,
             requires_python=raw.get("requires-python"),
             yanked=raw.get("yanked", False),
             core_metadata=_json_meta(meta),
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
            filename = _str(raw.get("filename"), "filename")
            if not filename.endswith(".whl"):  # micropip reads this API without its first
                page.skipped.append(filename)    # check, so only non-wheels are sure to be out
                continue
            digests = raw.get("digests") or {}
            if not isinstance(digests, dict):
                raise InvalidAnswer("JSON API 'digests' is not an object")
            yanked = raw.get("yanked", False)
            if yanked and raw.get("yanked_reason"):
                yanked = raw["yanked_reason"]
            _add(page, url,
                 filename=filename,
                 href=_str(raw.get("url"), "url"),
                 hashes=digests,
                 requires_python=raw.get("requires_python"),
                 yanked=yanked,
                 core_metadata=None,  # the JSON API says nothing of PEP 658 files
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
    base = _join(url, parser.base) if parser.base else url
    base = base or url  # a base that is no URL is ignored, as browsers ignore it
    page = ProjectPage(name=project)
    for attrs, text_parts in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        path = href.split("#", 1)[0].split("?", 1)[0]
        filename = "".join(text_parts).strip() or unquote(path.rsplit("/", 1)[-1])
        if not _DIST_FILE.search(filename):
            continue
        if not micropip_could_install(filename):
            page.skipped.append(filename)
            continue
        meta = _first_present(attrs, "data-core-metadata", "data-dist-info-metadata")
        yanked = attrs.get("data-yanked")
        _add(page, base,
             filename=filename,
             href=href,
             hashes={},
             requires_python=attrs.get("data-requires-python"),
             yanked=(yanked or True) if yanked is not None else False,
             core_metadata=_html_meta(meta),
             size=None)
    if not page.files and not page.refused and not page.skipped:
        raise InvalidAnswer("HTML page lists no distribution files "
                            "(a login, error or captive-portal page?)")
    return page


_ABSENT = object()


def _first_present(mapping: dict, *keys):
    """The value of the first key present (a key present with a false value counts)."""
    return next((mapping[k] for k in keys if k in mapping), _ABSENT)


def _json_meta(value) -> dict | bool | None:
    """PEP 691/714: a dict of hashes or true means a .metadata file exists;
    false, null or no key means it does not."""
    if value is _ABSENT or value is None or value is False:
        return None
    if isinstance(value, dict):
        return _clean_hashes(value)
    return True if value else None


def _html_meta(value) -> dict | bool | None:
    """PEP 658/714: the attribute's presence announces the file; its value
    may be "<algorithm>=<hex>". "false" is read as absence, like JSON false."""
    if value is _ABSENT:
        return None
    value = (value or "").strip()
    if value.lower() == "false":
        return None
    algo, _, digest = value.partition("=")
    return _clean_hashes({algo: digest}) or True


def _clean_hashes(raw: dict) -> dict[str, str]:
    """Only well-formed hex digests of known algorithms carry information."""
    clean = {}
    for algo, digest in raw.items():
        algo = str(algo).lower()
        if (algo in HASH_ALGORITHMS and isinstance(digest, str)
                and len(digest) == HASH_ALGORITHMS[algo] and _HEX.match(digest)):
            clean[algo] = digest.lower()
    return clean


def best_hash(hashes: dict[str, str]) -> tuple[str, str] | None:
    """(algorithm, digest) of the strongest of ``hashes``, None if there is none."""
    return next(((a, hashes[a]) for a in HASH_ALGORITHMS if hashes.get(a)), None)


def _add(page: ProjectPage, base: str, *, filename, href, hashes, requires_python,
         yanked, core_metadata, size) -> None:
    link, fragment = href.split("#", 1) if "#" in href else (href, "")
    if is_plain_url(link):
        file_url = link  # what urljoin would return, at a fraction of its cost
    else:
        # As a browser reads a link (WHATWG URL): urljoin removes these only when the
        # link's scheme is the base's, and hands any other link back as it is.
        link = link.strip(_C0_AND_SPACE).translate(_TAB_AND_NEWLINE)
        file_url = _join(base, link)
        if file_url is None:  # one malformed link (e.g. "http://[x/") must not sink the page
            page.refused.append(f"{filename}: refused malformed URL {href!r}")
            return
        scheme = urlsplit(file_url).scheme
        if scheme not in ("http", "https"):
            page.refused.append(f"{filename}: refused {scheme or 'relative'} URL {href!r}")
            return
    if "/" in filename or "\\" in filename or filename in ("", ".", ".."):
        page.refused.append(f"refused file name {filename!r}")
        return
    hashes = _clean_hashes(hashes)
    if not hashes and fragment:  # PEP 503: "#<algorithm>=<hex>" on the link
        algo, _, digest = fragment.partition("=")
        hashes = _clean_hashes({algo: digest})
    if not isinstance(requires_python, str) or not requires_python.strip():
        requires_python = None
    if not isinstance(yanked, bool | str):
        yanked = bool(yanked)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        size = None
    page.files.append(FileEntry(filename, file_url, hashes, requires_python, yanked,
                                core_metadata, size))


# An absolute http(s) URL that urllib hands back unchanged: lower-case scheme, a plain
# host and port, a path of characters urlsplit never strips, splits on or checks (no
# query, fragment, ";" params, brackets, spaces or non-ASCII), and no dot segments.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?/[A-Za-z0-9_~%!$&'()*+,=:@/.-]*")


_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_AND_NEWLINE = dict.fromkeys(map(ord, "\t\n\r"))


def is_plain_url(link: str) -> bool:
    """Whether ``link`` needs no resolving: most mirrors list such absolute URLs,
    and urljoin + urlsplit on each of thousands of them is most of a page's cost."""
    return _PLAIN_URL.fullmatch(link) is not None and "/." not in link


def _join(base: str, link: str) -> str | None:
    """``link`` resolved against ``base``; None when it is no URL (urllib raises)."""
    try:
        joined = urljoin(base, link)
        urlsplit(joined)
    except ValueError:
        return None
    return joined


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

    Metadata is announced (as ``true``, in both spellings micropip 0.9+ reads)
    only for files a mirror announced it for: micropip takes any value but
    an absent key, even ``false``, for "available". Its hash stays with us: the
    router checks the .metadata, and may answer from the verified wheel instead.
    """
    files: list[dict[str, Any]] = []
    for f in page.files:
        entry: dict[str, Any] = {
            "filename": f.filename,
            "url": f.url,
            "hashes": dict(f.hashes),
            "requires-python": f.requires_python,
            "yanked": f.yanked,
        }
        if f.core_metadata is not None:
            entry["core-metadata"] = entry["data-dist-info-metadata"] = True
        if f.size is not None:
            entry["size"] = f.size
        files.append(entry)
    return json.dumps({"meta": {"api-version": "1.0"}, "name": page.name, "files": files})
