"""Per-dataset policy files (YAML): purpose, k, windows, retention, operators."""

from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent
