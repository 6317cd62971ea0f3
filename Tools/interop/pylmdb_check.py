"""Opens a Lifelong store with py-lmdb (an independent LMDB binding) and checks every user record
against the layout docs/FORMATS.md documents: magic, sizes, CRC-32C, and that each signature's bucket
counts add up to L. Optional interoperability check; not part of the test suite (Python is used
only for fetching data at set-up). Needs `pip install lmdb`.

    python3 Tools/interop/pylmdb_check.py Output/quickstart/store
"""
import struct
import sys

import lmdb


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def main(path: str) -> None:
    env = lmdb.open(path, readonly=True, lock=False, max_dbs=8, subdir=True)
    names = ["meta", "items", "item_ids", "users", "sequences"]
    dbs = {n: env.open_db(n.encode(), create=False) for n in names}
    with env.begin() as txn:
        meta = {k.decode(): v.decode() for k, v in txn.cursor(db=dbs["meta"])}
        print("meta:", {k: meta[k] for k in sorted(meta)})
        for n in names:
            print(f"{n}: {txn.stat(dbs[n])['entries']} entries")
        checked = 0
        for key, value in txn.cursor(db=dbs["users"]):
            assert value[:4] == b"LLU1", key
            assert struct.unpack_from("<H", value, 4)[0] == 2, (key, "record version")
            precision = value[6]
            n_sig, buckets, d, _k, w = struct.unpack_from("<HHIII", value, 8)
            length, = struct.unpack_from("<Q", value, 24)
            stored_crc, = struct.unpack_from("<I", value, 40)
            size = 80 + 4 * n_sig * buckets + (4 if precision == 0 else 2) * n_sig * buckets * d + 16 * w
            assert len(value) == size, (key, len(value), size)
            assert crc32c(value[:40] + b"\0\0\0\0" + value[44:]) == stored_crc, key
            counts = struct.unpack_from(f"<{n_sig * buckets}I", value, 80)
            for g in range(n_sig):
                assert sum(counts[g * buckets:(g + 1) * buckets]) == length, key
            checked += 1
            if checked >= 50:
                break
        print(f"{checked} user records: layout, CRC-32C and bucket counts check out")


if __name__ == "__main__":
    main(sys.argv[1])
