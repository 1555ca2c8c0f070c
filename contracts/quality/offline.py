"""Data Docs that render with no network: the CDN files they load, copied beside them.

>>> make_offline(docs_dir, assets, cdn_map())  # doctest: +SKIP

`assets` is a folder of pinned files and `cdn` maps each CDN URL great-expectations' pages
load to a file in it (the command layer supplies both: `infra.docs_assets`). Every written
HTML and CSS file is rewritten to point at the copies under `static/vendor/`; GX's logo,
loaded from its S3 bucket, points at the copy GX already writes to `static/images/`. What is
left loading from the network afterwards is an error, not a silently broken page.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["VENDOR", "OfflineDocsError", "loaded_urls", "make_offline", "written_files"]

VENDOR = "static/vendor"
_LOGO = "static/images/logo-long.png"
_S3_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3[^\"')\s]*?\.png(\?[^\"')\s]*)?")
_UP_STATIC = re.compile(r"(?<=[\"'])(?:\.\./)+static/")
_SUFFIXES = (".html", ".htm", ".css", ".js")

# A reference a browser fetches by itself: src= (script, img, iframe, ...), any <link href>
# (stylesheets, icons, preloads), CSS url() and @import. <a href> is a link a person clicks.
_REMOTE = r"(?:https?:)?//[^\"'\s)>]+"
_LOADED = (
    re.compile(rf"""<[a-z]+\b[^>]*?\s(?:src|srcset|data)\s*=\s*["']?({_REMOTE})""", re.I),
    re.compile(rf"""<link\b[^>]*?\shref\s*=\s*["']?({_REMOTE})""", re.I),
    re.compile(rf"""url\(\s*["']?({_REMOTE})""", re.I),
    re.compile(rf"""@import\s+(?:url\()?\s*["']?({_REMOTE})""", re.I),
)


class OfflineDocsError(Exception):
    """A written page still loads something from the network, or an asset is missing."""


def loaded_urls(text: str) -> list[str]:
    """The remote URLs a browser would fetch to render `text` (HTML, CSS or JS source)."""
    return [m.group(1) for pattern in _LOADED for m in pattern.finditer(text)]


def written_files(docs_dir: Path) -> Iterator[Path]:
    """Every HTML, CSS and JS file under `docs_dir` (the copies included)."""
    return (p for p in sorted(docs_dir.rglob("*")) if p.suffix in _SUFFIXES and p.is_file())


def make_offline(docs_dir: Path, assets: Path, cdn: Mapping[str, str]) -> None:
    """Copy `assets` to `docs_dir/static/vendor` and point every page at the copies."""
    missing = sorted({rel for rel in cdn.values() if not (assets / rel).is_file()})
    if missing:
        raise OfflineDocsError(
            f"the Data Docs assets in {assets} lack {', '.join(missing[:3])}; run "
            "scripts/bootstrap.sh (it fetches them once, while online)"
        )
    vendor = docs_dir / VENDOR
    shutil.rmtree(vendor, ignore_errors=True)
    shutil.copytree(assets, vendor, ignore=shutil.ignore_patterns(".complete"))
    # longest first: no URL is rewritten through a prefix of another
    urls = sorted(cdn, key=len, reverse=True)
    left: list[str] = []
    for path in written_files(docs_dir):
        if path.is_relative_to(vendor):
            continue
        text = path.read_text("utf-8")
        up = os.path.relpath(docs_dir, path.parent).replace(os.sep, "/")
        new = text
        if path.suffix in (".html", ".htm"):
            # GX writes some pages' own static/ paths one level short (the favicon)
            new = _UP_STATIC.sub(f"{up}/static/", new)
        for url in urls:
            new = new.replace(url, f"{up}/{VENDOR}/{cdn[url]}")
        new = _S3_IMAGE.sub(f"{up}/{_LOGO}", new)
        if new != text:
            path.write_text(new, "utf-8")
        left += [f"{path.relative_to(docs_dir)}: {url}" for url in loaded_urls(new)]
    if left:
        raise OfflineDocsError(
            "Data Docs pages still load from the network (add the file to "
            "infra/docs_assets.py PACKAGES):\n  " + "\n  ".join(sorted(set(left))[:20])
        )
