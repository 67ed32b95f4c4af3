"""The JupyterLite build-time helper: lockfile entry and kernel settings."""

import hashlib
import json
import zipfile

from micropip_mirror.jupyterlite import ENABLE_LINE, KERNEL_PLUGIN, configure_site


def test_configure_site_adds_the_wheel_and_the_startup_settings(tmp_path):
    pyodide = tmp_path / "static" / "pyodide"
    pyodide.mkdir(parents=True)
    (pyodide / "pyodide-lock.json").write_text(json.dumps({"packages": {"micropip": {"name": "micropip"}}}))
    wheel = tmp_path / "micropip_mirror-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("micropip_mirror/__init__.py", "")
        zf.writestr("micropip_mirror-0.1.0.dist-info/METADATA", "Name: micropip-mirror\n")
    (tmp_path / "jupyter-lite.json").write_text(json.dumps({"jupyter-config-data": {"litePluginSettings": {
        KERNEL_PLUGIN: {"loadPyodideOptions": {"packages": ["numpy"], "env": {"A": "1"}}}}}}))

    configure_site(tmp_path, wheel, ["https://w.example/pypi/simple", "https://pypi.org/simple"])

    entry = json.loads((pyodide / "pyodide-lock.json").read_text())["packages"]["micropip-mirror"]
    assert entry["file_name"] == wheel.name and (pyodide / wheel.name).exists()
    assert entry["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert entry["imports"] == ["micropip_mirror"] and entry["depends"] == ["micropip"]
    options = json.loads((tmp_path / "jupyter-lite.json").read_text())[
        "jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN]["loadPyodideOptions"]
    assert options["packages"] == ["numpy", "micropip", "micropip-mirror"]
    assert options["env"] == {"A": "1", "MICROPIP_MIRROR_URLS":
                              "https://w.example/pypi/simple,https://pypi.org/simple"}
    assert options["args"] == ["-", f"--InteractiveShellApp.exec_lines={ENABLE_LINE}"]
