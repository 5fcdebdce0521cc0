"""The graph side of jllm-kg (no Flask): catalog import (importer/), RDF mapping and validation (rdf/), the store (store/), the build."""
