"""The store: on-disk generations and their atomic swap, the sorted export, the build fingerprint."""
