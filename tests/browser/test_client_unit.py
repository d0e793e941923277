"""The browser client's timing rules, tested in Chromium on a fake clock (tests/browser/js).

The JS tests run in one page whose origin exists only inside the browser: Playwright answers
every request from the files on disk (`web/static/` as `/static/`, `tests/browser/js/` as
`/js/`), so no server is involved. Each JS `test("name", ...)` is one pytest case.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).parent / "js"
ORIGIN = "http://unit.test"
RUN_BOUND_MS = 60_000
FOLDERS = {"/static/": ROOT / "web" / "static", "/js/": JS_DIR}
JS_FILES = sorted(path.name for path in JS_DIR.glob("test_*.js"))
CASES = [
    (name, case)
    for name in JS_FILES
    for case in re.findall(r'^test\("((?:[^"\\]|\\.)*)"', (JS_DIR / name).read_text(), re.M)
]
RUNNER = """<!doctype html><meta charset="utf-8"><script type="module">
import {runTests, takeRegistered} from "/js/harness.js";
window.runAll = async (files) => {
  const results = [];
  for (const file of files) {
    await import(`/js/${file}`);
    for (const result of await runTests(takeRegistered())) results.push({file, ...result});
  }
  return results;
};
window.ready = true;
</script>"""


START = """files => {
  runAll(files).then(
    (results) => { window.results = results; },
    (error) => {
      window.results = [{file: "(runner)", name: "import", ok: false, error: String(error)}];
    });
}"""


def _serve_file(route) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        route.fulfill(body=RUNNER, content_type="text/html")
        return
    for prefix, folder in FOLDERS.items():
        if path.startswith(prefix) and "/.." not in path:
            file = folder / path.removeprefix(prefix)
            if file.is_file():
                route.fulfill(body=file.read_bytes(), content_type="text/javascript")
                return
    route.fulfill(status=404, body="not found")


@pytest.fixture(scope="module")
def js_results(chromium) -> dict[tuple[str, str], dict]:
    context = chromium.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(f"{ORIGIN}/**", _serve_file)
        page.goto(f"{ORIGIN}/")
        page.wait_for_function("window.ready === true", timeout=10_000)
        # Started, then polled: a test that starves the page's event loop would hang an
        # awaited evaluate forever, while this wait is bounded on Playwright's side.
        page.evaluate(START, JS_FILES)
        page.wait_for_function("window.results !== undefined", timeout=RUN_BOUND_MS)
        results = page.evaluate("window.results")
        assert not errors, errors
    finally:
        context.close()
    return {(r["file"], r["name"]): r for r in results}


@pytest.mark.parametrize(("file", "name"), CASES, ids=[f"{f}::{n}" for f, n in CASES])
def test_js(js_results, file: str, name: str) -> None:
    result = js_results.get((file, name))
    assert result is not None, "the JS test did not run"
    assert result["ok"], result["error"]


def test_every_js_test_is_a_pytest_case(js_results) -> None:
    assert CASES, "no JS tests found"
    assert set(js_results) == set(CASES)
