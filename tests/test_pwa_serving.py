"""How Flask serves the PWA: one release hash over every shipped file, immutable hashed assets,
a revalidated shell/worker/manifest that name the release, gzip, and nothing else leaked."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.web import pwa
from tests.conftest import make_settings


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    """Serving the PWA touches no database: one engine is enough."""
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'unused.sqlite3'}", tmp_path))
    return app.test_client()


def release_of(client: FlaskClient) -> str:
    return str(client.application.extensions["chorus_pwa"].release)


def test_shell_names_the_release_and_is_revalidated(client: FlaskClient) -> None:
    release = release_of(client)
    response = client.get("/app/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'src="/app/v/{release}/js/main.js"' in html
    assert f'<link rel="modulepreload" href="/app/v/{release}/js/router.js">' in html
    assert "__CHORUS" not in html
    # The app's strict CSP still applies: no inline script in the shell.
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html


def test_hashed_assets_are_immutable_and_other_releases_are_not_found(client: FlaskClient) -> None:
    release = release_of(client)
    response = client.get(f"/app/v/{release}/js/expressions.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.mimetype == "text/javascript"
    assert client.get(f"/app/v/{'0' * 16}/js/expressions.js").status_code == 404
    missing = client.get(f"/app/v/{release}/js/nope.js")
    assert missing.status_code == 404
    assert missing.headers["Cache-Control"] == "no-store"


def test_server_side_files_are_not_shipped(client: FlaskClient) -> None:
    release = release_of(client)
    checks = ("package.json", "package-lock.json", "eslint.config.js", "jsconfig.json")
    for name in ("README.md", "tools/make_icons.py", "index.html", "sw.js", *checks):
        assert client.get(f"/app/v/{release}/{name}").status_code == 404, name


def test_worker_carries_release_cache_name_and_precache_list(client: FlaskClient) -> None:
    release = release_of(client)
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.mimetype == "text/javascript"
    source = response.get_data(as_text=True)
    assert f"const RELEASE = '{release}';" in source
    precache_json = source.split("const PRECACHE = ", 1)[1].split(";", 1)[0]
    precache = json.loads(precache_json)
    assert "/app/" in precache
    assert f"/app/v/{release}/js/main.js" in precache
    assert f"/app/v/{release}/locales/ar.json" in precache
    for url in precache:  # everything it will precache really exists
        assert client.get(url).status_code == 200, url


def test_gzip_when_accepted_with_a_distinct_etag(client: FlaskClient) -> None:
    release = release_of(client)
    url = f"/app/v/{release}/css/app.css"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304


def test_manifest_points_at_hashed_icons(client: FlaskClient) -> None:
    release = release_of(client)
    response = client.get("/app/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["start_url"] == "/app/" and manifest["scope"] == "/app/"
    for icon in manifest["icons"]:
        assert icon["src"].startswith(f"/app/v/{release}/icons/")
        assert client.get(icon["src"]).status_code == 200


def test_release_hash_changes_with_any_shipped_byte(tmp_path: Path) -> None:
    root = tmp_path / "frontend"
    for name in (*pwa.TOP_LEVEL, "js/main.js", "css/app.css"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"/* {name} */", "utf-8")
    first = pwa.build_bundle(root).release
    assert pwa.build_bundle(root).release == first
    (root / "css" / "app.css").write_text("/* changed */", "utf-8")
    assert pwa.build_bundle(root).release != first
    (root / "README.md").write_text("not shipped", "utf-8")
    assert pwa.build_bundle(root).release == pwa.build_bundle(root).release


def test_comment_lines_are_blanked_in_shipped_modules() -> None:
    source = (
        b"// A module.\n"
        b"/**\n"
        b" * @param {number} a\n"
        b" */\n"
        b"export function f(a) {\n"
        b"  const url = 'http://example.org/*not a comment*/'; // kept: code on the line\n"
        b"  /* one line */\n"
        b"  return a;\n"
        b"}\n"
    )
    shrunk = pwa.shrink_js(source)
    assert shrunk.split(b"\n") == [
        b"",
        b"",
        b"",
        b"",
        b"export function f(a) {",
        b"const url = 'http://example.org/*not a comment*/'; // kept: code on the line",
        b"",
        b"return a;",
        b"}",
        b"",
    ]
    template = b"const t = `\n// inside a template literal\n`;\n"
    assert pwa.shrink_js(template) == template
    # A string continued on the next line keeps that line's spaces: the file ships as it is.
    continued = b"const s = 'a \\\n    b';\n"
    assert pwa.shrink_js(continued) == continued
    code_after = b"/* note\n still */ const x = 1;\n"
    assert pwa.shrink_js(code_after) == code_after
    assert pwa.shrink_js(b"/**/\nx();\n/* a */ y();\n") == b"/**/\nx();\n/* a */ y();\n"


def test_modulepreload_covers_the_static_import_graph_only(tmp_path: Path) -> None:
    root = tmp_path / "frontend"
    files = {
        "index.html": "<!--__CHORUS_MODULEPRELOAD__-->",
        "sw.js": "",
        "manifest.webmanifest": "{}",
        "js/main.js": (
            "import { a } from './a.js';\nimport {\n  b,\n} from './screens/b.js';\n"
            "import('./app.js').then((app) => app.start());\n"
        ),
        "js/app.js": "import { a } from './a.js';\nimport { e } from './e.js';\n",
        "js/e.js": "",
        "js/a.js": "export const a = 1;\nconst later = () => import('./lazy.js');\n",
        "js/screens/b.js": "import '../c.js';\nexport * from '../d.js';\nexport const b = 2;\n",
        "js/c.js": "",
        "js/d.js": "",
        "js/lazy.js": "import { a } from './a.js';\n",
        "js/unused.js": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    bundle = pwa.build_bundle(root)
    preloaded = [
        line.split(f"/app/v/{bundle.release}/", 1)[1].removesuffix('">')
        for line in bundle.shell.body.decode().splitlines()
    ]
    # main.js's graph first, then what main.js itself imports on demand (app.js and its graph);
    # a dynamic import anywhere else (a.js's lazy.js) stays out.
    assert preloaded == [
        "js/main.js",
        "js/a.js",
        "js/c.js",
        "js/d.js",
        "js/screens/b.js",
        "js/app.js",
        "js/e.js",
    ]


@pytest.mark.parametrize("path", ["/app", "/app/"])
def test_app_root_answers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (200, 308)


def test_the_shell_preloads_the_english_strings_it_always_fetches(client: FlaskClient) -> None:
    shell = client.get("/app/").get_data(as_text=True)
    line = next(line for line in shell.splitlines() if "locales/en.json" in line)
    assert 'rel="preload" as="fetch"' in line and "crossorigin" in line
    # The same hashed URL the app fetches, so the preloaded answer is the one used.
    href = line.split('href="', 1)[1].split('"', 1)[0]
    assert href.startswith("/app/v/") and client.get(href).status_code == 200


def test_first_load_stays_within_30_kb_gzip() -> None:
    # Issue #17: the shell, the stylesheet and every module of the static graph (what a first
    # visit fetches before the first question) stay within 30 KB gzip as features grow; what
    # a screen loads with import() is not counted. bench/pwa_first_load.py measures the wire.
    bundle = pwa.load_bundle()
    files = {name: (pwa.FRONTEND / name).read_bytes() for name in pwa.shipped_files(pwa.FRONTEND)}
    first = [*pwa.first_load_modules(files, "js/main.js"), "css/app.css"]
    sizes = [bundle.shell, *(bundle.assets[name] for name in first)]
    total = sum(len(asset.gzipped or asset.body) for asset in sizes)
    assert total <= 30 * 1024, f"{total / 1024:.1f} KB"
