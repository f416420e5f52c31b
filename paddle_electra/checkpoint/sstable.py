"""The two wire formats inside a TF ``.index`` file: protobuf varints/fields, and LevelDB's SSTable
(``tensorflow/core/lib/io/table*``): data blocks of prefix-compressed entries with restart points, an index
block, a 48-byte footer; every block followed by a type byte (0 raw, 1 snappy) and its masked crc32c."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .crc import crc32c, unmask_crc32c


# ------------------------------------------------------------------------------------- protobuf wire
class Corrupt(Exception):
    """Malformed bytes; the reader turns it into a CheckpointError naming the file."""


def varint(buf: bytes | memoryview, pos: int, limit: int | None = None) -> tuple[int, int]:
    limit = len(buf) if limit is None else limit
    result = shift = 0
    while True:
        if pos >= limit or shift > 63:
            raise Corrupt("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field_number, value)`` of a serialized protobuf message: ints for varint/fixed fields,
    bytes for length-delimited ones."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise Corrupt("truncated fixed64 field")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            if pos + length > end:
                raise Corrupt("truncated length-delimited field")
            value, pos = bytes(buf[pos : pos + length]), pos + length
        elif wire == 5:
            if pos + 4 > end:
                raise Corrupt("truncated fixed32 field")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise Corrupt(f"unsupported protobuf wire type {wire}")
        yield field, value


# ------------------------------------------------------------------------------------- SSTable
FOOTER_LEN = 48  # two varint block handles padded to 40 bytes + 8-byte magic
TABLE_MAGIC = 0xDB4775248B80FB57
TRAILER_LEN = 5  # 1-byte compression type + 4-byte masked crc32c


def parse_footer(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """(metaindex handle, index handle) as (offset, size) pairs."""
    if len(data) < FOOTER_LEN:
        raise Corrupt(f"file is {len(data)} bytes, shorter than the 48-byte SSTable footer (truncated?)")
    footer = data[-FOOTER_LEN:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise Corrupt("bad SSTable magic number in the footer: truncated, or not a TF V2 .index file")
    meta_off, pos = varint(footer, 0, 40)
    meta_size, pos = varint(footer, pos, 40)
    index_off, pos = varint(footer, pos, 40)
    index_size, pos = varint(footer, pos, 40)
    return (meta_off, meta_size), (index_off, index_size)


def snappy_block(raw: memoryview, offset: int) -> memoryview:
    """A snappy-compressed block (type byte 1), as the TF builds that wrote HFL's releases store index blocks."""
    import cramjam

    try:
        return memoryview(bytes(cramjam.snappy.decompress_raw(bytes(raw))))
    except cramjam.DecompressionError as err:
        raise Corrupt(f"block at offset {offset} is snappy-compressed but does not decompress ({err})") from None


def read_block(data: bytes, handle: tuple[int, int]) -> memoryview:
    offset, size = handle
    end = offset + size
    if end + TRAILER_LEN > len(data) - FOOTER_LEN:
        raise Corrupt(f"block at offset {offset} (+{size} bytes) runs past the end of the file (truncated?)")
    stored = unmask_crc32c(struct.unpack_from("<I", data, end + 1)[0])
    actual = crc32c(memoryview(data)[offset : end + 1])  # the crc covers the block and its type byte
    if stored != actual:
        raise Corrupt(
            f"block at offset {offset} fails its CRC check (stored {stored:08x}, computed {actual:08x})"
        )
    kind = data[end]
    if kind == 1:
        return snappy_block(memoryview(data)[offset:end], offset)
    if kind != 0:
        raise Corrupt(f"block at offset {offset} has unknown compression type {kind}")
    return memoryview(data)[offset:end]


def block_entries(block: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """Decode a block: entries ``shared | non_shared | value_len | key delta | value`` then the restart
    array (uint32 offsets of entries that store their full key) and its length."""
    if len(block) < 4:
        raise Corrupt("block too small for its restart count")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 * (1 + num_restarts)
    if num_restarts == 0 or limit < 0:
        raise Corrupt(f"block has an invalid restart count {num_restarts}")
    restarts = set(struct.unpack_from(f"<{num_restarts}I", block, limit))
    full_key_offsets = set()
    key = b""
    pos = 0
    while pos < limit:
        start = pos
        shared, pos = varint(block, pos, limit)
        non_shared, pos = varint(block, pos, limit)
        value_len, pos = varint(block, pos, limit)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise Corrupt(f"bad entry at block offset {start}")
        if shared == 0:
            full_key_offsets.add(start)
        key = key[:shared] + bytes(block[pos : pos + non_shared])
        pos += non_shared
        yield key, block[pos : pos + value_len]
        pos += value_len
    if not restarts <= full_key_offsets:
        raise Corrupt("restart points do not point at full keys")


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """All ``(key, value)`` pairs of an SSTable, in order, verifying every block's CRC."""
    _meta, index_handle = parse_footer(data)
    pairs: list[tuple[bytes, bytes]] = []
    for _last_key, handle_bytes in block_entries(read_block(data, index_handle)):
        offset, pos = varint(handle_bytes, 0)
        size, pos = varint(handle_bytes, pos)
        for key, value in block_entries(read_block(data, (offset, size))):
            if pairs and key <= pairs[-1][0]:
                raise Corrupt("keys are not in increasing order")
            pairs.append((key, bytes(value)))
    return pairs
