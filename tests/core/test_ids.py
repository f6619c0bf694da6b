"""UUIDv7 keys made in blocks for bulk writes."""

from __future__ import annotations

import uuid

from core.ids import uuid7, uuid7_block


def test_a_block_is_valid_increasing_uuid7_after_earlier_keys():
    before = uuid7()
    block = [uuid.UUID(v) for v in uuid7_block(5000).to_list()]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in block)
    assert block == sorted(block) and len(set(block)) == len(block)
    assert before < block[0]


def test_blocks_do_not_collide():
    keys = [v for _ in range(50) for v in uuid7_block(1000).to_list()]
    assert len(set(keys)) == len(keys)
