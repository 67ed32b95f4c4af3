"""Where fallback happens: project pages and files, each from the first mirror
that gives a valid answer, with health memory, a short cache and a record."""

from __future__ import annotations

import array
import asyncio
import hashlib
import itertools
from dataclasses import dataclass

from .cache import AnswerCache
from .errors import AllMirrorsFailed, AttemptFailed, InvalidAnswer
from .health import Health
from .mirrors import PYPI, PYPI_FILES, Mirror, canonical_name
from .normalize import FileEntry, ProjectPage, parse_answer
from .policy import Policy
from .race import NoneSucceeded, first_success, lost_race
from .report import Attempt, Record, Report
from .transport import Response, default_transport

ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.1, */*;q=0.01")
_METADATA = ".metadata"
# Wheel URLs remembered for fallback and hash checks: enough for many installs
# of the largest projects, bounded for a long session.
MAX_KNOWN_FILES = 20_000


class _NotFound(AttemptFailed):
    """A 404: the mirror lacks the project. Cached, but no mark against its health."""


@dataclass
class _KnownFile:
    project: str
    entry: FileEntry
    mirror: Mirror


class Router:
    def __init__(self, mirrors: list[Mirror], policy: Policy, transport=None,
                 report: Report | None = None):
        self.mirrors = list(mirrors)
        self.policy = policy
        self.transport = transport or default_transport()
        self.health = Health(policy.cooldown)
        self.cache = AnswerCache(policy.cache_ttl)
        self.report = report if report is not None else Report()
        self._files: dict[str, _KnownFile] = {}
        self._answered: set[Mirror] = set()  # mirrors that gave a valid answer this session

    def _hedge_for(self, order: list[Mirror]) -> float | None:
        """hedge_after once the first mirror in line has proved itself; until
        then the shorter first_hedge_after (a dead first mirror costs little)."""
        hedge, first = self.policy.hedge_after, self.policy.first_hedge_after
        if hedge is None or first is None or (order and order[0] in self._answered):
            return hedge
        return min(hedge, first)

    # -- which requests are ours -------------------------------------------------

    def match(self, url: str) -> str | None:
        """The project an index URL asks for, when the URL is one of our mirrors'
        or micropip's default (pypi.org), which stands for the whole list."""
        for mirror in (PYPI, *self.mirrors):
            project = mirror.match(url)
            if project:
                return canonical_name(project)
        return None

    # -- project pages -----------------------------------------------------------

    async def project_page(self, project: str, requirement=None) -> ProjectPage:
        """The page of the first mirror whose answer is valid and, when a
        requirement is given, offers a wheel it accepts (a lagging mirror that
        lacks the version does not block a mirror that has it)."""
        project = canonical_name(project)
        record = Record("index", project)
        self.report.append(record)
        lacking: list[tuple[Mirror, ProjectPage]] = []

        async def attempt(mirror: Mirror, answering) -> ProjectPage:
            page, tried = await self._fetch_page(mirror, project, record, answering)
            if requirement is not None and not _offers(page, requirement):
                lacking.append((mirror, page))
                tried.outcome, tried.reason = "stale", f"no wheel matching {requirement}"
                raise AttemptFailed(tried.reason)
            return page

        try:
            order = self.health.order(self.mirrors)
            mirror, page = await first_success(order, attempt, self._hedge_for(order))
        except NoneSucceeded:
            if not lacking:
                record.finish(None)
                raise AllMirrorsFailed(
                    f"project {project!r}",
                    [(a.mirror, a.url, a.reason) for a in record.attempts]) from None
            # Nobody has it: let micropip report the missing version as it always does.
            mirror, page = min(lacking, key=lambda lack: self.mirrors.index(lack[0]))
        else:
            # A mirror that lacked the version another one had is behind: ask it last
            # for a while, or every later dependency would come from it (older, slower).
            for behind, _ in lacking:
                self.health.bench(behind, f"lags: no wheel matching {requirement}")
        record.finish(mirror.name)
        self._remember_files(project, page, mirror)
        return page

    def _remember_files(self, project: str, page: ProjectPage, mirror: Mirror) -> None:
        """Which wheel URLs we handed out, newest last; the oldest are forgotten
        past MAX_KNOWN_FILES (micropip then fetches such a URL itself)."""
        for entry in page.files:
            if entry.filename.endswith(".whl"):
                self._files.pop(entry.url, None)
                self._files[entry.url] = _KnownFile(project, entry, mirror)
        while len(self._files) > MAX_KNOWN_FILES:
            del self._files[next(iter(self._files))]

    async def _fetch_page(self, mirror: Mirror, project: str, record: Record,
                          answering=None) -> tuple[ProjectPage, Attempt]:
        url = mirror.project_url(project)
        attempt = record.attempt(mirror.name, url)
        cached = self.cache.get(mirror, project)
        if isinstance(cached, ProjectPage):
            attempt.finish("cached")
            return cached, attempt
        if isinstance(cached, _NotFound):
            attempt.finish("failed", f"{cached.reason} (cached)")
            raise cached

        try:
            page = await self._request(mirror, url, {"Accept": ACCEPT}, self.policy.timeout,
                                       lambda resp: parse_page(resp, project), attempt, answering)
        except _NotFound as e:
            self.cache.put(mirror, project, e)
            raise
        for entry in page.files:
            entry.url = mirror.rewrite_file_url(entry.url)
        self.cache.put(mirror, project, page)
        self.health.restore(mirror)
        self._answered.add(mirror)
        attempt.finish("ok", "; ".join(page.refused))
        return page, attempt

    async def _request(self, mirror, url: str, headers: dict, timeout: float,
                       check, attempt: Attempt, answering=None):
        """One request to one mirror, its 200 answer passed through ``check``.
        Keeps the attempt's record and the mirror's health right whatever happens:
        a 404 only says the mirror lacks this; other failures, and staying silent
        while another mirror answered, send it to the back of the list."""
        answered = False

        def on_answer():
            nonlocal answered
            answered = True
            if answering:
                answering()

        try:
            resp = await self.transport.fetch(url, headers=headers, timeout=timeout,
                                              on_answer=on_answer)
            if resp.status == 404:
                raise _NotFound("HTTP 404")
            if resp.status != 200:
                raise AttemptFailed(f"HTTP {resp.status}")
            return check(resp)
        except _NotFound as e:
            attempt.finish("failed", e.reason)
            raise
        except AttemptFailed as e:
            self.health.bench(mirror, e.reason)
            attempt.finish("failed", e.reason)
            raise
        except asyncio.CancelledError:
            if not lost_race():  # the install itself was cancelled: nobody's fault
                attempt.finish("cancelled", "cancelled by the caller")
                raise
            if not answered:
                self.health.bench(mirror, "slower than another mirror")
            attempt.finish("cancelled", "another mirror answered first")
            raise
        except Exception as e:  # a bug or a limit hit on this answer: still only this attempt
            reason = f"internal error: {type(e).__name__}: {str(e)[:200]}"
            self.health.bench(mirror, reason)
            attempt.finish("failed", reason)
            raise AttemptFailed(reason) from e

    # -- files -------------------------------------------------------------------

    async def file_bytes(self, url: str) -> bytes | None:
        """The bytes of a wheel (or its .metadata) that an index answer of ours
        listed, from the first mirror that serves them with the right sha256.
        None for URLs we did not hand out: those are micropip's own business."""
        is_metadata = url.endswith(_METADATA) and url[: -len(_METADATA)] in self._files
        known = self._files.get(url[: -len(_METADATA)] if is_metadata else url)
        if known is None:
            return None
        name = known.entry.filename + (_METADATA if is_metadata else "")
        record = Record("file", name)
        self.report.append(record)
        order = self.health.order([known.mirror] + [m for m in self.mirrors if m != known.mirror])

        async def attempt(mirror: Mirror, answering) -> bytes:
            file_url, listed_here = await self._locate(mirror, known, record)
            sha256 = self._expected_sha256(known, is_metadata, listed_here)
            if is_metadata:
                file_url += _METADATA
            return await self._download(mirror, file_url, sha256, record, answering,
                                        is_wheel=not is_metadata)

        try:
            mirror, data = await first_success(order, attempt, self._hedge_for(order))
        except NoneSucceeded:
            record.finish(None)
            raise AllMirrorsFailed(
                f"file {name!r}", [(a.mirror, a.url, a.reason) for a in record.attempts]) from None
        record.finish(mirror.name)
        return data

    async def _locate(self, mirror: Mirror, known: _KnownFile, record: Record):
        """This mirror's URL for the file, and its own entry for it when we
        had to read its index to find it (else None)."""
        entry = known.entry
        if mirror == known.mirror:
            return entry.url, None
        path = _pypi_path(entry.url, self.mirrors)
        if path and mirror.files_url:
            return mirror.local_file_url(path), None
        page, _ = await self._fetch_page(mirror, known.project, record)
        other = page.find(entry.filename)
        if other is None:
            attempt = record.attempt(mirror.name, mirror.project_url(known.project))
            attempt.finish("failed", f"does not list {entry.filename}")
            raise AttemptFailed(f"does not list {entry.filename}")
        return other.url, other

    def _expected_sha256(self, known: _KnownFile, is_metadata: bool,
                         listed_here: FileEntry | None = None) -> str | None:
        """The one rule for the hash a download must match, whichever mirror
        serves it: the one the page that listed the file gives, else the one
        another mirror's listing of the same file name gives (its answer we
        hold: the page read to find the file there, or any cached page)."""
        def sha_of(entry: FileEntry) -> str | None:
            if not is_metadata:
                return entry.sha256
            meta = entry.core_metadata
            return meta.get("sha256") if isinstance(meta, dict) else None

        found = sha_of(known.entry)
        if found:
            return found
        others = [listed_here] if listed_here is not None else []
        for mirror in self.mirrors:
            page = self.cache.get(mirror, known.project)
            if isinstance(page, ProjectPage):
                others.append(page.find(known.entry.filename))
        return next((sha for sha in map(sha_of, filter(None, others)) if sha), None)

    async def _download(self, mirror, url, sha256, record, answering, is_wheel):
        """One download, hash-checked. A .metadata file without a hash is not
        flagged: it only steers resolution, and every wheel is checked itself."""
        attempt = record.attempt(mirror.name, url)

        def verify(resp: Response) -> bytes:
            if sha256:
                return check_sha256(resp.body, sha256, "index")
            if is_wheel and self.policy.require_hashes:
                raise AttemptFailed("no mirror gives a sha256 for it (require_hashes)")
            return resp.body

        body = await self._request(mirror, url, {}, self.policy.download_timeout, verify,
                                   attempt, answering)
        attempt.finish("ok", "unverified: no sha256 known" if is_wheel and not sha256 else "")
        return body


def parse_page(resp: Response, project: str) -> ProjectPage:
    """A mirror's answer as the project's page; an unusable one is that attempt's failure."""
    if resp.body.lstrip()[:1] in (b"{", b"[") and json_depth(resp.body) > MAX_JSON_DEPTH:
        raise AttemptFailed(f"unusable answer: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return parse_answer(resp.body, resp.headers.get("content-type", ""), resp.url, project)
    except InvalidAnswer as e:
        raise AttemptFailed(f"unusable answer: {e}") from None


# Index answers nest 5 levels at most. json.loads of JSON nested ~20,000 deep
# overflows the stack of Pyodide 314 (a fatal "Maximum call stack size
# exceeded", not an exception); so depth is measured first, without recursion.
MAX_JSON_DEPTH = 64
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[{]}"))
_NOT_SKELETON = bytes(set(range(256)) - set(b'[{]}"'))


def json_depth(body: bytes) -> int:
    """How deep ``[`` and ``{`` nest outside JSON strings (linear, in C)."""
    if b"\\" in body:  # escaped backslashes and quotes are string content
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = body.translate(None, _NOT_SKELETON)  # brackets and quotes only
    outside_strings = b"".join(skeleton.split(b'"')[::2])
    steps = array.array("b", outside_strings.translate(_BRACKET_STEPS, _NOT_BRACKETS))
    return max(itertools.accumulate(steps), default=0)


def check_sha256(body: bytes, expected: str, source: str) -> bytes:
    """The body, if its sha256 is the one ``source`` (index, lockfile) gave."""
    digest = hashlib.sha256(body).hexdigest()
    if digest != expected.lower():
        raise AttemptFailed(f"sha256 mismatch: got {digest[:12]}…, {source} says {expected[:12]}…")
    return body


def _offers(page: ProjectPage, requirement) -> bool:
    """Whether the page lists a wheel whose version the requirement accepts."""
    for entry in page.files:
        version = entry.version
        if version is None:
            continue
        try:
            if requirement.specifier.contains(version, prereleases=True):
                return True
        except Exception:  # an unparsable version is simply not a match
            continue
    return False


def _pypi_path(url: str, mirrors: list[Mirror]) -> str | None:
    """The files.pythonhosted.org path of a file URL, when we can tell it."""
    if url.startswith(PYPI_FILES + "/"):
        return url[len(PYPI_FILES):]
    for mirror in mirrors:
        path = mirror.pypi_path(url)
        if path:
            return path
    return None
