"""The importer's former single module: its names now live in :mod:`graph.importer` (one module per noun)."""
from graph.importer import (ImportProblems, Importer, Report, dump_yaml, import_documents, run_import,
                            run_upstream_import, section_kind)

__all__ = ["ImportProblems", "Importer", "Report", "dump_yaml", "import_documents", "run_import",
           "run_upstream_import", "section_kind"]
