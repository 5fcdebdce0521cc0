"""Issue 12: the home page's numbers are counted at build time (graph/rdf/family_summary.py) and
equal the engine's aggregates; the page shows the top entries with those counts, and a store
built without them gets the same page from bounded engine queries."""
from __future__ import annotations

import html as html_lib
import re
import shutil
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, Store

from graph.build import build_store
from graph.rdf.family_summary import PREVIEW, RANKED
from graph.rdf.vocab import JLLM
from graph.store.generations import open_store
from server.pages.browse import CLASS_COUNTS, LIVE, PREFIXES, TOP, ranked_lists
from server.pages.labels import href, label
from tests.conftest import make_app

BASE = "https://w3id.org/jllm-kg/"
SECTION_COUNTS = PREFIXES + "SELECT ?item (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a jllm:ModelFamily ; jllm:section ?item } GROUP BY ?item"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The shipped catalog built into a store: its path."""
    path = tmp_path_factory.mktemp("shipped") / "store"
    build_store(store_path=path, echo=lambda *a, **k: None)
    return path


def aggregate(store, query: str) -> dict[str, int]:
    """Item IRI → number of families, by an engine aggregate over the data."""
    return {r["item"].value: int(r["n"].value) for r in store.query(query, use_default_graph_as_union=True)
            if isinstance(r["item"], NamedNode)}


def stored_counts(store) -> dict[str, int]:
    return {q.subject.value: int(q.object.value) for q in store.quads_for_pattern(None, JLLM.familyCount, None, None)}


def family_labels(store, lang: str) -> dict[str, list[tuple[str, str]]]:
    """Section IRI → (label in ``lang``, IRI) of every family in it, in the page's label order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in store.query(PREFIXES + "SELECT ?s ?f WHERE { ?f a jllm:ModelFamily ; jllm:section ?s }", use_default_graph_as_union=True):
        out.setdefault(r["s"].value, []).append((label(store, r["f"], lang, BASE), r["f"].value))
    return {s: sorted(fams, key=lambda lf: (lf[0].casefold(), lf[1])) for s, fams in out.items()}


def copy_without(shipped, tmp_path, *props) -> Path:
    """A copy of the shipped store without the quads of ``props`` (a store built before them): its path."""
    copy = tmp_path / "store"
    shutil.copytree(shipped.resolve(), copy)
    store = Store(str(copy))
    for prop in props:
        for q in list(store.quads_for_pattern(None, prop, None, None)):
            store.remove(q)
    store.flush()
    del store
    return copy


def test_build_time_counts_equal_the_engine_aggregates(shipped):
    store = open_store(shipped)
    stored = stored_counts(store)
    expected: dict[str, int] = {}
    for query in (SECTION_COUNTS, *(PREFIXES + LIVE[name] for name in ("developers", "datasets", "licences"))):
        found = aggregate(store, query)
        assert found and not set(found) & set(expected)  # each resource is counted in one role
        expected.update(found)
    assert stored == expected
    assert any(n == 0 for n in stored.values()) and max(stored.values()) > 10
    classes = {r["class"].value: int(r["n"].value) for r in store.query(CLASS_COUNTS, use_default_graph_as_union=True)}
    partitions = {r["c"].value: int(r["n"].value) for r in store.query(
        "SELECT ?c ?n WHERE { ?p <http://rdfs.org/ns/void#class> ?c ; <http://rdfs.org/ns/void#entities> ?n }",
        use_default_graph_as_union=True)}
    assert classes and all(partitions[c] == n for c, n in classes.items())  # the page's class counts: the VoID partitions


def test_ranks_name_the_first_of_each_list_by_their_counts(shipped):
    """``jllm:familyRank`` 1…25 per list, most families first and ties in IRI order; ``jllm:developerCount`` on the dataset."""
    store = open_store(shipped)
    ranks = {q.subject.value: int(q.object.value) for q in store.quads_for_pattern(None, JLLM.familyRank, None, None)}
    page = ranked_lists(store)  # what the home page reads from them
    assert page is not None
    found = 0
    for name in ("developers", "datasets", "licences"):
        counted = aggregate(store, PREFIXES + LIVE[name])
        first = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:RANKED]
        assert {iri: ranks.get(iri) for iri, _ in first} == {iri: rank for rank, (iri, _) in enumerate(first, 1)}, name
        found += len(first)
        assert page[name] == (first, len(counted)), name
        if name == "developers":
            totals = [int(q.object.value) for q in store.quads_for_pattern(None, JLLM.developerCount, None, None)]
            assert totals == [len(counted)] and len(counted) > RANKED
    assert len(ranks) == found and found > 2 * RANKED  # nothing else is ranked


def test_a_store_built_before_the_ranks_gets_the_same_page(shipped, tmp_path):
    copy = copy_without(shipped, tmp_path, JLLM.familyRank, JLLM.developerCount)
    before = make_app(shipped).test_client().get("/?lang=ja").get_data(as_text=True)
    after = make_app(copy).test_client().get("/?lang=ja").get_data(as_text=True)
    lists = lambda page: re.findall(r'<ul class="entries">(.*?)</ul>', page, re.S)  # noqa: E731
    assert lists(after) == lists(before) and len(lists(before)) >= 4
    assert "ほか" in "".join(lists(before))  # some list is cut, with its total


def test_previews_hold_the_first_families_by_label_in_every_language(shipped):
    store = open_store(shipped)
    previews: dict[str, set[str]] = {}
    for q in store.quads_for_pattern(None, JLLM.previewFamily, None, None):
        previews.setdefault(q.subject.value, set()).add(q.object.value)
    firsts: dict[str, set[str]] = {}
    for lang in ("ja", "en", "fr"):
        for section, families in family_labels(store, lang).items():
            firsts.setdefault(section, set()).update(iri for _, iri in families[:PREVIEW])
    assert previews == firsts
    assert any(len(f) > PREVIEW for f in family_labels(store, "en").values())  # some section is cut


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_home_shows_the_top_entries_with_their_counts(shipped, lang):
    store = open_store(shipped)
    html = make_app(shipped).test_client().get(f"/?lang={lang}").get_data(as_text=True)
    blocks = dict(zip(("developers", "licences", "datasets", "benchmarks"), re.findall(r'<ul class="entries">(.*?)</ul>', html, re.S)))
    for name in ("developers", "datasets", "licences"):
        ranked = sorted(aggregate(store, PREFIXES + LIVE[name]).items(), key=lambda kv: (-kv[1], kv[0]))
        assert len(ranked) > 5, name
        shown = re.findall(r'<a href="([^"]+)">([^<]*)</a>(?: <span class="count">(\d+)</span>)?', blocks[name])
        entries = [(h, int(n or 0)) for h, text, n in shown if not text.startswith("…")]
        assert sorted(entries) == sorted((href(store, iri, BASE), n) for iri, n in ranked[:TOP]), name
        assert [n for _, n in entries] == sorted((n for _, n in entries), reverse=True)  # most families first
        if len(ranked) > TOP:
            more = {"ja": f"…ほか {len(ranked) - TOP} 件"}.get(lang, f"… {len(ranked) - TOP} more")
            assert more in blocks[name], name
    for section, families in family_labels(store, lang).items():
        head = re.search(re.escape(f'<summary><a href="/{section[len(BASE):]}">') + r'[^<]*</a> <span class="count">(\d+)</span>'
                         r'</summary>\s*<ul class="entries inline">(.*?)</ul>', html, re.S)
        assert head and int(head.group(1)) == len(families), section
        shown = re.findall(r'<li><a href="(/model/[^"]+)">([^<]*)</a></li>', head.group(2))
        assert [(html_lib.unescape(text), html_lib.unescape(path)) for path, text in shown] == [
            (text, href(store, iri, BASE)) for text, iri in families[:PREVIEW]], section
        if len(families) > PREVIEW:
            assert f'<a href="/{section[len(BASE):]}">' in head.group(2)  # "… N more": the section's page


def test_a_store_built_without_the_counts_gets_the_same_numbers(shipped, tmp_path):
    copy = copy_without(shipped, tmp_path, JLLM.familyCount, JLLM.previewFamily)
    before = make_app(shipped).test_client().get("/?lang=en").get_data(as_text=True)
    after = make_app(copy).test_client().get("/?lang=en").get_data(as_text=True)
    numbers = lambda page: re.findall(r'href="([^"]+)">[^<]*</a> <span class="count">(\d+)</span>', page)  # noqa: E731
    assert numbers(after) == numbers(before) and len(numbers(before)) > 3 * TOP
    assert after.count('<li><a href="/model/') == before.count('<li><a href="/model/')  # as many families previewed


def test_a_large_store_built_without_the_counts_lists_without_them(shipped, tmp_path, monkeypatch):
    """Past LIVE_FAMILIES the aggregates would outlast the deadline: the page names sections and entries, bounded, uncounted."""
    import server.pages.browse as browse

    copy = copy_without(shipped, tmp_path, JLLM.familyCount, JLLM.previewFamily)
    store = open_store(copy)
    sections = {r["s"].value for r in store.query(PREFIXES + "SELECT DISTINCT ?s WHERE { ?f a jllm:ModelFamily ; jllm:section ?s }",
                                                  use_default_graph_as_union=True)}
    del store
    monkeypatch.setattr(browse, "LIVE_FAMILIES", 0)
    html = make_app(copy).test_client().get("/?lang=en").get_data(as_text=True)
    assert '<span class="count">' not in html and "<strong>" in html  # no counts but the VoID class partitions
    for section in sections:
        assert f'<summary><a href="/{section[len(BASE):]}">' in html
    blocks = re.findall(r'<ul class="entries">(.*?)</ul>', html, re.S)
    assert all(0 < blocks[i].count("<li>") <= TOP + 1 for i in range(3))  # developers, licences, datasets
