"""Attacks on the issue-11 changes that still break them, left for a decision in src
(each says what plain micropip does with the same answers)."""

import json

from .fakes import Scripted, page
from .test_real_shapes import M, install, serve


def test_a_dependency_whose_every_file_excludes_this_python_installs_as_plain_micropip_does():
    """Stale upper bounds (``requires-python = "<3.13"``) are common; Pyodide 314 runs
    Python 3.14. Plain micropip ignores requires-python and installs leaf 2.0.0;
    for_this_python hides every leaf file, so the install fails with "Can't find a
    pure Python 3 wheel for 'leaf'": a plain-only pass. (Hiding is right while another
    version fits, as pip does; when none does, keeping them as the last resort, as
    without_yanked now does, would keep the never-worse rule.)"""
    routes = serve(M, "metadata-ok")
    body = json.loads(routes[M.project_url("leaf")].body)
    for f in body["files"]:
        f["requires-python"] = "<3.0"
    routes[M.project_url("leaf")] = page(M.project_url("leaf"), json.dumps(body).encode())
    assert install("app", Scripted(routes))["leaf"] == "2.0.0"
