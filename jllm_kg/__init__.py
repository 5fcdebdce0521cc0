"""jllm-kg: knowledge graph of Japanese LLMs (command-line entry point and settings)."""
