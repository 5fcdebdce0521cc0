"""End to end in real headless Chromium (Debian ``chromium`` driven by Playwright) against the real server.

Skips with a clear reason when /usr/bin/chromium or the playwright package is absent. Screenshots
go to test-artifacts/.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode
from pathlib import Path

import pytest
import requests

from tests.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(seed_store_path):
    """The real server (``jllm-kg serve``) on a free port of 127.0.0.1; yields its base URL."""
    with LiveServer(seed_store_path, workers=1) as live:
        yield live.base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    p = context.new_page()
    yield p
    context.close()


def test_search_swallow_follow_base_to_llama_2_and_see_lineage(server, page):
    page.goto(server + "/")
    assert "What the graph holds" in page.content()
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
    page.fill(".hero input[name=q]", "Swallow")
    page.click(".hero button[type=submit]")
    page.wait_for_url("**/search?**")
    page.screenshot(path=str(ARTIFACTS / "search.png"))
    page.click("ul.hits a:text-is('Swallow 7B')")
    page.wait_for_url("**/model/swallow-7b")
    assert page.inner_text("h1") == "Swallow 7B"
    page.screenshot(path=str(ARTIFACTS / "swallow-7b.png"), full_page=True)
    # follow its base model (the "base model" row of the properties table)
    row = page.locator("table.props tr", has=page.locator("th a", has_text=re.compile(r"^base model$")))
    row.locator("td a", has_text=re.compile(r"^Llama 2$")).click()
    page.wait_for_url("**/model/llama-2")
    assert page.inner_text("h1") == "Llama 2"
    svg = page.locator("svg.lineage")
    assert svg.is_visible()
    titles = svg.locator("a > title").all_text_contents()
    assert "Youri 7B" in titles and "houou-7b" in titles and "Swallow 7B" in titles
    page.screenshot(path=str(ARTIFACTS / "llama-2.png"), full_page=True)
    # a node of the picture is a link to its page
    svg.locator("a:has(title:text-is('houou-7b'))").click()
    page.wait_for_url("**/model/houou-7b")


def test_sparql_editor_runs_a_query(server, page):
    probe = requests.get(server + "/sparql", params={"query": "ASK {}"}, headers={"Accept": "application/sparql-results+json"}, timeout=10)
    assert probe.status_code == 200, probe.text
    page.goto(server + "/sparql-editor")
    mode = page.get_attribute("#yasgui", "data-mode")
    print(f"SPARQL editor mode: {mode}")
    if mode == "yasgui":
        page.wait_for_selector(".yasqe .CodeMirror")
        page.click(".yasqe_queryButton")
        page.wait_for_selector(".yasr table tbody tr", timeout=20000)
        text = page.inner_text(".yasr")
    else:
        page.click("#plain-form button[type=submit]")
        page.wait_for_selector("#plain-results table tbody tr", timeout=20000)
        text = page.inner_text("#plain-results")
    assert "Swallow 7B" in text or "https://w3id.org/jllm-kg/model/" in text
    page.screenshot(path=str(ARTIFACTS / f"sparql-editor-{mode}.png"), full_page=True)


BOXES_JS = """nodes => nodes.map(a => {
    const rect = a.querySelector('rect').getBBox(), text = a.querySelector('text').getBBox();
    return {href: a.getAttribute('href'), title: a.querySelector('title').textContent,
            lines: [...a.querySelectorAll('tspan')].map(t => t.textContent),
            rect: [rect.x, rect.y, rect.width, rect.height], text: [text.x, text.y, text.width, text.height]};
})"""


def _assert_labels_whole_and_inside(boxes: list[dict]) -> None:
    """Nothing cut, every label inside its box, identical drawings only for identical names."""
    drawn: dict[str, set[str]] = {}
    for b in boxes:
        assert "".join(b["lines"]) == b["title"], b
        x, y, w, h = b["rect"]
        tx, ty, tw, th = b["text"]
        assert x <= tx and tx + tw <= x + w and y <= ty and ty + th <= y + h + 1, b
        drawn.setdefault(" ".join(b["lines"]), set()).add(b["title"])
    assert all(len(titles) == 1 for titles in drawn.values())


def test_llama_2_lineage_columns_and_whole_labels(server, page):
    """Every direct child of Llama 2 in one column, every label drawn whole and inside its box."""
    page.goto(server + "/model/llama-2")
    svg = page.locator("svg.lineage")
    svg.scroll_into_view_if_needed()
    page.locator(".lineage-wrap").screenshot(path=str(ARTIFACTS / "llama-2-lineage.png"))
    page.screenshot(path=str(ARTIFACTS / "model-llama-2.png"), full_page=True)
    boxes = page.eval_on_selector_all("svg.lineage a.node", BOXES_JS)
    children = requests.get(server + "/queries/descendants.json", params={"model": "llama-2"}, timeout=20).json()
    direct = {row["descendant"]["value"].rsplit("/", 1)[-1] for row in children["results"]["bindings"]
              if row["depth"]["value"] == "1"}
    assert len(direct) > 1
    columns = {b["rect"][0] for b in boxes if b["href"].rsplit("/", 1)[-1] in direct}
    assert len(columns) == 1, columns
    assert {b["href"].rsplit("/", 1)[-1] for b in boxes} >= direct
    _assert_labels_whole_and_inside(boxes)


@pytest.mark.parametrize("path", ["/model/tohokuuniversitybert?lang=ja", "/model/mistral-7b-v0-1?lang=fr",
                                  "/model/hf/rinna/youri-7b?lang=en"])
def test_lineage_labels_fit_in_every_language(server, page, path):
    page.goto(server + path)
    boxes = page.eval_on_selector_all("svg.lineage a.node", BOXES_JS)
    assert len(boxes) > 1
    _assert_labels_whole_and_inside(boxes)


def test_model_page_has_no_tofu_and_no_derivation_rows(server, page):
    page.goto(server + "/model/swallow-7b")
    page.screenshot(path=str(ARTIFACTS / "model-swallow-7b.png"), full_page=True)
    text = page.inner_text("main")
    assert "🤗" not in text
    assert "is prov:entity of" not in page.content()


EVIL_QUERY = "SELECT ?x WHERE { BIND(<javascript:void(document.title=document.domain)> AS ?x) }"


def _no_script_links(page, selector: str) -> None:
    hrefs = page.eval_on_selector_all(selector + " a[href]", "links => links.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")], hrefs
    page.eval_on_selector_all(selector + " a[href]", "links => links.forEach(a => a.click())")
    assert "javascript" not in page.title() and "127.0.0.1" not in page.title()


def test_editor_opens_with_one_tab_and_renders_javascript_iris_as_text(server, page):
    page.goto(server + "/sparql-editor?" + urlencode({"query": EVIL_QUERY}))
    if page.get_attribute("#yasgui", "data-mode") != "yasgui":
        pytest.skip("YASGUI assets not installed (npm ci): the plain form is tested below")
    page.wait_for_selector(".yasqe .CodeMirror")
    assert page.locator(".yasgui .tabsList .tab").count() == 1
    page.click(".yasqe_queryButton")
    page.wait_for_selector(".yasr table tbody tr", timeout=20000)
    assert "javascript:void" in page.inner_text(".yasr")
    _no_script_links(page, ".yasr")
    page.screenshot(path=str(ARTIFACTS / "sparql-editor-javascript-iri.png"), full_page=True)
    page.reload()  # nothing persisted: still one tab
    page.wait_for_selector(".yasqe .CodeMirror")
    assert page.locator(".yasgui .tabsList .tab").count() == 1


def test_plain_form_renders_javascript_iris_as_text(server, page):
    page.route("**/static/vendor/yasgui/*", lambda route: route.abort())  # as without the npm assets
    page.goto(server + "/sparql-editor?" + urlencode({"query": EVIL_QUERY}))
    page.click("#plain-form button[type=submit]")
    page.wait_for_selector("#plain-results table tbody tr", timeout=20000)
    assert "javascript:void" in page.inner_text("#plain-results")
    _no_script_links(page, "#plain-results")


def test_sparql_opened_in_a_browser_is_the_editor_page(server, page):
    """A person who opens the endpoint's URL gets the editor (linking the service description), not raw Turtle;
    the page runs under the site's Content-Security-Policy without violations."""
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    response = page.goto(server + "/sparql")
    assert response is not None and response.ok
    assert page.url.endswith("/sparql-editor")
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.all_headers().items()}
    link = page.locator("a[rel=describedby]")
    assert link.get_attribute("href") == "/sparql?format=ttl"
    page.screenshot(path=str(ARTIFACTS / "sparql-page.png"), full_page=True)
    assert violations == []
