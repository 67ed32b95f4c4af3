"""Public indexes we know, with what each can do; defaults are drawn from here."""

from __future__ import annotations

from dataclasses import dataclass

from .mirrors import PYPI, Mirror


@dataclass(frozen=True)
class Known:
    mirror: Mirror
    cors: bool  # answers cross-origin requests, so usable from a browser page
    layout: str  # "pep691" (JSON), "pep503" (HTML only)
    note: str = ""


CATALOGUE: tuple[Known, ...] = (
    Known(PYPI, cors=True, layout="pep691", note="pypi.org; files on files.pythonhosted.org"),
    Known(Mirror("https://pypi.tuna.tsinghua.edu.cn/simple",
                 files_url="https://pypi.tuna.tsinghua.edu.cn", name="tuna"),
          cors=False, layout="pep691", note="Tsinghua; PyPI's /packages/ layout"),
    Known(Mirror("https://mirrors.aliyun.com/pypi/simple", name="aliyun"),
          cors=False, layout="pep503", note="relative ../../packages/ links"),
    Known(Mirror("https://mirrors.cloud.tencent.com/pypi/simple", name="tencent"),
          cors=False, layout="pep503", note="relative ../../packages/ links"),
)


def usable(in_browser: bool) -> list[Mirror]:
    """The catalogue entries that can work here: CORS matters only in a browser."""
    return [k.mirror for k in CATALOGUE if k.cors or not in_browser]
