"""The 2019 study's comparison done on like terms: its three stores against its 65%, the other stores apart.

Xiu, Jiang & Adams (2019) found that AWS Marketplace, the Wolfram Neural Net Repository and ModelDepot
shared 65% of the information elements they showed. storewatch computes the same ratio from the recorded
data (storage/crossstore.py): an element is shown by a store when at least one of its models shows it; the
share is the elements every store of a set shows over the elements any of them shows, each store as last
observed. Comparing the study's figure with a share over other stores (or over more stores: the more
stores, the fewer elements all of them show) would compare different things, so each set is its own row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from storage.crossstore import compare_elements

STUDY = 'Xiu, Jiang & Adams, "An Exploratory Study on Machine Learning Model Stores", 2019'
STUDY_STORES = ("aws_marketplace", "modeldepot", "wolfram_nnr")
STUDY_SHARED_SHARE = 0.65


def study_comparison(engine: Engine, stores: list[str]) -> dict[str, Any]:
    """The shared share of the study's stores, of the other stores, and of all of them, beside the study's."""
    study = [store for store in STUDY_STORES if store in stores]
    return {
        "study": {"source": STUDY, "stores": list(STUDY_STORES), "shared_share": STUDY_SHARED_SHARE},
        "sets": [
            {"name": "study", **shared_elements(engine, study)},
            {"name": "others", **shared_elements(engine, [store for store in stores if store not in STUDY_STORES])},
            {"name": "all", **shared_elements(engine, stores)},
        ],
        "study_stores_missing": [store for store in STUDY_STORES if store not in stores],
    }


def shared_elements(engine: Engine, stores: list[str]) -> dict[str, Any]:
    """What a set of stores shares: the stores with data (as last observed), the elements every one of them
    shows and any of them shows, and the share; None when fewer than two stores have data."""
    comparison = compare_elements(engine, stores)
    tracked = comparison["tracked"]
    return {
        "stores": tracked,
        "observed_at": {store: comparison["stores"][store]["observed_at"] for store in tracked},
        "shared": comparison["shared"],
        "shown": len(comparison["elements"]),
        "shared_share": comparison["shared_share"] if len(tracked) > 1 else None,
    }
