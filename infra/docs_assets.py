"""The static files the Data Docs load, pinned npm tarballs fetched once into the cache.

Great-expectations' pages load Bootstrap, jQuery, bootstrap-table, Font Awesome, ... from
CDNs; bureaus read the report on intranets. `ensure_assets` downloads each pinned tarball
from the npm registry (checked against its sha256), keeps the files the pages load under
`<cache_dir>/datadocs-assets-<digest>/`, and later needs no network. `scripts/bootstrap.sh`
runs it (`python -m infra.docs_assets`) so a fresh clone has them before the first check.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.errors import InfraError
from infra.settings import Settings

__all__ = ["NPM_REGISTRY", "Package", "PACKAGES", "asset_dir", "cdn_map", "ensure_assets"]

NPM_REGISTRY = "https://registry.npmjs.org"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Package:
    """One npm tarball: which of its files to keep, and the CDN address each one replaces."""

    name: str
    version: str
    sha256: str
    #: tarball member (below `package/`) -> the CDN URLs that load it ("" = kept, not loaded)
    files: Mapping[str, tuple[str, ...]]

    @property
    def folder(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}"

    @property
    def tarball(self) -> str:
        return f"{NPM_REGISTRY}/{self.name}/-/{self.folder}.tgz"


_UNPKG, _CDNJS = "https://unpkg.com", "https://cdnjs.cloudflare.com/ajax/libs"
_JSD = "https://cdn.jsdelivr.net/npm"

#: The versions are the ones great-expectations' templates name (render/view/templates);
#: vega's are the newest of the major version they name. bootstrap-table's filter-control
#: CSS is named at 1.19.0 and served from 1.19.1, the version of its script.
PACKAGES: tuple[Package, ...] = (
    Package(
        "bootstrap",
        "4.3.1",
        "b109c069bbb7cee57c3ddffb65d8481db5fe7e428b6d9b1ca502119a0429bd16",
        {
            "dist/css/bootstrap.min.css": (
                "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
            ),
            "dist/js/bootstrap.min.js": (
                "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
            ),
        },
    ),
    Package(
        "jquery",
        "3.7.1",
        "68a9f787516da47c680e09c187bcbac4536b6f85d90eb882844e12919e583f53",
        {"dist/jquery.min.js": ("https://code.jquery.com/jquery-3.7.1.min.js",)},
    ),
    Package(
        "bootstrap-table",
        "1.19.1",
        "80f84cbf2f8f92e0d5444a82fb99495ab8a286b5cdb0594102e568eb9d9fa69a",
        {
            "dist/bootstrap-table.min.css": (
                f"{_UNPKG}/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
            ),
            "dist/bootstrap-table.min.js": (
                f"{_UNPKG}/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
            ),
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
                f"{_UNPKG}/bootstrap-table@1.19.1/dist/extensions/filter-control/"
                "bootstrap-table-filter-control.min.js",
            ),
            "dist/extensions/filter-control/bootstrap-table-filter-control.css": (
                f"{_UNPKG}/bootstrap-table@1.19.0/dist/extensions/filter-control/"
                "bootstrap-table-filter-control.css",
            ),
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
                f"{_UNPKG}/bootstrap-table@1.19.0/dist/extensions/filter-control/"
                "bootstrap-table-filter-control.min.css",
            ),
        },
    ),
    Package(
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "20b089d52bc2ae80424fc43e5263023e96bd8479e7c5d346b8766c1b792a1cfd",
        {
            "dist/css/bootstrap-prefers-dark.css": (
                f"{_JSD}/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
            )
        },
    ),
    Package(
        "bootstrap-datepicker",
        "1.9.0",
        "342bd95b65db796e0ac35ad9296edbe6733daefc9869b2e5b27286d423e38146",
        {
            "dist/css/bootstrap-datepicker.min.css": (
                f"{_CDNJS}/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
            ),
            "dist/js/bootstrap-datepicker.min.js": (
                f"{_CDNJS}/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
            ),
        },
    ),
    Package(
        "popper.js",
        "1.12.9",
        "4233fad2da34a2a6bc982e7e02c85c14180af075853d97d7e3bfa7124c853cbf",
        {"dist/umd/popper.min.js": (f"{_CDNJS}/popper.js/1.12.9/umd/popper.min.js",)},
    ),
    Package(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "cf0b890ab2b68d3c4ea0f93ceb81cc24b956cccf9db36c63be044a672bd3b4dd",
        {
            "css/all.min.css": (f"{_CDNJS}/font-awesome/6.6.0/css/all.min.css",),
            # all.min.css loads these as ../webfonts/...
            **{
                f"webfonts/fa-{face}.{ext}": ()
                for face in ("brands-400", "regular-400", "solid-900", "v4compatibility")
                for ext in ("woff2", "ttf")
            },
        },
    ),
    Package(
        "vega",
        "5.30.0",
        "96352a8d06d34f3263ff60404024a8e8acb9bcbcbb2e4a54e8df0bdd3ffa9a89",
        {"build/vega.min.js": (f"{_JSD}/vega@5",)},
    ),
    Package(
        "vega-lite",
        "5.21.0",
        "48e7a352a7d49811c3d1e15c400f5f9386b16e2affd1835939eb41b3f30b88ff",
        {"build/vega-lite.min.js": (f"{_JSD}/vega-lite@5",)},
    ),
    Package(
        "vega-embed",
        "6.26.0",
        "74b6ffafdb4c5205a17b03ae53100070b656da3698f25fce24412f3ce3e42280",
        {"build/vega-embed.min.js": (f"{_JSD}/vega-embed@6",)},
    ),
)


def _digest() -> str:
    text = "\n".join(f"{p.name}@{p.version}:{p.sha256}:{sorted(p.files)}" for p in PACKAGES)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def asset_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"datadocs-assets-{_digest()}"


def cdn_map() -> dict[str, str]:
    """CDN URL -> the file's path inside the asset folder (`<package-folder>/<member>`)."""
    return {
        url: f"{p.folder}/{member}"
        for p in PACKAGES
        for member, urls in p.files.items()
        for url in urls
    }


def ensure_assets(settings: Settings | None = None, say: Say = lambda _m: None) -> Path:
    """The asset folder, downloaded once; raises `InfraError` naming the fix when it cannot."""
    settings = settings or Settings.from_env()
    target = asset_dir(settings)
    marker = target / ".complete"
    if marker.exists():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for package in PACKAGES:
        say(f"fetching {package.name}@{package.version} for the Data Docs")
        _unpack(package, _download(package), staging / package.folder)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    marker.write_text(_digest(), encoding="utf-8")
    return target


def _download(package: Package) -> bytes:
    try:
        with urllib.request.urlopen(package.tarball, timeout=60) as response:
            body: bytes = response.read()
    except OSError as err:
        raise InfraError(
            f"could not download {package.tarball} ({err}); the Data Docs' static files are "
            "fetched once, while online: run scripts/bootstrap.sh on a machine that reaches "
            f"the npm registry (or copy {package.folder}.tgz's files into the cache, "
            "ARREARS_CACHE_DIR)"
        ) from None
    got = hashlib.sha256(body).hexdigest()
    if got != package.sha256:
        raise InfraError(
            f"{package.tarball}: sha256 {got}, expected {package.sha256} (pinned in "
            "infra/docs_assets.py); refusing a tarball that is not the pinned one"
        )
    return body


def _unpack(package: Package, body: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for member in package.files:
            handle = tar.extractfile(f"package/{member}")
            if handle is None:
                raise InfraError(f"{package.tarball} has no file package/{member}")
            dest = into / member
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(handle.read())


def main() -> int:
    try:
        path = ensure_assets(say=lambda m: print(f"arrears: {m}", file=sys.stderr))
    except InfraError as err:
        print(f"arrears: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
