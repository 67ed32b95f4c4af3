"""Which of a page's files micropip gets to see, where micropip itself does not
choose as pip would: yanked files (PEP 592) on micropip 0.6-0.9, and files whose
Requires-Python excludes the running Python (every micropip ignores it)."""

from __future__ import annotations

import sys

from .normalize import ProjectPage


def _specifier_set():
    """packaging's SpecifierSet, from wherever this micropip has packaging."""
    try:
        from micropip._vendored.packaging.src.packaging.specifiers import SpecifierSet
    except ImportError:
        from packaging.specifiers import SpecifierSet  # type: ignore[assignment]  # the same class
    return SpecifierSet


def for_this_python(page: ProjectPage, python: str | None = None) -> ProjectPage:
    """The page less the files whose requires-python excludes ``python`` (the
    running one by default). An unparsable requires-python excludes nothing."""
    python = python or ".".join(map(str, sys.version_info[:3]))
    spec_set = None
    keep = []
    for f in page.files:
        if f.requires_python:
            spec_set = spec_set or _specifier_set()
            try:
                if not spec_set(f.requires_python).contains(python, prereleases=True):
                    continue
            except Exception:  # InvalidSpecifier: the file stays, as pip keeps it
                pass
        keep.append(f)
    if len(keep) == len(page.files):
        return page
    return ProjectPage(page.name, keep, page.refused)


def without_yanked(page: ProjectPage, requirement=None) -> ProjectPage:
    """The page less its yanked files, for micropip versions that ignore
    ``yanked``; kept when the requirement pins a version with == or ===, as
    PEP 592 allows."""
    pinned = requirement is not None and any(
        spec.operator in ("==", "===") for spec in getattr(requirement, "specifier", ()))
    if pinned or not any(f.yanked for f in page.files):
        return page
    return ProjectPage(page.name, [f for f in page.files if not f.yanked], page.refused)
