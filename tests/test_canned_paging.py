"""Issue 12: every canned query pages its ordered results with ``limit``/``offset`` (CLI, HTTP, OpenAPI)."""
from __future__ import annotations

import json

import pytest
from pyoxigraph import Store

from graph.canned import MAX_LIMIT, ParamError, Page, QUERIES_DIR, get_query, parse_query_file, run_query
from graph.errors import SourceError
from graph.store.generations import open_store
from tests.conftest import make_app

QUERY_NAMES = sorted(p.stem for p in QUERIES_DIR.glob("*.rq"))


@pytest.fixture(scope="module")
def store(seed_store_path) -> Store:
    return open_store(seed_store_path)


@pytest.fixture(scope="module")
def client(seed_store_path):
    return make_app(seed_store_path).test_client()


def rows(store: Store, name: str, **values: str) -> list[tuple]:
    return [tuple(None if t is None else t.value for t in sol) for sol in run_query(store, get_query(name), values)]


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_pages_are_slices_of_the_ordered_results(store, name):
    full = rows(store, name, limit=str(MAX_LIMIT))
    assert len(full) < MAX_LIMIT
    if get_query(name).default_limit is None:
        assert rows(store, name) == full
    for limit, offset in ((1, 0), (3, 0), (3, 3), (2, max(len(full) - 1, 0)), (5, len(full) + 10)):
        assert rows(store, name, limit=str(limit), offset=str(offset)) == full[offset:offset + limit], (limit, offset)
    assert rows(store, name, offset="2", limit=str(MAX_LIMIT)) == full[2:]


def test_default_page_size_from_the_header(store):
    q = get_query("descendants")
    assert q.default_limit == 100
    assert len(rows(store, "descendants", model="llama-2", limit="2")) == 2


@pytest.mark.parametrize("values,param", [({"limit": "0"}, "limit"), ({"limit": str(MAX_LIMIT + 1)}, "limit"),
                                          ({"limit": "x"}, "limit"), ({"offset": "-1"}, "offset"),
                                          ({"offset": "1 UNION"}, "offset")])
def test_bad_paging_values_name_the_parameter(store, values, param):
    with pytest.raises(ParamError) as err:
        rows(store, "descendants", **values)
    assert err.value.param == param


def test_page_sparql_is_appended_after_order_by():
    assert Page().sparql("SELECT * {} ORDER BY ?x\n") == "SELECT * {} ORDER BY ?x\n"
    assert Page(5).sparql("SELECT * {} ORDER BY ?x\n") == "SELECT * {} ORDER BY ?x\nLIMIT 5\n"
    assert Page(None, 7).sparql("SELECT * {} ORDER BY ?x") == "SELECT * {} ORDER BY ?x\nOFFSET 7\n"


def test_paging_names_are_reserved_in_headers(tmp_path):
    path = tmp_path / "bad.rq"
    path.write_text("#+ title: x\n#+ params:\n#+   - {name: limit, type: integer, default: 3}\nSELECT * {}\n", encoding="utf-8")
    with pytest.raises(SourceError, match="reserved for paging"):
        parse_query_file(path)


def test_http_pages_json_and_csv(client):
    full = client.get("/queries/descendants.json?model=llama-2").get_json()["results"]["bindings"]
    assert len(full) >= 4
    page = client.get("/queries/descendants.json?model=llama-2&limit=2&offset=1")
    assert page.status_code == 200 and page.get_json()["results"]["bindings"] == full[1:3]
    csv_page = client.get("/queries/descendants.csv?model=llama-2&limit=2")
    assert len(csv_page.data.decode().strip().splitlines()) == 3  # header + 2 rows
    bad = client.get("/queries/descendants.json?limit=0")
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("parameter 'limit'")
    html = client.get("/queries/descendants.html?model=llama-2&limit=2")
    assert html.status_code == 200 and "limit=2" in html.headers["Link"]


def test_openapi_documents_limit_and_offset_for_every_query(client):
    doc = json.loads(client.get("/openapi.json").data)
    for name in QUERY_NAMES:
        params = {p["name"]: p for p in doc["paths"][f"/queries/{name}.json"]["get"]["parameters"]}
        assert params["limit"]["schema"]["maximum"] == MAX_LIMIT and params["limit"]["schema"]["minimum"] == 1
        assert params["offset"]["schema"]["minimum"] == 0
    assert doc["paths"]["/queries/descendants.json"]["get"]["parameters"][-2]["schema"]["default"] == 100
