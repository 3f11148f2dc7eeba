"""Serves the participant PWA (the files in ``frontend/``) at ``/app/``.

At start-up every shipped file is read once, hashed and gzipped in memory. The hash of all of
them is the release: hashed assets live under ``/app/v/<release>/...`` and are immutable, while
the shell (``/app/``), the service worker and the manifest are revalidated on every visit and
name that release, so a deployment changes exactly one thing a phone has to notice. The service
worker's cache name is the same release, so an old cache is dropped when a new worker activates
(IndexedDB, where answers wait, is never touched by that).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request

from app.extensions import settings
from app.participants.preferences import APP_LANGUAGES

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
PREFIX = "/app"
# Only these folders and suffixes ship: frontend/README.md, frontend/tools/ and anything else
# stay on the server.
ASSET_FOLDERS = ("css", "js", "locales", "icons")
ASSET_SUFFIXES = {".css", ".js", ".json", ".png", ".svg"}
TOP_LEVEL = ("index.html", "sw.js", "manifest.webmanifest")
# Hashed URLs never change content, so a year and `immutable` is safe.
IMMUTABLE = "public, max-age=31536000, immutable"
# The shell, worker and manifest carry no personal data but must be checked on every visit.
REVALIDATE = "no-cache"
_COMPRESSIBLE = {".css", ".js", ".json", ".html", ".webmanifest", ".svg"}
_MIMETYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

bp = Blueprint("pwa", __name__, url_prefix=PREFIX)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when gzip would not make it smaller (PNG)
    mimetype: str
    etag: str


@dataclass(frozen=True)
class Bundle:
    """One release of the PWA: its hash, its hashed assets and the three revalidated files."""

    release: str
    assets: Mapping[str, Asset]  # by path relative to frontend/, e.g. "js/main.js"
    shell: Asset
    worker: Asset
    manifest: Asset

    @property
    def asset_base(self) -> str:
        return f"{PREFIX}/v/{self.release}"

    def asset_url(self, name: str) -> str:
        return f"{self.asset_base}/{name}"


def shrink_js(source: bytes) -> bytes:
    """Blanks the lines that are only comments (the JSDoc kept in the source for readers and
    type checkers) and strips indentation: about a third of the gzipped first load, and line
    numbers stay the same. Anything unusual ships the file as it is: a multi-line template
    literal (a line with an odd number of backticks), a line ending in a backslash (a string
    going on), or code after a block comment's end on the same line."""
    lines = source.decode("utf-8").split("\n")
    if any(line.count("`") % 2 or line.rstrip().endswith("\\") for line in lines):
        return source
    out = []
    in_block = False
    for line in lines:
        stripped = line.strip()
        opens = not in_block and stripped.startswith("/*")
        if in_block or opens:
            closes_at = stripped.find("*/", 2 if opens else 0)
            if closes_at != -1 and closes_at != len(stripped) - 2:
                return source
            in_block = closes_at == -1
            out.append("")
        elif stripped.startswith("//"):
            out.append("")
        else:
            out.append(stripped)
    return "\n".join(out).encode("utf-8")


def _asset(body: bytes, suffix: str) -> Asset:
    mimetype = _MIMETYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0] or "text/plain"
    packed = gzip.compress(body, compresslevel=9, mtime=0) if suffix in _COMPRESSIBLE else None
    if packed is not None and len(packed) >= len(body):
        packed = None
    return Asset(body, packed, mimetype, hashlib.sha256(body).hexdigest()[:32])


def shipped_files(root: Path) -> list[str]:
    """Relative paths of the hashed assets, sorted (the precache list is built from them)."""
    names = []
    for folder in ASSET_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in ASSET_SUFFIXES:
                names.append(path.relative_to(root).as_posix())
    return sorted(names)


# `import x from './a.js'`, `import {a,<newline> b} from "../b.js"`, `export * from './c.js'`,
# `import './d.js'`; not `import('./e.js')`, which loads on demand.
_STATIC_IMPORT = re.compile(
    r"""^\s*(?:import|export)\s+(?:[^;'"()]*?\sfrom\s*)?['"](\.{1,2}/[^'"]+)['"]""",
    re.MULTILINE,
)


# `import('./app.js')`: loads on demand (only the entry's own are part of the first load).
_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*['"](\.{1,2}/[^'"]+)['"]\s*\)""")


def first_load_modules(files: Mapping[str, bytes], entry: str) -> list[str]:
    """What the entry needs at start: its static graph, then the static graph of each module
    the entry itself loads with import() (main.js starts the redeem before app.js is there);
    screens loaded with import() elsewhere stay out."""
    modules = static_module_graph(files, entry)
    source = files.get(entry, b"").decode("utf-8")
    for target in _DYNAMIC_IMPORT.findall(source):
        name = posixpath.normpath(posixpath.join(posixpath.dirname(entry), target))
        if name in files:
            modules += [m for m in static_module_graph(files, name) if m not in modules]
    return modules


def static_module_graph(files: Mapping[str, bytes], entry: str) -> list[str]:
    """The modules reachable from `entry` through static imports: entry first, then sorted."""
    seen = {entry}
    pending = [entry]
    while pending:
        current = pending.pop()
        source = files.get(current, b"").decode("utf-8")
        for target in _STATIC_IMPORT.findall(source):
            name = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
            if name in files and name not in seen:
                seen.add(name)
                pending.append(name)
    return [entry, *sorted(seen - {entry})]


def build_bundle(root: Path = FRONTEND) -> Bundle:
    """Read, hash and compress the PWA once. The release hash covers every shipped byte,
    including the templates of the shell, worker and manifest."""
    names = shipped_files(root)
    raw = {name: (root / name).read_bytes() for name in [*names, *TOP_LEVEL]}
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(name.encode() + b"\0" + hashlib.sha256(raw[name]).digest())
    release = digest.hexdigest()[:16]
    base = f"{PREFIX}/v/{release}"
    # One <link rel=modulepreload> per module main.js needs at start: the browser fetches the
    # whole module graph in parallel instead of discovering it import by import (round trips
    # hurt on slow 4G), main.js's own graph first. Screens loaded with import() stay out.
    preload = "\n".join(
        f'    <link rel="modulepreload" href="{base}/{name}">'
        for name in first_load_modules(raw, "js/main.js")
    )
    # The English strings are always fetched (every other language falls back to them) and
    # only after main.js has run: fetch them alongside the modules instead.
    if "locales/en.json" in names:
        preload += (
            f'\n    <link rel="preload" as="fetch" href="{base}/locales/en.json" crossorigin>'
        )

    precache = [f"{PREFIX}/", f"{PREFIX}/manifest.webmanifest"] + [
        f"{base}/{name}" for name in names
    ]

    def render(name: str, extra: Mapping[str, str]) -> bytes:
        text = raw[name].decode("utf-8")
        for placeholder, value in {"__CHORUS_ASSET_BASE__": base, **extra}.items():
            text = text.replace(placeholder, value)
        return text.encode("utf-8")

    return Bundle(
        release=release,
        assets={
            name: _asset(
                shrink_js(raw[name]) if name.endswith(".js") else raw[name], Path(name).suffix
            )
            for name in names
        },
        shell=_asset(
            render(
                "index.html",
                {
                    "<!--__CHORUS_MODULEPRELOAD__-->": preload,
                    # The app's UI languages: the one list, read by frontend/js/i18n.js.
                    "__CHORUS_LANGUAGES__": " ".join(APP_LANGUAGES),
                },
            ),
            ".html",
        ),
        worker=_asset(
            render(
                "sw.js",
                {
                    "__CHORUS_RELEASE__": release,
                    "[/*__CHORUS_PRECACHE__*/]": json.dumps(precache),
                },
            ),
            ".js",
        ),
        manifest=_asset(render("manifest.webmanifest", {}), ".webmanifest"),
    )


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    paths = [root / name for name in [*shipped_files(root), *TOP_LEVEL]]
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


_built: dict[tuple[tuple[str, int, int], ...], Bundle] = {}


def load_bundle(root: Path = FRONTEND) -> Bundle:
    """The bundle for the files as they are now; built once per content (tests create many apps)."""
    key = _fingerprint(root)
    if key not in _built:
        _built.clear()
        _built[key] = build_bundle(root)
    return _built[key]


def init_app(app: Flask, root: Path = FRONTEND) -> None:
    app.extensions["chorus_pwa"] = load_bundle(root)
    app.extensions["chorus_pwa_root"] = root
    app.register_blueprint(bp)


def current_bundle() -> Bundle:
    if settings().is_development:
        # Edits to frontend/ show up on reload without restarting `chorus serve`.
        current_app.extensions["chorus_pwa"] = load_bundle(
            current_app.extensions["chorus_pwa_root"]
        )
    bundle: Bundle = current_app.extensions["chorus_pwa"]
    return bundle


def _send(asset: Asset, cache_control: str) -> Response:
    gzip_ok = asset.gzipped is not None and request.accept_encodings["gzip"] > 0
    body = asset.gzipped if gzip_ok and asset.gzipped is not None else asset.body
    response = Response(body, mimetype=None, content_type=asset.mimetype)
    if gzip_ok:
        response.headers["Content-Encoding"] = "gzip"
    if asset.gzipped is not None:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control
    response.set_etag(asset.etag + ("-gz" if gzip_ok else ""))
    response.make_conditional(request)  # turns a matching If-None-Match into a 304
    return response


@bp.get("")
def app_root() -> Response:
    return redirect(f"{PREFIX}/", code=308)  # type: ignore[return-value]


@bp.get("/")
def shell() -> Response:
    """The app shell; invitation links open it as /app/#join=<token> (the token never reaches
    the server: a fragment is not sent)."""
    return _send(current_bundle().shell, REVALIDATE)


@bp.get("/sw.js")
def worker() -> Response:
    response = _send(current_bundle().worker, REVALIDATE)
    response.headers["Service-Worker-Allowed"] = f"{PREFIX}/"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    return _send(current_bundle().manifest, REVALIDATE)


@bp.get("/v/<release>/<path:name>")
def asset(release: str, name: str) -> Response:
    bundle = current_bundle()
    found = bundle.assets.get(name)
    if release != bundle.release or found is None:
        abort(404)
    return _send(found, IMMUTABLE)
