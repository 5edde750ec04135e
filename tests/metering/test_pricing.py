"""Pricing in integer micro-units: rounding is explicit and the split never loses a unit."""

from __future__ import annotations

import numpy as np

from voicehub.metering.service import billable_characters, price_line


def test_billable_characters_ignore_whitespace_and_count_japanese_per_character() -> None:
    assert billable_characters("Hello there!") == 11
    assert billable_characters("灯台から？ もう") == 7


def test_price_rounds_half_up_to_a_micro_unit() -> None:
    assert price_line(1, 1500, 10_000).amount_micros == 2  # 1.5 → 2
    assert price_line(1, 1499, 10_000).amount_micros == 1
    assert price_line(1000, 3_000_000_000, 7000).amount_micros == 3_000_000_000


def test_the_split_always_adds_up() -> None:
    rng = np.random.default_rng(7)
    for _ in range(2000):
        characters = int(rng.integers(1, 1001))
        price = int(rng.integers(0, 10**10))
        share = int(rng.integers(0, 10_001))
        line = price_line(characters, price, share)
        assert line.actor_royalty_micros + line.platform_micros == line.amount_micros
        assert 0 <= line.actor_royalty_micros <= line.amount_micros
        assert line.actor_royalty_micros == line.amount_micros * share // 10_000
