"""The lineage pages of Llama 2 and of the Llama 3 series model Llama 3, on the shipped (newest) catalog,
in headless Chromium against the real server; screenshots go to test-artifacts/newest-*.png."""
from __future__ import annotations

import pytest

from graph.build import build_store
from tests.live import LiveServer
from tests.test_browser import ARTIFACTS, browser, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def newest_server(tmp_path_factory):
    """``jllm-kg serve`` on a store built from the shipped catalog (upstream 6fe70a0); yields its base URL."""
    store = tmp_path_factory.mktemp("newest-store") / "store"
    build_store(store_path=store, echo=lambda *a, **k: None)
    with LiveServer(store, workers=1) as live:
        yield live.base


@pytest.mark.parametrize("model, label, descendants", [
    # README.md:149 Llama 3 Swallow 8B and README.md:152 Llama 3 ELYZA JP 8B name "Llama 3" as their base;
    # README.md:446 Llama-3-EvoVLM-JP-v2 merges Llama-3-ELYZA-JP-8B
    ("llama-3", "Llama 3", {"Llama 3 Swallow 8B", "Llama 3 ELYZA JP 8B", "Llama-3-EvoVLM-JP-v2"}),
    # houou-7b through Youri 7B, Swallow 7B directly
    ("llama-2", "Llama 2", {"Youri 7B", "houou-7b", "Swallow 7B"}),
])
def test_lineage_page_of_a_base_model(newest_server, page, model, label, descendants):  # noqa: F811
    page.goto(f"{newest_server}/model/{model}")
    assert page.inner_text("h1") == label
    svg = page.locator("svg.lineage")
    assert svg.is_visible()
    titles = set(svg.locator("a > title").all_text_contents())
    assert descendants <= titles, descendants - titles
    page.screenshot(path=str(ARTIFACTS / f"newest-{model}.png"), full_page=True)
