"""Index servers shaped like the real mirrors, each rendering pages for the test projects.

Why: the real servers in the fleet (simple-repository-server, pypiserver, proxpi) show
only their own shapes.  What users meet is wider: pypi.org's PEP 691 JSON (metadata
hashes as dicts, ``provenance``, ``upload-time``, files on another host), TUNA's JSON
(``; charset=utf-8``, relative ``../../packages/...`` URLs, no ``core-metadata`` key),
Aliyun/Tencent HTML (relative links, no metadata attributes, ``&gt;=`` escaped), the
legacy JSON API, and file-level quirks (hash only in the URL fragment, no hash at all,
``.metadata`` advertised but missing, or with another hash, a page of thousands of
files sent slowly).  One stdlib handler renders every shape from one catalogue of the
projects on disk (projects.py); each shape is a server on its own port (its own origin),
started inside the fault-server process.

Files live at ``/packages/<aa>/<bb>/<rest of sha256>/<file name, percent-encoded>``
(PyPI's layout; ``+`` is ``%2B``, ``!`` is ``%21``) on every shaped server;
``.metadata`` next to each wheel as the shape's metadata policy says.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

try:
    from .cors_proxy import BaseHandler
    from .projects import SHAPE_ATTRS, normalize
except ImportError:  # run inside fault_server.py as a script
    from cors_proxy import BaseHandler
    from projects import SHAPE_ATTRS, normalize

PEP691 = "application/vnd.pypi.simple.v1+json"
FILES_HOST = "pypi-files"  # the shape whose origin plays files.pythonhosted.org
HUGE_FILES = 5000  # extra (older, absent) files on a "huge" page: about 1.8 MB of JSON
UPLOAD_TIME = "2020-01-01T00:00:00.000000Z"
OTHER_METADATA = b"Metadata-Version: 2.1\nName: mm-other\nVersion: 9.9\n\n"
GARBAGE = b"<!DOCTYPE html><html><body><h1>Mirror maintenance</h1></body></html>\n"


@dataclass(frozen=True)
class Shape:
    """How one server renders pages.

    links: "host" (absolute, on the pypi-files origin), "own" (absolute, own origin),
      "relative" (``../../packages/...``), "root" (``/packages/...``), "base" (HTML:
      ``<base href>`` naming the pypi-files origin, links ``packages/...`` relative to it).
    hashes: "field" (``hashes``/``digests``; ``#sha256=`` in HTML), "fragment" (JSON with
      ``"hashes": {}`` and ``#sha256=`` in the URL), "none".
    metadata: "none" (not advertised, 404), "served" (advertised with its sha256),
      "false" (``core-metadata: false``, 404, as pypi.org says for wheels without it),
      "missing" (advertised, 404), "badhash" (advertised with another sha256, served),
      "mixup" (advertised with the right sha256 of what is served: another project's metadata),
      "garbage" (advertised as ``true``, no hash; an HTML page is served).
    wheels: "genuine", "garbage" (HTTP 200 with an HTML page instead of the wheel), "swapped"
      (every wheel URL serves the same genuine wheel of another project, mm-lib-c 1.0.0), or
      "redirect" (302 to the same path on the pypi-files origin, as a file host behind a CDN).
    file_rate: bytes per second for files (0: all at once).
    """

    format: str  # "json" (PEP 691), "html" (PEP 503), "legacy" (/pypi/<name>/json)
    describe: str
    links: str = "own"
    hashes: str = "field"
    metadata: str = "none"
    content_type: str = ""
    pypi_extras: bool = False  # provenance, size, upload-time, api-version 1.1 + versions
    wheels: str = "genuine"
    quirky: bool = False  # HTML written as some self-hosted servers do (see render_html)
    huge: tuple = ()  # projects whose page carries HUGE_FILES extra files
    rate: int = 0  # bytes per second for index pages (0: all at once)
    file_rate: int = 0


SHAPES: dict[str, Shape] = {
    "pypi-json": Shape("json", "pypi.org-shaped PEP 691 JSON: core-metadata dicts, provenance, "
                       "upload-time, size; files on another origin", links="host", metadata="served",
                       pypi_extras=True),
    FILES_HOST: Shape("json", "files host (files.pythonhosted.org) of pypi-json and legacy-json",
                      metadata="served"),
    "pypi-html": Shape("html", "pypi.org-shaped HTML: data-core-metadata and data-dist-info-metadata, "
                       "files on another origin", links="host", metadata="served"),
    "base-href-html": Shape("html", "HTML whose <base href> puts the relative links on another origin",
                            links="base"),
    "tuna-json": Shape("json", "TUNA-shaped JSON: '; charset=utf-8', relative ../../packages/ URLs, "
                       "no core-metadata key", links="relative", content_type=PEP691 + "; charset=utf-8"),
    "aliyun-html": Shape("html", "Aliyun/Tencent-shaped HTML: relative ../../packages/ links with "
                         "#sha256=, no metadata attributes, &gt;= escaped", links="relative",
                         content_type="text/html"),
    "quirky-html": Shape("html", "HTML in capitals, single quotes, data-* before HREF, a query "
                         "string with &amp;", links="relative", quirky=True),
    "legacy-json": Shape("legacy", "legacy JSON API (/pypi/<name>/json), files on another origin",
                         links="host", content_type="application/json"),
    "fragment-json": Shape("json", "PEP 691 JSON, hash only in the URL fragment ('hashes': {})",
                           hashes="fragment"),
    "nohash-html": Shape("html", "HTML links /packages/... with no hash at all", links="root",
                         hashes="none"),
    "metadata-false": Shape("json", "pypi.org's answer for wheels without metadata: "
                            "'core-metadata': false, .metadata 404", metadata="false", pypi_extras=True),
    "metadata-404": Shape("json", ".metadata advertised (with its sha256) but HTTP 404",
                          metadata="missing"),
    "metadata-badhash": Shape("json", ".metadata served, its sha256 differs from the advertised one",
                              metadata="badhash"),
    "metadata-mixup": Shape("json", ".metadata of another project (Name: mm-other), its sha256 "
                            "advertised", metadata="mixup"),
    "garbage-nohash": Shape("json", "no hashes, and every wheel URL answers 200 with an HTML page",
                            hashes="none", wheels="garbage"),
    "metadata-garbage": Shape("json", "'core-metadata': true (no hash); .metadata answers 200 with an "
                              "HTML page", metadata="garbage"),
    "swapped-nohash": Shape("json", "no hashes, every wheel URL serves mm-lib-c 1.0.0's wheel",
                            hashes="none", wheels="swapped"),
    "files-redirect": Shape("json", "every file URL answers 302 to the files host", wheels="redirect",
                            metadata="served"),
    "slow-files": Shape("json", "files sent at a steady 200 KB/s", metadata="served", file_rate=200_000),
    "huge-slow": Shape("json", f"mm-app's page lists {HUGE_FILES} files (~1.8 MB), sent at a steady "
                       "400 KB/s", metadata="served", huge=("mm-app",), rate=400_000),
}


def index_path(shape: str) -> str:
    """Index root path of a shaped server (what goes into index_urls after the origin)."""
    return "/pypi/{package_name}/json" if SHAPES[shape].format == "legacy" else "/simple"


# --- the catalogue of files on disk ------------------------------------------------------------

def _parse(filename: str) -> tuple[str, str] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith(".tar.gz"):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except ValueError:
        return None
    return str(name), str(version)


def _wheel_metadata(path: Path, filename: str) -> bytes | None:
    if not filename.endswith(".whl"):
        return None
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return zf.read(names[0]) if names else None


def _requires_python(metadata: bytes | None) -> str | None:
    found = re.search(rb"^Requires-Python: *(.+)$", metadata or b"", re.M)
    return found.group(1).decode().strip() if found else None


class Catalogue:
    """Every distribution file under the given folders (``<dir>/<project>/<file>``)."""

    def __init__(self, dirs):
        self.projects: dict[str, list[dict]] = {}
        self.by_path: dict[str, dict] = {}
        for folder in dirs:
            for path in sorted(Path(folder).glob("*/*")):
                parsed = _parse(path.name)
                if not path.is_file() or parsed is None:
                    continue
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                metadata = _wheel_metadata(path, path.name)
                name, version = normalize(parsed[0]), parsed[1]
                entry = {
                    "project": name,
                    "filename": path.name,
                    "version": version,
                    "path": path,
                    "sha256": digest,
                    "md5": hashlib.md5(data).hexdigest(),
                    "size": len(data),
                    "metadata": metadata,
                    "requires_python": _requires_python(metadata),
                    "yanked": SHAPE_ATTRS.get((name, version), {}).get("yanked", False),
                    "urlpath": f"/packages/{digest[:2]}/{digest[2:4]}/{digest[4:32]}/{quote(path.name)}",
                }
                self.projects.setdefault(name, []).append(entry)
                self.by_path[entry["urlpath"]] = entry


def _huge_entries(project: str) -> list[dict]:
    """Older versions that exist only on the page (never chosen: 2.0.0 is newer)."""
    module = project.replace("-", "_")
    out = []
    for i in range(HUGE_FILES):
        digest = hashlib.sha256(f"{project}-{i}".encode()).hexdigest()
        name = f"{module}-0.0.{i}-py3-none-any.whl"
        out.append({"project": project, "filename": name, "version": f"0.0.{i}", "sha256": digest,
                    "md5": digest[:32], "size": 1000 + i, "metadata": b"", "requires_python": ">=3.8",
                    "yanked": False,
                    "urlpath": f"/packages/{digest[:2]}/{digest[2:4]}/{digest[4:32]}/{name}"})
    return out


# --- rendering ---------------------------------------------------------------------------------

def _metadata_fields(entry: dict, shape: Shape) -> dict:
    """PEP 691 metadata keys (PEP 714's core-metadata and the older name) for one file."""
    policy = shape.metadata
    if policy == "none":
        return {}
    if policy == "false" or not entry["metadata"]:
        value = False
    elif policy == "badhash":
        value = {"sha256": hashlib.sha256(b"not this metadata").hexdigest()}
    elif policy == "mixup":
        value = {"sha256": hashlib.sha256(OTHER_METADATA).hexdigest()}
    elif policy == "garbage":
        value = True
    else:
        value = {"sha256": hashlib.sha256(entry["metadata"]).hexdigest()}
    return {"core-metadata": value, "data-dist-info-metadata": value}


class ShapedIndexHandler(BaseHandler):
    """Renders ``/simple/<project>/``, ``/pypi/<project>/json`` and ``/packages/...``."""

    shape: Shape
    shape_name = ""
    catalogue: Catalogue
    origins: dict = {}  # shape name -> origin, filled once every server is bound

    def do_GET(self):
        path = urlsplit(self.path).path
        if path.startswith("/packages/"):
            return self.send_file(path)
        match = re.fullmatch(r"/simple/([^/]+)/?|/pypi/([^/]+)/json/?", path)
        project = normalize(unquote(match.group(1) or match.group(2))) if match else ""
        if match and match.group(1) and path != f"/simple/{project}/":  # as pypi.org: 301 to the
            location = f"/simple/{project}/"  # normalized name with its slash
            return self.send_simple(301, b"", "text/plain", {"Location": location})
        files = self.catalogue.projects.get(project)
        legacy = match is not None and match.group(2) is not None
        if not files or legacy != (self.shape.format == "legacy"):
            return self.send_simple(404, b"Not Found\n", "text/plain")
        if project in self.shape.huge:
            files = _huge_entries(project) + files
        body, ctype = self.render(project, files)
        self.send_paced(body, self.shape.content_type or ctype, self.shape.rate)

    do_HEAD = do_GET

    # --- files ---
    def send_file(self, path: str):
        is_metadata = path.endswith(".metadata")
        entry = self.catalogue.by_path.get(path[: -len(".metadata")] if is_metadata else path)
        if entry is None:
            return self.send_simple(404, b"Not Found\n", "text/plain")
        if self.shape.wheels == "redirect":
            return self.send_simple(302, b"", "text/plain", {"Location": self.origins[FILES_HOST] + path})
        if not is_metadata:
            if self.shape.wheels == "garbage":
                return self.send_simple(200, GARBAGE, "text/html")
            if self.shape.wheels == "swapped":
                other = next(e for e in self.catalogue.projects["mm-lib-c"] if e["version"] == "1.0.0")
                return self.send_simple(200, other["path"].read_bytes(), "application/octet-stream")
            return self.send_paced(entry["path"].read_bytes(), "application/octet-stream", self.shape.file_rate)
        if self.shape.metadata == "mixup" and entry["metadata"]:
            return self.send_simple(200, OTHER_METADATA, "application/octet-stream")
        if self.shape.metadata == "garbage" and entry["metadata"]:
            return self.send_simple(200, GARBAGE, "text/html")
        if self.shape.metadata in ("served", "badhash") and entry["metadata"]:
            return self.send_simple(200, entry["metadata"], "application/octet-stream")
        self.send_simple(404, b"Not Found\n", "text/plain")

    def send_paced(self, body: bytes, content_type: str, rate: int):
        """All at once, or at ``rate`` bytes per second in tenths of a second."""
        if not rate:
            return self.send_simple(200, body, content_type)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        step = rate // 10
        for start in range(0, len(body), step):
            self.wfile.write(body[start:start + step])
            self.wfile.flush()
            time.sleep(0.1)

    # --- pages ---
    def url(self, entry: dict) -> str:
        links = self.shape.links
        if links == "host":
            return self.origins[FILES_HOST] + entry["urlpath"]
        if links == "own":
            return self.origins[self.shape_name] + entry["urlpath"]
        if links == "relative":
            return "../.." + entry["urlpath"]
        if links == "base":
            return entry["urlpath"].lstrip("/")
        return entry["urlpath"]

    def render(self, project: str, files: list[dict]) -> tuple[bytes, str]:
        if self.shape.format == "html":
            return self.render_html(project, files).encode(), "text/html; charset=utf-8"
        if self.shape.format == "legacy":
            return json.dumps(self.render_legacy(project, files)).encode(), "application/json"
        return json.dumps(self.render_pep691(project, files)).encode(), PEP691

    def render_pep691(self, project: str, files: list[dict]) -> dict:
        shape = self.shape
        out_files = []
        for entry in files:
            url, hashes = self.url(entry), {"sha256": entry["sha256"]}
            if shape.hashes == "fragment":
                url, hashes = f"{url}#sha256={entry['sha256']}", {}
            elif shape.hashes == "none":
                hashes = {}
            item = {"filename": entry["filename"], "url": url, "hashes": hashes}
            if entry["requires_python"]:
                item["requires-python"] = entry["requires_python"]
            item.update(_metadata_fields(entry, shape))
            item["yanked"] = entry["yanked"]
            if shape.pypi_extras:
                item.update({"provenance": None, "size": entry["size"], "upload-time": UPLOAD_TIME})
            out_files.append(item)
        page = {"meta": {"api-version": "1.0"}, "name": project, "files": out_files}
        if shape.pypi_extras:
            page["meta"] = {"_last-serial": 1, "api-version": "1.1"}
            page["versions"] = sorted({e["version"] for e in files}, key=Version)
        return page

    def render_html(self, project: str, files: list[dict]) -> str:
        """PEP 503 HTML; ``quirky``: upper-case tags, single quotes, data-* before HREF,
        rel='internal' and a query string with ``&amp;`` (as Nexus/Artifactory-style pages)."""
        quirky = self.shape.quirky
        lines = [] if quirky else ['<!DOCTYPE html>']
        lines.append('<HTML><HEAD>' if quirky else '<html><head><meta name="pypi:repository-version" content="1.0">')
        if self.shape.links == "base":
            lines.append(f'<base href="{self.origins[FILES_HOST]}/">')
        lines.append(f"<TITLE>Links for {project}</TITLE></HEAD><BODY>" if quirky else
                     f"<title>Links for {project}</title></head><body><h1>Links for {project}</h1>")
        q = "'" if quirky else '"'
        for entry in files:
            href = self.url(entry) + ("?mirror=1&x=2" if quirky else "")
            if self.shape.hashes != "none":
                href += f"#sha256={entry['sha256']}"
            attrs = []
            if entry["requires_python"]:
                attrs.append(("data-requires-python", entry["requires_python"]))
            if entry["yanked"]:  # PEP 592: an empty value is "yanked, no reason given"
                attrs.append(("data-yanked", "" if entry["yanked"] is True else entry["yanked"]))
            for key, value in _metadata_fields(entry, self.shape).items():
                if value:
                    attrs.append((f'data-{key.removeprefix("data-")}', f"sha256={value['sha256']}"))
            attrs = [("rel", "internal"), *attrs, ("HREF", href)] if quirky else [("href", href), *attrs]
            text = " ".join(f"{k}={q}{html.escape(v)}{q}" for k, v in attrs)
            tag = "A" if quirky else "a"
            lines.append(f"<{tag} {text}>{html.escape(entry['filename'])}</{tag}>" + ("<BR>" if quirky else "<br/>"))
        return "\n".join(lines + ["</BODY></HTML>" if quirky else "</body></html>", ""])

    def render_legacy(self, project: str, files: list[dict]) -> dict:
        releases: dict[str, list] = {}
        for entry in files:
            releases.setdefault(entry["version"], []).append({
                "filename": entry["filename"],
                "url": self.url(entry),
                "digests": {"md5": entry["md5"], "sha256": entry["sha256"]} if self.shape.hashes != "none" else {},
                "packagetype": "bdist_wheel" if entry["filename"].endswith(".whl") else "sdist",
                "python_version": "py3" if entry["filename"].endswith(".whl") else "source",
                "requires_python": entry["requires_python"],
                "size": entry["size"],
                "upload_time_iso_8601": UPLOAD_TIME,
                "yanked": bool(entry["yanked"]),
                "yanked_reason": entry["yanked"] if isinstance(entry["yanked"], str) else None,
            })
        good = [v for v in releases if not any(f["yanked"] for f in releases[v])] or list(releases)
        latest = max(good, key=Version)
        return {
            "info": {"name": project.replace("-", "_"), "version": latest,  # a display name "summary": f"test project {project}",
                     "requires_python": releases[latest][0]["requires_python"]},
            "last_serial": 1,
            "releases": releases,
            "urls": releases[latest],
        }


def start_shaped_servers(dirs, start_server, log_sink=None) -> dict:
    """Start one server per shape (``start_server`` from cors_proxy); returns name -> server."""
    catalogue = Catalogue(dirs)
    origins: dict[str, str] = {}
    servers = {}
    for name, shape in SHAPES.items():
        handler = type(f"Shaped_{name}", (ShapedIndexHandler,), {
            "shape": shape, "shape_name": name, "catalogue": catalogue, "origins": origins})
        servers[name] = start_server(handler, name, log_sink)
        origins[name] = f"http://127.0.0.1:{servers[name].server_port}"
    return servers
