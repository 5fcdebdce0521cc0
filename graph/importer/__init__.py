"""``jllm-kg import``: the catalog README (ja, en, fr) → YAML entry files in ``catalog/``.

Every table row becomes an entry or a reported problem naming file and line; every cell is kept
raw beside its parsed value. Registries are read, never written. One module per noun:

- :mod:`~graph.importer.run` — the entry points (an upstream revision, or README files)
- :mod:`~graph.importer.walk` — the walk over sections and tables (:class:`Importer`)
- :mod:`~graph.importer.sections` — what kind of catalog part a heading opens, which kind of table it holds
- :mod:`~graph.importer.model_tables` — model families and variants, the ``{column key: parser}`` table
- :mod:`~graph.importer.base_models` — base-model and merge-source columns, lineage resolution
- :mod:`~graph.importer.developers`, :mod:`~graph.importer.licences`, :mod:`~graph.importer.architectures` — those cells
- :mod:`~graph.importer.benchmarks`, :mod:`~graph.importer.papers` — benchmark and paper tables
- :mod:`~graph.importer.report`, :mod:`~graph.importer.writing` — the coverage report, the YAML files
"""
from graph.importer.report import ImportProblems, Report
from graph.importer.run import import_documents, run_import, run_upstream_import
from graph.importer.sections import section_kind
from graph.importer.walk import Importer
from graph.importer.writing import dump_yaml

__all__ = ["ImportProblems", "Importer", "Report", "dump_yaml", "import_documents", "run_import",
           "run_upstream_import", "section_kind"]
