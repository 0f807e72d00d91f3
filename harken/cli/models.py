"""harken models list | harken models download NAME"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "download"])
    p.add_argument("name", nargs="?", help="catalog name (for download)")


def run(args: argparse.Namespace) -> int:
    from harken.pretrained.catalog import CATALOG, DEFAULT_MODEL, resolve
    from harken.pretrained.download import cache_dir

    if args.action == "list":
        width = max(len(n) for n in CATALOG)
        for card in CATALOG.values():
            cached = (cache_dir() / "models" / f"{card.name}.nemo").exists()
            status = "runs" if card.loads else "not yet"
            where = ("bundled (default)" if card.name == DEFAULT_MODEL else "bundled") if card.bundled \
                else "cached" if cached else ""
            print(f"{card.name:{width}s}  {card.family:30s} {status:8s} {where}")
        print(f"cache: {cache_dir()}  (HARKEN_CACHE to move it, HARKEN_OFFLINE=1 to never download)")
        return 0
    if not args.name:
        raise ValueError("models download: give a model name")
    print(resolve(args.name))
    return 0
