"""One small adapter per micropip generation, behind one interface.

Every generation has the same three patch points, reached differently:
- fetch_string_and_headers(url, kwargs): index pages;
- fetch_bytes(url, kwargs): wheels and .metadata files;
- Transaction._add_requirement_from_package_index(req): where a requirement
  meets the index (we learn the requirement there, and surface our error).
An adapter checks every point exists before it changes anything, and puts back
the exact objects it replaced.
"""

from __future__ import annotations

import re
import sys

from .errors import UnsupportedMicropip


_ABSENT = object()


class Adapter:
    generation = ""
    versions: tuple[tuple[int, int], tuple[int, int]]  # first and last (major, minor)
    honours_yanked = True  # PEP 592: micropip itself passes over yanked files

    def __init__(self, micropip):
        self.micropip = micropip
        self._saved: list[tuple[object, str, object]] = []

    # Where the patch points live: (owner, attribute) pairs.
    def string_sites(self) -> list[tuple[object, str]]:
        raise NotImplementedError

    def bytes_sites(self) -> list[tuple[object, str]]:
        raise NotImplementedError

    def transaction_class(self):
        return sys.modules["micropip.transaction"].Transaction

    def load_package_sites(self) -> list[tuple[object, str]]:
        """Where micropip finds Pyodide's JS loadPackage (lockfile packages);
        the first site is the one the install path calls."""
        raise NotImplementedError

    def apply_load_package(self, wrap) -> bool:
        """Replace micropip's loadPackage with ``wrap(original)``; restore() puts
        it back. False (nothing changed) when this micropip has no such site."""
        sites = [(o, a) for o, a in self.load_package_sites() if hasattr(o, a)]
        if len(sites) != len(self.load_package_sites()):
            return False
        wrapped = wrap(getattr(*sites[0]))
        for owner, attr in sites:
            self._set(owner, attr, wrapped)
        return True

    def apply_install_start(self, wrap) -> bool:
        """Replace Transaction.gather_requirements (where every install begins)
        with ``wrap(original)``. False when this micropip has none."""
        cls = self.transaction_class()
        original = cls.__dict__.get("gather_requirements")
        if original is None:
            return False
        self._set(cls, "gather_requirements", wrap(original), method=True)
        return True

    def originals(self):
        """micropip's own (fetch_string_and_headers, fetch_bytes, add_requirement)."""
        (s_owner, s_attr), (b_owner, b_attr) = self.string_sites()[0], self.bytes_sites()[0]
        return (getattr(s_owner, s_attr), getattr(b_owner, b_attr),
                self.transaction_class()._add_requirement_from_package_index)

    def check(self) -> None:
        missing = [f"{_name(o)}.{a}" for o, a in self.string_sites() + self.bytes_sites()
                   if not hasattr(o, a)]
        if not hasattr(self.transaction_class(), "_add_requirement_from_package_index"):
            missing.append("Transaction._add_requirement_from_package_index")
        if missing:
            raise UnsupportedMicropip(
                f"micropip {self.micropip.__version__} lacks {', '.join(missing)}; "
                "nothing was patched")

    def apply(self, fetch_string, fetch_bytes, add_requirement) -> None:
        self.check()
        for owner, attr in self.string_sites():
            self._set(owner, attr, fetch_string)
        for owner, attr in self.bytes_sites():
            self._set(owner, attr, fetch_bytes)
        self._set(self.transaction_class(), "_add_requirement_from_package_index",
                  add_requirement, method=True)

    def restore(self) -> None:
        for owner, attr, old in reversed(self._saved):
            if old is _ABSENT:
                delattr(owner, attr)
            else:
                setattr(owner, attr, old)
        self._saved.clear()

    def _set(self, owner, attr, value, method=False) -> None:
        is_class = isinstance(owner, type)
        old = owner.__dict__.get(attr, _ABSENT) if is_class else getattr(owner, attr)
        self._saved.append((owner, attr, old))
        setattr(owner, attr, staticmethod(value) if is_class and not method else value)


class _ByName(Adapter):
    """micropip imports the fetch functions by name into each module that uses
    them, so the name is replaced in each of those modules."""

    def string_sites(self):
        return [(sys.modules["micropip.package_index"], "fetch_string_and_headers"),
                (sys.modules["micropip._compat"], "fetch_string_and_headers")]

    def bytes_sites(self):
        return [(sys.modules["micropip.wheelinfo"], "fetch_bytes"),
                (sys.modules["micropip._compat"], "fetch_bytes")]


class Micropip06(_ByName):
    """Pyodide 0.26. query_package moves on only on OSError and never checks the
    HTTP status; neither matters once the fetch layer is ours."""

    generation = "0.6"
    versions = ((0, 6), (0, 6))
    honours_yanked = False

    def load_package_sites(self):
        import micropip._commands.install  # noqa: F401

        return [(sys.modules["micropip._commands.install"], "loadPackage"),
                (sys.modules["micropip._compat"], "loadPackage")]


class Micropip07(_ByName):
    """Pyodide 0.27. query_package moves on only on HTTP 404; our fetch layer
    does the moving on, and raises only when every mirror failed."""

    generation = "0.7-0.9"
    versions = ((0, 7), (0, 9))
    honours_yanked = False

    def load_package_sites(self):
        import micropip.install  # noqa: F401

        return [(sys.modules["micropip.install"], "loadPackage"),
                (sys.modules["micropip._compat"], "loadPackage")]


class Micropip010(Adapter):
    """Pyodide 0.28 to 314. Fetches go through a compatibility-layer class passed
    around as a value; its static methods are replaced on the class itself.
    query_package swallows fetch errors, so our error is re-raised from the
    Transaction patch point instead."""

    generation = "0.10-0.11"
    versions = ((0, 10), (0, 11))

    def _layer(self):
        return sys.modules["micropip._compat"].compatibility_layer

    def string_sites(self):
        return [(self._layer(), "fetch_string_and_headers"),
                (sys.modules["micropip._compat"], "fetch_string_and_headers")]

    def bytes_sites(self):
        sites = [(self._layer(), "fetch_bytes"),
                 (sys.modules["micropip._compat"], "fetch_bytes")]
        # micropip 0.10.x and 0.11.0 still import fetch_bytes by name into
        # wheelinfo (0.11.1 goes through the layer): replace that name too.
        wheelinfo = sys.modules["micropip.wheelinfo"]
        if hasattr(wheelinfo, "fetch_bytes"):
            sites.append((wheelinfo, "fetch_bytes"))
        return sites

    def load_package_sites(self):
        return [(self._layer(), "loadPackage"),
                (sys.modules["micropip._compat"], "loadPackage")]


ADAPTERS = (Micropip06, Micropip07, Micropip010)


def version_of(micropip) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", getattr(micropip, "__version__", ""))
    if not m:
        raise UnsupportedMicropip(f"cannot tell micropip's version from "
                                  f"{getattr(micropip, '__version__', None)!r}")
    return int(m.group(1)), int(m.group(2))


def adapter_for(micropip) -> Adapter:
    """The adapter for the loaded micropip, or UnsupportedMicropip."""
    version = version_of(micropip)
    for cls in ADAPTERS:
        first, last = cls.versions
        if first <= version <= last:
            import micropip.package_index  # noqa: F401  (make sure every site is loaded)
            import micropip.transaction  # noqa: F401
            import micropip.wheelinfo  # noqa: F401

            return cls(micropip)
    supported = ", ".join(c.generation for c in ADAPTERS)
    raise UnsupportedMicropip(
        f"micropip {micropip.__version__} is not supported (supported: {supported}); "
        "nothing was patched")


def _name(owner) -> str:
    return getattr(owner, "__name__", type(owner).__name__)
