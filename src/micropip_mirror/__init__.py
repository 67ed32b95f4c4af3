"""micropip-mirror: micropip.install through an ordered, time-bounded list of
package-index mirrors, with every answer normalized and every wheel hash-checked.

    import micropip_mirror
    micropip_mirror.enable([micropip_mirror.Mirror.cloudflare("https://my-mirror.example.workers.dev"),
                            "https://pypi.org/simple"])
    await micropip.install("requests")
    micropip_mirror.report()
"""

from .errors import (
    AllMirrorsFailed,
    ConfigError,
    InvalidAnswer,
    MirrorError,
    UnsupportedMicropip,
)
from .mirrors import Mirror
from .patch import disable, enable, enabled, is_enabled, ready, report
from .policy import Policy

__version__ = "0.1.0"


def __getattr__(name: str):
    """ProbeSettings on demand: probe.py is only for enable("auto"), so a plain
    import + enable() does not compile it (each module costs ms in Pyodide)."""
    if name == "ProbeSettings":
        from .probe import ProbeSettings

        return ProbeSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AllMirrorsFailed",
    "ConfigError",
    "InvalidAnswer",
    "Mirror",
    "MirrorError",
    "Policy",
    "ProbeSettings",
    "UnsupportedMicropip",
    "disable",
    "enable",
    "enabled",
    "is_enabled",
    "ready",
    "report",
]
