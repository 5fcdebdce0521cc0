"""Vocabulary constants: namespaces, the prefixes used in exports, and the terms the mapping writes."""
from __future__ import annotations

from pyoxigraph import NamedNode

from graph.settings import ONTOLOGY_NS

#: Prefixes of every vocabulary the graph uses, in the order written at the top of Turtle exports.
PREFIXES: dict[str, str] = {
    "jllm": ONTOLOGY_NS,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "schema": "http://schema.org/",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "org": "http://www.w3.org/ns/org#",
    "fabio": "http://purl.org/spar/fabio/",
    "fair4ml": "https://w3id.org/fair4ml#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "spdx": "http://spdx.org/licenses/",
    "sh": "http://www.w3.org/ns/shacl#",
}


class _Namespace:
    """Attribute access to the terms of one namespace: ``SCHEMA.name``."""

    def __init__(self, iri: str) -> None:
        self.iri = iri

    def __getattr__(self, term: str) -> NamedNode:
        if term.startswith("__"):
            raise AttributeError(term)
        node = self.__dict__[term] = NamedNode(self.iri + term)  # found as an attribute from now on
        return node

    def __getitem__(self, term: str) -> NamedNode:
        return NamedNode(self.iri + term)


JLLM = _Namespace(PREFIXES["jllm"])
RDF = _Namespace(PREFIXES["rdf"])
RDFS = _Namespace(PREFIXES["rdfs"])
OWL = _Namespace(PREFIXES["owl"])
XSD = _Namespace(PREFIXES["xsd"])
SCHEMA = _Namespace(PREFIXES["schema"])
PROV = _Namespace(PREFIXES["prov"])
DCTERMS = _Namespace(PREFIXES["dcterms"])
FOAF = _Namespace(PREFIXES["foaf"])
ORG = _Namespace(PREFIXES["org"])
FABIO = _Namespace(PREFIXES["fabio"])
FAIR4ML = _Namespace(PREFIXES["fair4ml"])
SKOS = _Namespace(PREFIXES["skos"])
DCAT = _Namespace(PREFIXES["dcat"])
VOID = _Namespace(PREFIXES["void"])

TYPE = RDF.type

#: Stage kind (docs/catalog.md) → activity class of the ontology.
STAGE_CLASSES: dict[str, str] = {
    "pre-training": "PreTrainingActivity",
    "continual-pre-training": "ContinualPreTrainingActivity",
    "instruction-tuning": "InstructionTuningActivity",
    "instruction-tuning-full": "FullInstructionTuningActivity",
    "instruction-tuning-lora": "LoRAInstructionTuningActivity",
    "dpo": "DPOActivity",
    "ppo": "PPOActivity",
    "steerlm": "SteerLMActivity",
    "distillation": "DistillationActivity",
    "quantisation": "QuantisationActivity",
    "merge": "MergeActivity",
    "fine-tuning": "FineTuningActivity",
    "reinforcement-learning": "ReinforcementLearningActivity",
    "post-training": "PostTrainingActivity",
    "mid-training": "MidTrainingActivity",
    "upcycling": "UpcyclingActivity",
}

#: Hugging Face availability marks → individuals of jllm:HFAvailability.
HF_MARKS: dict[str, str] = {
    "available": "HFAvailable",
    "convertible": "HFConvertible",
    "unsupported": "HFUnsupported",
    "unofficial": "HFUnofficial",
}


def curie(iri: str) -> str:
    """The shortest ``prefix:local`` form of ``iri``, or ``<iri>``.

    >>> curie("http://schema.org/name")
    'schema:name'
    """
    best = ""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(ns) > len(PREFIXES.get(best, "")):
            best = prefix
    return f"{best}:{iri[len(PREFIXES[best]):]}" if best else f"<{iri}>"
