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


def for_this_python(page: ProjectPage, requirement=None,
                    python: str | None = None) -> ProjectPage:
    """The page less the files whose requires-python excludes ``python`` (the
    running one by default), as pip chooses. When no other wheel meets the
    requirement they stay, as the last resort: plain micropip would install
    them (stale upper bounds such as "<3.13" are common), and never doing
    worse than plain micropip comes first. An unparsable requires-python
    excludes nothing."""
    python = python or ".".join(map(str, sys.version_info[:3]))
    verdicts: dict[str, bool] = {}  # a page repeats a few requires-python values many times

    def admits(requires_python: str) -> bool:
        if requires_python not in verdicts:
            spec_set = _specifier_set()
            try:
                verdicts[requires_python] = spec_set(requires_python).contains(
                    python, prereleases=True)
            except Exception:  # InvalidSpecifier: the file stays, as pip keeps it
                verdicts[requires_python] = True
        return verdicts[requires_python]

    keep = [f for f in page.files if not f.requires_python or admits(f.requires_python)]
    return _narrowed(page, keep, requirement)


def without_yanked(page: ProjectPage, requirement=None) -> ProjectPage:
    """The page less its yanked files, for micropip versions that ignore
    ``yanked``; kept when the requirement pins a version with == or ===, as
    PEP 592 allows, or when no other wheel meets it: a yanked version is then
    the last resort, as in micropip 0.10+ (plain 0.6-0.9 would install it anyway)."""
    pinned = requirement is not None and any(  # ==2.* is a range, not a pin
        spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*"))
        for spec in getattr(requirement, "specifier", ()))
    if pinned or not any(f.yanked for f in page.files):
        return page
    return _narrowed(page, [f for f in page.files if not f.yanked], requirement)


def _narrowed(page: ProjectPage, kept: list, requirement) -> ProjectPage:
    """The page with only ``kept``, unless nothing there meets the requirement:
    then the whole page, the others being the last resort."""
    if len(kept) == len(page.files) or not _meets(kept, requirement):
        return page
    return ProjectPage(page.name, kept, page.refused)


def _meets(files, requirement) -> bool:
    """Whether a wheel among ``files`` has a version the requirement accepts
    (filtered as micropip does, so pre-releases count only when it would take them)."""
    versions = [f.version for f in files if f.version]
    if requirement is None:
        return bool(versions)
    valid = []
    for version in versions:  # micropip skips versions it cannot parse
        try:
            requirement.specifier.contains(version, prereleases=True)
        except Exception:  # InvalidVersion of whichever packaging micropip uses
            continue
        valid.append(version)
    return any(True for _ in requirement.specifier.filter(valid))
