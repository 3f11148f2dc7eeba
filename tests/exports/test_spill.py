"""What an export parks on disk while its ZIP entry waits: ciphertext only, in order, whole."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from app.crypto import EphemeralSpill

CANARY = b"CANARY-answer-never-on-disk-in-clear;"


def test_spill_gives_back_exactly_what_was_written_and_keeps_only_ciphertext():
    spill = EphemeralSpill()
    data = CANARY * 100_000  # several 1 MiB chunks
    for start in range(0, len(data), 4096):
        spill.write(data[start : start + 4096])
    spill._seal(bytes(spill._pending), last=False)  # flush what waits, to inspect the file
    spill._pending.clear()
    spill._file.seek(0)
    on_disk = spill._file.read()
    assert CANARY not in on_disk and len(on_disk) >= len(data)
    spill._file.seek(0, 2)
    assert b"".join(spill.chunks()) == data
    assert "key=<redacted>" in repr(spill)


def test_a_reordered_chunk_does_not_open():
    spill = EphemeralSpill()
    spill.write(b"a" * (1 << 20))
    spill.write(b"b" * (1 << 20))
    spill._file.seek(0)
    first = spill._file.read(4 + (1 << 20) + 16)
    second = spill._file.read()
    spill._file.seek(0)
    spill._file.write(second + first)
    spill._file.seek(0, 2)
    with pytest.raises(InvalidTag):
        b"".join(spill.chunks())
