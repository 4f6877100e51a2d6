"""Avro schemas of the reference datasets: the single source of truth for fields."""

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
