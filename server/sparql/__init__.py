"""The SPARQL 1.1 Protocol endpoint: reading requests, the checks, jobs and their execution."""
