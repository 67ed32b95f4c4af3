"""Inputs and timings the issue-11 changes first met here: wheels without a hash that
break zipfile in odd ways, odd-but-valid wheel and metadata files, a shared download
asked for again just after its last waiter gave up, a body cut short, a server that
sends headers then nothing, and yanked versions that are all a requirement can have."""

import asyncio
import io
import json
import socket
import threading
import zipfile

import pytest

import micropip_mirror
from micropip_mirror.errors import AllMirrorsFailed, AttemptFailed
from micropip_mirror.mirrors import Mirror
from micropip_mirror.policy import Policy
from micropip_mirror.router import Router
from micropip_mirror.transport import Response, UrllibTransport
from micropip_mirror.wheelcheck import InvalidFile, check_metadata, check_wheel

from .fakes import Scripted, page, sha, wheel
from .test_real_shapes import ALL_NEW, M, install, serve, tree_transaction, with_every_leaf_file

A = Mirror("https://a.example/simple", name="a")
B = Mirror("https://b.example/simple", name="b")
WHL = "demo_pkg-2.0.0-py3-none-any.whl"
METADATA = b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 2.0.0\n"


def deflated_wheel() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo_pkg/__init__.py", "x = 1\n" * 2000)
        zf.writestr("demo_pkg-2.0.0.dist-info/METADATA", METADATA)
    return buf.getvalue()


def patched(data: bytes, signature: bytes, offset: int, value: int) -> bytes:
    """``data`` with the byte at ``offset`` of every zip header ``signature`` set to ``value``."""
    out = bytearray(data)
    at = out.find(signature)
    while at != -1:
        out[at + offset] = value
        at = out.find(signature, at + 1)
    return bytes(out)


def corrupt_deflate() -> bytes:  # headers and CRCs intact, compressed stream garbled
    out = bytearray(deflated_wheel())
    start = 30 + len("demo_pkg/__init__.py") + 5
    out[start:start + 20] = bytes(b ^ 0xFF for b in out[start:start + 20])
    return bytes(out)


def encrypted() -> bytes:  # the "encrypted" flag on every member
    return patched(deflated_wheel(), b"PK\x01\x02", 8, 1)


def unknown_compression() -> bytes:  # compression method 99 in every header
    return patched(patched(deflated_wheel(), b"PK\x01\x02", 10, 99), b"PK\x03\x04", 8, 99)


BROKEN_ZIPS = {"corrupt deflate stream": corrupt_deflate, "encrypted members": encrypted,
               "unknown compression method": unknown_compression,
               "empty body": lambda: b"", "truncated": lambda: deflated_wheel()[:-30]}


@pytest.mark.parametrize("make", BROKEN_ZIPS.values(), ids=BROKEN_ZIPS.keys())
def test_a_wheel_zipfile_cannot_read_is_invalid(make):
    with pytest.raises(InvalidFile, match="not a readable wheel"):
        check_wheel(make(), WHL)


def index(mirror, url, sha256=None):
    files = [{"filename": WHL, "url": url, "hashes": {"sha256": sha256} if sha256 else {}}]
    return page(mirror.project_url("demo-pkg"),
                json.dumps({"name": "demo-pkg", "files": files}).encode())


def router(transport, mirrors=(A, B)):
    return Router(list(mirrors), Policy(hedge_after=None, timeout=1), transport)


@pytest.mark.parametrize("make", BROKEN_ZIPS.values(), ids=BROKEN_ZIPS.keys())
def test_an_unreadable_unverified_wheel_is_that_mirrors_named_failure(make):
    good = deflated_wheel()
    t = Scripted({A.project_url("demo-pkg"): index(A, "https://a.example/f/" + WHL),
                  "https://a.example/f/" + WHL: make(),
                  B.project_url("demo-pkg"): index(B, "https://b.example/f/" + WHL),
                  "https://b.example/f/" + WHL: good})
    r = router(t)

    async def go():
        await r.project_page("demo-pkg")
        return await r.file_bytes("https://a.example/f/" + WHL)

    assert asyncio.run(go()) == good
    first = r.report[-1].attempts[0]
    assert (first.mirror, first.outcome) == ("a", "failed")
    assert "unverified and invalid: not a readable wheel" in first.reason
    assert r.health.order([A, B])[0] == B  # the mirror that served garbage goes to the back


@pytest.mark.parametrize("filename,dist_info", [
    ("Demo_Pkg-2.0.0-py3-none-any.whl", "demo_pkg-2.0.0.dist-info"),  # upper-case file name
    ("zope.interface-6.0-1-py3-none-any.whl", "zope.interface-6.0.dist-info"),  # dots, build tag
    ("foo_bar-1.0-py3-none-any.whl", "Foo.Bar-1.0.0.dist-info"),  # differs by normalization
    ("foo-1.0+cpu-py3-none-any.whl", "foo-1.0+cpu.dist-info"),  # local version
    ("foo-1!2.0-py3-none-any.whl", "foo-1!2.0.dist-info"),  # epoch
])
def test_valid_wheels_with_odd_names_pass_the_unverified_check(filename, dist_info):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        zf.writestr(f"{dist_info}/METADATA", "Metadata-Version: 2.1\nName: x\nVersion: 1\n")
        with zf.open("big.bin", "w", force_zip64=True) as member:  # zip64 extra fields
            member.write(b"\0" * 1024)
    check_wheel(buf.getvalue(), filename)


@pytest.mark.parametrize("data", [
    b"Metadata-Version: 2.1\r\nName: demo-pkg\r\nVersion: 2.0.0\r\n\r\nCRLF body",
    b"Metadata-Version: 2.1\nName: Demo_Pkg \nVersion: 2.0 \n",  # trailing blanks
    b"Metadata-Version: 2.1\nName:\n demo-pkg\nVersion: 2.0.0\n",  # folded header
    b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 2.0.0\nSummary: caf\xe9 (latin-1)\n",
])
def test_odd_but_valid_core_metadata_passes_the_unverified_check(data):
    check_metadata(data, WHL)


def slow_wheel_on_one_mirror():
    """A wheel taking 0.2 s to arrive from the one mirror that lists it:
    (its bytes, its URL, the transport, the router)."""
    good = wheel()
    url = "https://a.example/f/" + WHL
    t = Scripted({A.project_url("demo-pkg"): index(A, url, sha(good)), url: (0.2, good)})
    return good, url, t, router(t, mirrors=(A,))


def test_a_download_given_up_by_its_last_waiter_can_be_asked_for_again_at_once():
    """The given-up download is still cancelling when the next caller comes: it must
    get a download of its own, not the cancellation of the old one."""
    good, url, t, r = slow_wheel_on_one_mirror()

    async def go():
        await r.project_page("demo-pkg")
        first = asyncio.ensure_future(r.file_bytes(url))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await r.file_bytes(url)

    assert asyncio.run(go()) == good


def test_one_waiter_leaving_does_not_cancel_the_others_download():
    good, url, t, r = slow_wheel_on_one_mirror()

    async def go():
        await r.project_page("demo-pkg")
        leaving = asyncio.ensure_future(r.file_bytes(url))
        staying = asyncio.ensure_future(r.file_bytes(url))
        await asyncio.sleep(0.05)
        leaving.cancel()
        return await staying

    assert asyncio.run(go()) == good
    assert t.asked.count(url) == 1 and t.cancelled == []


@pytest.fixture(scope="module")
def raw_server():
    """/short: headers promise 1000 bytes, 10 come, the connection closes.
    /silent: headers, then nothing until the client gives up."""
    listener = socket.create_server(("127.0.0.1", 0))

    def handle(conn):
        with conn:
            request = conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            if b"/silent" in request:
                conn.settimeout(10)
                try:
                    conn.recv(1)  # returns when the client closes
                except OSError:
                    pass

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def fetch(url, timeout, total=None):
    return asyncio.run(UrllibTransport().fetch(url, headers={}, timeout=timeout, total=total))


def test_a_body_cut_short_is_a_failed_attempt(raw_server):
    with pytest.raises(AttemptFailed, match="network error"):
        fetch(f"{raw_server}/short", timeout=1)


def test_headers_then_nothing_fails_after_the_stall_limit(raw_server):
    with pytest.raises(AttemptFailed, match="timeout after 0.5 s"):
        fetch(f"{raw_server}/silent", timeout=0.5)


def test_a_total_cap_shorter_than_the_stall_limit_ends_a_silent_body(raw_server):
    with pytest.raises(AttemptFailed, match="took over 0.3 s in all"):
        fetch(f"{raw_server}/silent", timeout=1, total=0.3)


def test_a_requirement_only_a_yanked_version_meets_installs_it_as_plain_micropip_does():
    """micropip 0.6-0.9 ignore yanked and 0.10+ take a yanked version as the last
    resort: hiding it must not turn their install into a failure."""
    t = Scripted(serve(M, "metadata-ok", yanked_newest=True))
    assert install("app>=2.0", t)["app"] == "2.0.0"


def test_a_project_whose_every_version_is_yanked_still_installs():
    routes = with_every_leaf_file(serve(M, "metadata-ok"), "yanked", "all withdrawn")
    assert install("app", Scripted(routes))["leaf"] == "2.0.0"


def test_a_wheel_that_arrived_before_its_metadata_failed_is_not_downloaded_again():
    """micropip 0.9+ starts the wheel download, then asks for the .metadata: when the
    .metadata fails only after the wheel arrived, the fallback must not download the
    whole wheel a second time (on the slow links this is for, twice the wait)."""
    routes = serve(M, "metadata-404")
    for url in [u for u in routes if u.endswith(".whl")]:
        routes[url + ".metadata"] = (0.3, Response(url + ".metadata", 404, {}, b"not found"))
    t = Scripted(routes)
    assert install("app", t) == ALL_NEW
    wheels = [u for u in t.asked if u.endswith(".whl")]
    assert len(wheels) == 3, wheels


def test_a_metadata_fallback_whose_wheel_fails_too_raises_the_clear_error():
    routes = serve(M, "metadata-404")
    for url in [u for u in routes if u.endswith("leaf-2.0.0-py3-none-any.whl")]:
        routes[url] = AttemptFailed("network or CORS error (Failed to fetch)")
    with pytest.raises(AllMirrorsFailed, match="all mirrors failed for file 'leaf-2.0.0") as err:
        install("app", Scripted(routes))
    assert "Failed to fetch" in str(err.value)


def test_a_page_with_a_stray_latin1_byte_is_read_as_plain_micropip_reads_it():
    """fetch().text(), through which plain micropip reads pages in Pyodide, replaces
    bytes that are not UTF-8; the page is still an index page."""
    from micropip_mirror.normalize import parse_answer

    body = ('<html><!-- Copyright \xa9 2024 --><a href="../../f/' + WHL + '">' + WHL
            + "</a></html>").encode("latin-1")
    result = parse_answer(body, "text/html; charset=iso-8859-1",
                          "https://m.example/simple/demo-pkg/", "demo-pkg")
    assert [f.url for f in result.files] == ["https://m.example/f/" + WHL]


def test_an_empty_zip_is_not_a_wheel():
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    with pytest.raises(InvalidFile, match="dist-info/METADATA inside"):
        check_wheel(buf.getvalue(), WHL)


def test_metadata_announced_for_some_files_only_installs_the_tree():
    """Announced (and 404) for app and leaf, not announced for lib."""
    routes = serve(M, "metadata-404")
    body = json.loads(routes[M.project_url("lib")].body)
    for f in body["files"]:
        del f["core-metadata"]
    routes[M.project_url("lib")] = page(M.project_url("lib"), json.dumps(body).encode())
    t = Scripted(routes)
    assert install("app", t) == ALL_NEW
    assert not any(u.endswith("lib-2.0.0-py3-none-any.whl.metadata") for u in t.asked)


def test_two_installs_needing_the_same_wheels_at_once_download_each_once():
    """Two resolutions asking for the same tree together (two micropip.install
    calls in one page): each wheel is fetched once, and both get it."""
    t = Scripted({url: (0.2, answer) if url.endswith(".whl") else answer
                  for url, answer in serve(M, "metadata-404").items()})
    first, second = tree_transaction(), tree_transaction()
    micropip_mirror.enable([M], transport=t, hedge_after=None, timeout=2)
    try:
        async def both():
            await asyncio.gather(first.add_requirement("lib"), second.add_requirement("lib"))
        asyncio.run(both())
    finally:
        micropip_mirror.disable()
    for txn in (first, second):
        assert {w.name: str(w.version) for w in txn.wheels} == {"lib": "2.0.0", "leaf": "2.0.0"}
        assert all(w._data is not None for w in txn.wheels)
    wheels = [u for u in t.asked if u.endswith(".whl")]
    assert sorted(wheels) == sorted(set(wheels)) and len(wheels) == 2


@pytest.mark.parametrize("requirement,shown", [
    ("demo-pkg==2.*", ["2.0.0"]),  # a wildcard is a range: the yanked 2.0.1 stays hidden
    ("demo-pkg==2.0.1", ["2.0.0", "2.0.1"]),  # a pin keeps it (PEP 592)
    ("demo-pkg>=2.0.1", ["2.0.0", "2.0.1"]),  # nothing else meets it: last resort
    ("demo-pkg", ["2.0.0"]),
])
def test_yanked_files_hidden_for_micropip_06_09_as_pep_592_says(requirement, shown):
    from micropip.transaction import Requirement  # the packaging this micropip uses

    from micropip_mirror.normalize import FileEntry, ProjectPage
    from micropip_mirror.select import without_yanked

    files = [FileEntry(f"demo_pkg-{v}-py3-none-any.whl", f"https://m.example/{v}.whl",
                       yanked=v == "2.0.1") for v in ("2.0.0", "2.0.1")]
    result = without_yanked(ProjectPage("demo-pkg", files), Requirement(requirement))
    assert [f.version for f in result.files] == shown


def test_the_same_wheel_with_another_hash_on_the_next_mirror_is_not_mixed_in():
    """A lists the wheel with one hash and fails to serve it; B lists a rebuilt wheel
    of the same name (another hash): B's bytes are not what micropip was promised."""
    genuine, rebuilt = wheel(), wheel(genuine=False)
    t = Scripted({A.project_url("demo-pkg"): index(A, "https://a.example/f/" + WHL, sha(genuine)),
                  "https://a.example/f/" + WHL: page("x", b"", "text/html", 503),
                  B.project_url("demo-pkg"): index(B, "https://b.example/f/" + WHL, sha(rebuilt)),
                  "https://b.example/f/" + WHL: rebuilt})
    r = router(t)

    async def go():
        await r.project_page("demo-pkg")
        return await r.file_bytes("https://a.example/f/" + WHL)

    with pytest.raises(AllMirrorsFailed, match="sha256 mismatch") as err:
        asyncio.run(go())
    assert "HTTP 503" in str(err.value)


@pytest.mark.parametrize("body,ctype", [
    (f'<a href="http://[bad/{WHL}">{WHL}</a><a href="/f/{WHL}">{WHL}</a>', "text/html"),
    (f'<base href="http://[bad/"><a href="/f/{WHL}">{WHL}</a>', "text/html"),
    (json.dumps({"name": "demo-pkg", "files": [
        {"filename": "demo_pkg-0.1-py3-none-any.whl", "url": "http://[bad/x.whl", "hashes": {}},
        {"filename": WHL, "url": f"/f/{WHL}", "hashes": {}}]}), "application/json"),
])
def test_one_malformed_url_costs_its_file_not_the_page(body, ctype):
    """urllib raises ValueError on "http://[bad/": that link (or base) is refused; the
    page still lists its other files (plain micropip never looks at an unused entry)."""
    from micropip_mirror.normalize import parse_answer

    result = parse_answer(body.encode(), ctype, "https://m.example/simple/demo-pkg/", "demo-pkg")
    assert [f.url for f in result.files] == ["https://m.example/f/" + WHL]
