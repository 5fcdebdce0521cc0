"""The store: one interface (embedded on-disk generations, or a remote SPARQL 1.1 store), the sorted export, the build fingerprint."""
