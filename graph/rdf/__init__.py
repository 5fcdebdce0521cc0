"""The RDF side: vocabulary, IRI minting, catalog → quads mapping, VoID description, SHACL validation."""
