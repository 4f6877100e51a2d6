"""Where citysieve keeps caches and state on the user's machine (XDG dirs)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """``$CITYSIEVE_CACHE_DIR``, else ``$XDG_CACHE_HOME/citysieve``, else ``~/.cache/citysieve``."""
    explicit = os.environ.get("CITYSIEVE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citysieve"


def state_dir() -> Path:
    """``$CITYSIEVE_STATE_DIR``, else ``$XDG_STATE_HOME/citysieve``, else ``~/.local/state/...``."""
    explicit = os.environ.get("CITYSIEVE_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "citysieve"
