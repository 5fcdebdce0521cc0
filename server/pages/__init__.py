"""The pages and linked-data views: home, search, resources, lineage, canned queries, the editor."""
