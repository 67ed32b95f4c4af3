"""What a mirror is: where its project pages live and which file URLs it can serve."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ConfigError

PYPI_INDEX = "https://pypi.org/simple"
PYPI_FILES = "https://files.pythonhosted.org"
PLACEHOLDER = "{package_name}"


def canonical_name(name: str) -> str:
    """PEP 503 normalization: runs of -, _ and . become one -, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_http(url: str, what: str) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"{what} must be an http(s) URL, got {url!r}")
    return url


@dataclass(frozen=True)
class Mirror:
    """A package index to try, and optionally the prefix under which it serves
    the files that pypi.org keeps on files.pythonhosted.org.

    ``index_url`` means what it means in micropip's ``index_urls``: a simple
    index root (``https://host/simple``) or a URL with ``{package_name}``.
    ``pyodide_url``: where it serves the Pyodide distribution, as
    ``<pyodide_url>v<version>/full/<file>`` (the Worker's ``/pyodide/``).
    """

    index_url: str
    files_url: str | None = None
    name: str = ""  # "" (or None): the index host
    pyodide_url: str | None = None
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_http(self.index_url, "index_url")
        if self.files_url is not None:
            _check_http(self.files_url, "files_url")
            object.__setattr__(self, "files_url", self.files_url.rstrip("/"))
        if self.pyodide_url is not None:
            _check_http(self.pyodide_url, "pyodide_url")
            object.__setattr__(self, "pyodide_url", self.pyodide_url.rstrip("/") + "/")
        if PLACEHOLDER not in self.index_url:
            object.__setattr__(self, "index_url", self.index_url.rstrip("/"))
        if not self.name:
            object.__setattr__(self, "name", urlsplit(self.index_url).netloc)
        object.__setattr__(self, "_pattern", _url_pattern(self.index_url))

    @classmethod
    def cloudflare(cls, origin: str, name: str = "cloudflare") -> Mirror:
        """The Worker in worker/: pages under /pypi/simple, files under /files,
        the Pyodide distribution under /pyodide/v<version>/full/."""
        origin = _check_http(origin, "origin").rstrip("/")
        return cls(f"{origin}/pypi/simple", files_url=f"{origin}/files", name=name,
                   pyodide_url=f"{origin}/pyodide/")

    def dist_base(self, pyodide_version: str) -> str | None:
        """This mirror's folder of Pyodide ``pyodide_version``'s distribution, if it has one."""
        return f"{self.pyodide_url}v{pyodide_version}/full/" if self.pyodide_url else None

    @classmethod
    def coerce(cls, value: Mirror | str) -> Mirror:
        if isinstance(value, Mirror):
            return value
        if isinstance(value, str):
            return cls(value.strip())
        raise ConfigError(f"a mirror is a Mirror or an index URL string, got {value!r}")

    def project_url(self, project: str) -> str:
        if PLACEHOLDER in self.index_url:
            return self.index_url.replace(PLACEHOLDER, project)
        return f"{self.index_url}/{project}/"

    def match(self, url: str) -> str | None:
        """The project a micropip index request URL asks this mirror for, if any."""
        m = self._pattern.match(url)
        return m.group(1) if m else None

    def local_file_url(self, pypi_path: str) -> str | None:
        """This mirror's URL for a file pypi.org serves at ``PYPI_FILES + pypi_path``."""
        return f"{self.files_url}{pypi_path}" if self.files_url else None

    def pypi_path(self, url: str) -> str | None:
        """The files.pythonhosted.org path behind one of this mirror's file URLs."""
        if self.files_url and url.startswith(self.files_url + "/"):
            return url[len(self.files_url):]
        return None

    def rewrite_file_url(self, url: str) -> str:
        """Point a files.pythonhosted.org URL at this mirror's own file host."""
        if self.files_url and url.startswith(PYPI_FILES + "/"):
            return self.files_url + url[len(PYPI_FILES):]
        return url


def _url_pattern(index_url: str) -> re.Pattern:
    # micropip builds f"{index_url}/{name}/" or formats the placeholder.
    if PLACEHOLDER in index_url:
        head, _, tail = index_url.partition(PLACEHOLDER)
        return re.compile(re.escape(head) + r"([^/?#]+)" + re.escape(tail) + r"$")
    return re.compile(re.escape(index_url.rstrip("/")) + r"/+([^/?#]+)/?$")


PYPI = Mirror(PYPI_INDEX, files_url=PYPI_FILES, name="pypi.org")
