"""The Bloom filter that lets an import skip most debtor lookups and key searches."""

from __future__ import annotations

import polars as pl

from tenants.intake.load.bloom_filter import BloomFilter


def test_a_document_added_in_an_earlier_batch_is_always_reported_seen() -> None:
    seen = BloomFilter()
    first = [f"{n:011d}" for n in range(0, 200_000, 2)]
    assert not seen.check_and_add(pl.Series(first)).any()

    again = [f"{n:011d}" for n in range(0, 400_000, 1)]
    reported = seen.check_and_add(pl.Series(again)).to_list()
    # Every document of the first batch (even numbers) is seen; of the others, which
    # the filter never held, only a rare false positive.
    assert all(reported[n] for n in range(0, 200_000, 2))
    others = [reported[n] for n in range(1, 400_000, 2)] + reported[200_000:]
    assert sum(others) < len(others) * 0.001


def test_a_full_small_filter_reports_everything_seen() -> None:
    seen = BloomFilter(bits=8)
    seen.check_and_add(pl.Series([f"{n:011d}" for n in range(100)]))
    assert seen.check_and_add(pl.Series(["52998224725", "11144477735"])).all()
