"""The ``jllm-kg`` command line: import, build, validate, export, query, serve.

Each subcommand is a thin wrapper: it parses options, calls one function in
``graph`` or ``server`` and prints. Errors a user can act on (:class:`UserError`)
are printed on one line without a traceback, with a non-zero exit code.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from graph.errors import UserError
from graph.settings import default_store_path
from graph.store.client import ENV, StoreUnavailable, is_remote

_OPTION_ENV = {"store_auth": ENV["auth"], "store_gsp_url": ENV["store"], "store_update_url": ENV["update"],
               "store_query_url": ENV["query"]}


def _remote_settings(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The remote store's URLs and credentials travel in the environment (to serve's processes too)."""
    if value:
        os.environ[_OPTION_ENV[param.name or ""]] = value
    return value


def _store_options(command):
    """``--store PATH|URL`` and the remote store's optional endpoint URLs and credentials."""
    for name, env, text in (
            ("--store-auth", "auth", "USER:PASSWORD for the remote store (or $JLLM_KG_STORE_AUTH)."),
            ("--store-gsp-url", "store", "Graph Store Protocol URL of the remote store (default: <store>store)."),
            ("--store-update-url", "update", "SPARQL Update URL of the remote store (default: <store>update)."),
            ("--store-query-url", "query", "SPARQL query URL of the remote store (default: <store>query).")):
        command = click.option(name, default=None, expose_value=False, callback=_remote_settings,
                               help=text + f" Env: {ENV[env]}.")(command)
    return click.option(
        "--store", "store", default=None,
        help="On-disk Oxigraph store PATH, or the URL of a SPARQL 1.1 store (http://host:7878/) "
             "(default: $JLLM_KG_STORE or ~/.local/share/jllm-kg/store).")(command)


STORE_OPTION = _store_options


def _location(store: str | None) -> Path | str:
    """The store a ``--store`` value names: a path, or a remote store's URL."""
    value = store or default_store_path()
    return str(value) if is_remote(value) else Path(value)


class _Group(click.Group):
    """A group that turns :class:`UserError` (and YAML/OS errors) into one-line messages."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (UserError, StoreUnavailable) as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="jllm-kg")
def main() -> None:
    """jllm-kg: the knowledge graph of Japanese large language models."""


@main.command("import")
@click.argument("readme", required=False, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--upstream", "upstream", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="An upstream checkout, a directory in its layout (COMMIT file), or a git repository (with --rev).")
@click.option("--rev", "rev", default=None, help="With --upstream: the git revision to read (through git show).")
@click.option("--en", "en", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="English README of the same commit.")
@click.option("--fr", "fr", type=click.Path(path_type=Path, exists=True, dir_okay=False), help="French README of the same commit.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Directory to write the catalog entry files into.")
@click.option("--registries", "registries", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Curated registries directory (default: catalog/registries of this project).")
@click.option("--commit", "commit", default=None, help="Upstream commit the READMEs come from (recorded as provenance).")
def import_cmd(readme: Path | None, upstream: Path | None, rev: str | None, en: Path | None, fr: Path | None, out: Path,
               registries: Path | None, commit: str | None) -> None:
    """Import the catalog (an upstream revision, or README files: ja with optional en/fr) into YAML entry files."""
    from graph.importer import run_import, run_upstream_import

    if (readme is None) == (upstream is None):
        raise UserError("give either README (the per-file form) or --upstream DIR, not both or neither")
    if upstream is not None:
        if en or fr:
            raise UserError("--en/--fr are found in the upstream layout: drop them when using --upstream")
        report = run_upstream_import(upstream, rev=rev, out=out, registries=registries, commit=commit)
    else:
        if rev:
            raise UserError("--rev needs --upstream DIR")
        report = run_import(readme, en=en, fr=fr, out=out, registries=registries, commit=commit)
    click.echo(report.render())


@main.command("build")
@click.option("--catalog", "catalog_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Catalog directory (default: the shipped catalog/).")
@STORE_OPTION
@click.option("--base", "base", default=None, help="IRI base for resources (default: $JLLM_KG_BASE or https://w3id.org/jllm-kg/).")
@click.option("--if-changed", is_flag=True, help="Do nothing when the store was built from the same catalog, ontology and code.")
@click.option("--load-part-mb", "load_part_mb", type=click.IntRange(min=0), default=None,
              help="Load the mapped N-Quads in parts of about this many MB, one engine bulk load each, two at a time "
                   "($JLLM_KG_BUILD_LOADERS): bounds the loader's memory, costs a compaction. 0: one bulk load. "
                   "Default: one bulk load up to 256 MB of N-Quads, parts of 64 MB above.")
@click.option("--load-round-mb", "load_round_mb", type=click.IntRange(min=0), default=None,
              help="Load the mapped N-Quads in rounds of about this many MB, the store compacted between two: bounds "
                   "the engine's files on disk, costs a compaction per round. 0: one round. Default: as many rounds "
                   "as the free disk space needs (one while a whole load fits).")
def build_cmd(catalog_dir: Path | None, store: str | None, base: str | None, if_changed: bool,
              load_part_mb: int | None, load_round_mb: int | None) -> None:
    """Build the graph from the catalog into the store (atomic, SHACL-validated)."""
    import catalog as catalog_package
    import ontology
    from graph.build import build_store
    from graph.store.fingerprint import fingerprint, record, up_to_date
    from graph.rdf.iris import Iris

    store_path = _location(store)
    part_bytes = None if load_part_mb is None else load_part_mb << 20
    round_bytes = None if load_round_mb is None else load_round_mb << 20
    inputs = fingerprint(catalog_dir or catalog_package.PATH, ontology.PATH, Iris.default(base).base)
    if isinstance(store_path, str):
        from graph.store.client import Endpoints, HttpTransport
        from graph.store.publish import build_remote, current_pointer

        transport = HttpTransport(Endpoints.of(store_path), timeout=120.0)
        pointer = current_pointer(transport, store_path) if if_changed else None
        if pointer is not None and pointer.inputs == inputs:
            click.echo(f"{store_path} is up to date (same catalog, ontology and code): not rebuilt")
            return
        build_remote(store_path, catalog_dir=catalog_dir, base=base, inputs=inputs, echo=click.echo, transport=transport,
                     part_bytes=part_bytes, round_bytes=round_bytes)
        return
    if if_changed and up_to_date(store_path, inputs):
        click.echo(f"{store_path} is up to date (same catalog, ontology and code): not rebuilt")
        return
    build_store(catalog_dir=catalog_dir, store_path=store_path, base=base, echo=click.echo, part_bytes=part_bytes,
                round_bytes=round_bytes)
    record(store_path, inputs)


@main.command("validate")
@click.option("--catalog", "catalog_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Validate the graph built from this catalog instead of the store.")
@STORE_OPTION
def validate_cmd(catalog_dir: Path | None, store: str | None) -> None:
    """Check the graph against the SHACL shapes (ontology/shapes.ttl)."""
    from graph.rdf.validate import validate_command

    ok = validate_command(catalog_dir=catalog_dir, store_path=_location(store), echo=click.echo)
    sys.exit(0 if ok else 1)


@main.command("export")
@click.option("--format", "fmt", default="ttl", show_default=True, help="ttl, nt, nq, trig or jsonld.")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File to write (default: stdout).")
@STORE_OPTION
def export_cmd(fmt: str, output: Path | None, store: str | None) -> None:
    """Dump the whole graph, deterministically, with a dataset description at the top."""
    from graph.store.export import export_store

    export_store(store_path=_location(store), fmt=fmt, output=output)


@main.command("query", context_settings={"ignore_unknown_options": False})
@click.argument("name", required=False)
@click.option("--param", "params", multiple=True, metavar="K=V", help="Query parameter (repeatable).")
@click.option("--format", "fmt", default="table", show_default=True, help="table, json or csv.")
@STORE_OPTION
def query_cmd(name: str | None, params: tuple[str, ...], fmt: str, store: str | None) -> None:
    """List the canned queries, or run one against the store."""
    from graph.canned_command import query_command

    query_command(name, params, fmt=fmt, store_path=_location(store), echo=click.echo)


@main.command("serve")
@STORE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Query processes, each running one request at a time; one client may use all but one (default: $JLLM_KG_WORKERS or 2 × cores + 2).")
@click.option("--timeout", default=None, type=click.FloatRange(min=0.1), help="Per-query timeout in seconds (default: $JLLM_KG_QUERY_TIMEOUT or 10).")
def serve_cmd(store: str | None, host: str, port: int, workers: int | None, timeout: float | None) -> None:
    """Serve the SPARQL endpoint, resource pages and canned queries (builds the store first if missing)."""
    from server.http.serve import serve

    serve(store_path=_location(store), host=host, port=port, workers=workers, echo=click.echo, timeout=timeout)


if __name__ == "__main__":  # pragma: no cover
    main()
