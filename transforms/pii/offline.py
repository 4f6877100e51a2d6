"""Keep Presidio off the network: tldextract on its bundled suffix-list snapshot.

Presidio's email check calls ``tldextract.extract``, whose default extractor
downloads the Public Suffix List on first use (and caches it under the home
directory). A stream worker must start with no network and no writable home, so
the engine uses :data:`OFFLINE_TLD_EXTRACTOR`: no suffix-list URLs, no cache
directory, the snapshot shipped inside the tldextract wheel.
"""

from __future__ import annotations

import tldextract
import tldextract.tldextract as _tldextract_module

OFFLINE_TLD_EXTRACTOR = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True
)


def has_public_suffix(candidate: str) -> bool:
    """True when the domain of ``candidate`` (an email or host) ends in a known suffix."""
    return OFFLINE_TLD_EXTRACTOR(candidate).fqdn != ""


def install_offline_suffix_list() -> None:
    """Make ``tldextract.extract`` itself offline for the whole process.

    The citysieve engine does not need this (its email recognizer uses
    :data:`OFFLINE_TLD_EXTRACTOR` directly). Call it before running stock Presidio
    recognizers in the same process (the benchmark's plain-Presidio baseline), so
    that they never try to download the suffix list either.
    """
    _tldextract_module.TLD_EXTRACTOR = OFFLINE_TLD_EXTRACTOR
