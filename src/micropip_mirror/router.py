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
from .normalize import (FileEntry, ProjectPage, best_hash, micropip_could_install, parse_answer,
                        wheel_version)
from .wheelcheck import InvalidFile, check_metadata, check_wheel, metadata_from_wheel
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
class _Shared:
    """A download several callers wait for; cancelled when the last one leaves."""
    task: asyncio.Future
    waiters: int = 0


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
        self._inflight: dict[str, _Shared] = {}  # wheel URL -> its download under way

    def _page_race(self, order: list[Mirror]) -> tuple[float | None, float]:
        """(hedge delay, keep_order) for an index page. Once the mirror in front
        has answered in this session: hedge after hedge_after, and a mirror
        already answering keeps its place. Until then every mirror is asked at
        once, and a later one's answer is taken only after the ones before it
        stayed silent for first_hedge_after: a dead first mirror (or eight) costs
        that one wait, and a live first mirror is still the one used."""
        hedge, first = self.policy.hedge_after, self.policy.first_hedge_after
        if hedge is None or first is None or (order and order[0] in self._answered):
            return hedge, 0.0
        return 0.0, min(hedge, first)

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
            mirror, page = await first_success(order, attempt, *self._page_race(order))
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
            for behind, lacked in lacking:
                if not _lists_version(lacked, requirement):
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
                       check, attempt: Attempt, answering=None, total: float | None = None):
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
                                              total=total or self.policy.page_cap,
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
        listed, from the first mirror that serves them with the right hash.
        None for URLs we did not hand out: those are micropip's own business."""
        is_metadata = url.endswith(_METADATA) and url[: -len(_METADATA)] in self._files
        known = self._files.get(url[: -len(_METADATA)] if is_metadata else url)
        if known is None:
            return None
        if is_metadata:
            return await self._metadata(known)
        return await self._shared_wheel(known)

    async def _shared_wheel(self, known: _KnownFile) -> bytes:
        """One download per wheel however many ask at once: micropip downloads
        a wheel while it reads the .metadata, which may need the same wheel."""
        url = known.entry.url
        shared = self._inflight.get(url)
        if shared is None or shared.waiters == 0:  # none, or given up and still cancelling
            shared = self._inflight[url] = _Shared(asyncio.ensure_future(self._wheel(known)))
            mine = shared

            def forget(_: asyncio.Future) -> None:
                if self._inflight.get(url) is mine:
                    del self._inflight[url]

            shared.task.add_done_callback(forget)
        shared.waiters += 1
        try:
            return await asyncio.shield(shared.task)
        finally:
            shared.waiters -= 1
            if shared.waiters == 0 and not shared.task.done():
                shared.task.cancel()  # nobody wants it any more

    async def _wheel(self, known: _KnownFile) -> bytes:
        record = Record("file", known.entry.filename)
        self.report.append(record)
        return await self._first_file(known, record, is_metadata=False)

    async def _metadata(self, known: _KnownFile) -> bytes:
        """The .metadata file, or when no mirror serves a valid one, the METADATA
        inside the (verified) wheel: a missing .metadata never stops an install.
        Joins the wheel's download from the start (micropip starts it alongside),
        so a .metadata that fails after the wheel arrived costs no second download."""
        name = known.entry.filename + _METADATA
        record = Record("file", name)
        self.report.append(record)
        wheel = asyncio.ensure_future(self._shared_wheel(known))
        try:
            if known.entry.core_metadata is not None:
                try:
                    return await self._first_file(known, record, is_metadata=True)
                except AllMirrorsFailed:
                    pass  # recorded; read it from the wheel
            fallback = record.attempt("wheel", known.entry.url)
            try:
                data = metadata_from_wheel(await wheel, known.entry.filename)
            except (AllMirrorsFailed, AttemptFailed, InvalidFile) as e:
                why = (_first_line(e) if not isinstance(e, AllMirrorsFailed) else
                       "; ".join(f"{mirror}: {reason}" for mirror, _, reason in e.failures))
                fallback.finish("failed", f"no .metadata, and the wheel failed too: {why}")
                record.finish(None)
                raise AllMirrorsFailed(
                    f"file {name!r}", [(a.mirror, a.url, a.reason) for a in record.attempts]) from None
            fallback.finish("ok", "METADATA read from the verified wheel")
            record.finish("wheel")
            return data
        finally:
            if not wheel.done():
                wheel.cancel()  # leaves the download to micropip's own request for the wheel
            elif not wheel.cancelled():
                wheel.exception()  # seen: no "exception never retrieved" warning

    async def _first_file(self, known: _KnownFile, record: Record, is_metadata: bool) -> bytes:
        order = self.health.order([known.mirror] + [m for m in self.mirrors if m != known.mirror])

        async def attempt(mirror: Mirror, answering) -> bytes:
            file_url, listed_here = await self._locate(mirror, known, record)
            expected = self._expected_hash(known, is_metadata, listed_here)
            if is_metadata:
                file_url += _METADATA
            return await self._download(mirror, file_url, expected, known.entry.filename,
                                        record, answering, is_metadata)

        try:
            # Files are hedged at hedge_after: the mirror that listed the file has answered,
            # and asking every mirror for the same wheel at once would multiply the bytes.
            # The first complete, checked copy wins: the bytes are the same from anyone.
            mirror, data = await first_success(order, attempt, self.policy.hedge_after)
        except NoneSucceeded:
            if not is_metadata:
                record.finish(None)
            raise AllMirrorsFailed(
                f"file {record.target!r}",
                [(a.mirror, a.url, a.reason) for a in record.attempts]) from None
        record.finish(mirror.name)
        return data

    async def _locate(self, mirror: Mirror, known: _KnownFile, record: Record):
        """This mirror's URL for the file, and its own entry for the file when
        its index had to be read to find it (else None)."""
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

    def _expected_hash(self, known: _KnownFile, is_metadata: bool,
                       listed_here: FileEntry | None = None) -> tuple[str, str] | None:
        """The hash rule, on every path (a wheel or its .metadata, whichever
        mirror serves it): the (algorithm, digest) of the page that listed the
        file to micropip, else one from another mirror's listing of the same
        file name (the page read to find it there, or any cached page)."""
        def hash_of(entry: FileEntry | None) -> tuple[str, str] | None:
            if entry is None:
                return None
            if not is_metadata:
                return entry.best_hash
            meta = entry.core_metadata
            return best_hash(meta) if isinstance(meta, dict) else None

        def listings():  # lazily: other pages are searched only when the first lack a hash
            yield known.entry
            yield listed_here
            for mirror in self.mirrors:
                page = self.cache.get(mirror, known.project)
                if isinstance(page, ProjectPage):
                    yield page.find(known.entry.filename)

        return next(filter(None, map(hash_of, listings())), None)

    async def _download(self, mirror, url, expected, filename, record, answering, is_metadata):
        """One download, checked: against its hash when one is known, else it
        must at least be what it claims (a wheel of that name and version).
        Core metadata must always name the wheel's project and version."""
        attempt = record.attempt(mirror.name, url)

        def verify(resp: Response) -> bytes:
            if expected:
                check_hash(resp.body, expected, "index")
            elif not is_metadata and self.policy.require_hashes:
                raise AttemptFailed("no mirror gives a hash for it (require_hashes)")
            try:
                if is_metadata:  # cheap, and a listing can vouch for the wrong file
                    check_metadata(resp.body, filename)
                elif not expected:
                    check_wheel(resp.body, filename)
            except InvalidFile as e:
                raise AttemptFailed(f"{'invalid' if expected else 'unverified and invalid'}: {e}") from None
            return resp.body

        body = await self._request(mirror, url, {}, self.policy.download_timeout, verify,
                                   attempt, answering, total=self.policy.download_cap)
        attempt.finish("ok", "unverified: no hash known" if not expected else "")
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
    return check_hash(body, ("sha256", expected), source)


def check_hash(body: bytes, expected: tuple[str, str], source: str) -> bytes:
    """The body, if its hash is the (algorithm, digest) ``source`` gave."""
    algorithm, want = expected
    digest = hashlib.new(algorithm, body).hexdigest()
    if digest != want.lower():
        raise AttemptFailed(f"{algorithm} mismatch: got {digest[:12]}…, {source} says {want[:12]}…")
    return body


def _first_line(e: Exception) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def _offers(page: ProjectPage, requirement) -> bool:
    """Whether the page lists a wheel installable here whose version the requirement
    accepts. Newest last is the usual order of a page, and the newest usually fits:
    looking from the end finds it without parsing every older version."""
    installable = (e.filename for e in reversed(page.files) if micropip_could_install(e.filename))
    return _accepts_one(installable, requirement)  # legacy JSON pages keep every wheel


def _lists_version(page: ProjectPage, requirement) -> bool:
    """Whether the page has an accepted version's wheel, if only for other platforms:
    then its mirror is not behind, and is not benched for lacking one for this one."""
    every = itertools.chain((e.filename for e in reversed(page.files)), reversed(page.skipped))
    return _accepts_one(every, requirement)


def _accepts_one(filenames, requirement) -> bool:
    """Whether a wheel's version is accepted; each version is parsed once, however
    many wheels (one per platform and Python) it has."""
    rejected = set()
    for filename in filenames:
        version = wheel_version(filename)
        if version is None or version in rejected:
            continue
        try:
            if requirement.specifier.contains(version, prereleases=True):
                return True
        except Exception:  # an unparsable version is simply not a match
            pass
        rejected.add(version)
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
