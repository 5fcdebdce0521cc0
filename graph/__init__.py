"""RDF side of jllm-kg: catalog import, mapping to RDF, the Oxigraph store, validation, export. No Flask here."""
