"""wheelcheck.metadata_headers reads core metadata headers as the stdlib's email
parser does (which check_metadata used, and which costs 50-90 ms to import in
Pyodide 314): same values for the headers the check reads, whatever the lines."""

from email.parser import BytesHeaderParser

from hypothesis import given, settings
from hypothesis import strategies as st

from micropip_mirror.wheelcheck import InvalidFile, check_metadata, metadata_headers

LINES = st.sampled_from(["Metadata-Version: 2.1", "Name: demo-pkg", "name: Other", "Version: 1.0", "VERSION:2.0",
                         "Name:", "Version:  3.0  ", " continued", "\tfolded", "  ", "From x", "From: a@b",
                         ":bad", "garbage line", "", "Version : 1", "Summary: s", "Name:\tdemo_pkg",
                         "Metadata-Version:", "Requires-Dist: a; extra == 'x'"])
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(LINES, ENDINGS), max_size=10), st.booleans())
def test_headers_read_as_the_email_parser_reads_them(lines, last_line_ends):
    text = "".join(line + end for line, end in lines)
    if lines and not last_line_ends:
        text = text[: -len(lines[-1][1])]
    data = text.encode()
    theirs = BytesHeaderParser().parsebytes(data)
    ours = metadata_headers(data)
    for key in ("Name", "Version", "Metadata-Version", "Summary"):
        assert ours.get(key.lower(), "").strip() == str(theirs.get(key) or "").strip(), (key, text)


def test_a_real_metadata_file_passes_and_another_projects_fails():
    data = b"Metadata-Version: 2.1\nName: demo_pkg\nVersion: 1.0.0\nRequires-Dist: six\n\nLong\nName: other\n"
    check_metadata(data, "demo_pkg-1.0-py3-none-any.whl")
    try:
        check_metadata(data.replace(b"demo_pkg", b"other"), "demo_pkg-1.0-py3-none-any.whl")
    except InvalidFile as e:
        assert "metadata is for other 1.0.0" in str(e)
    else:
        raise AssertionError("another project's metadata passed")


PIECES = st.sampled_from([b"Metadata-Version: 2.1", b"Name: demo", b"Name : x", b"name:y", b"Version: 1.0",
                          b"Version:", b" c", b"\tf", b"From x", b"From: a", b":b", b"junk", b"", b"\xef\xbb\xbf",
                          b"\xff", b"Name:\xe9", b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x85", b"Name:  spaced  ",
                          b"Version: 2\x0b3", b"Name: a\x1cb", b"\xe2\x80\xa8", b"Summary: q\x85r"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(PIECES, st.sampled_from([b"\n", b"\r\n", b"\r", b""])), max_size=8))
def test_odd_bytes_are_read_as_the_email_parser_reads_them(pieces):
    """A BOM, bytes that are not ASCII or not UTF-8, control characters and the
    separators str.splitlines() would split on but email does not. Bytes past ASCII
    come out as surrogates here and as U+FFFD there: no project name or version has one."""
    data = b"".join(piece + end for piece, end in pieces)
    theirs = BytesHeaderParser().parsebytes(data)
    ours = metadata_headers(data)
    for key in ("Name", "Version", "Metadata-Version", "Summary"):
        value = ours.get(key.lower(), "").encode("ascii", "surrogateescape").decode("ascii", "replace")
        assert value.strip() == str(theirs.get(key) or "").strip(), (key, data)
