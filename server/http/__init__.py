"""The HTTP front of `jllm-kg serve`: granian, request reading, the response cache, the query processes."""
