"""queries: data files shipped with jllm-kg."""
from pathlib import Path

PATH: Path = Path(__file__).resolve().parent
