"""Gives the wheel `pip wheel` built (tagged py3-none-any) the platform tag its native files need.

usage: tag-wheel.py WHEEL --out DIR

The tag is manylinux_2_N_x86_64, N being the newest GLIBC_2.N symbol version the ELF files in the wheel
import (objdump -T); the wheel is written to DIR as lifelong-VERSION-py3-none-TAG.whl with WHEEL and RECORD
rewritten (Root-Is-Purelib: false). `auditwheel show` confirms the tag in the package's tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def glibc_minor(data: bytes) -> int:
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        symbols = subprocess.run(["objdump", "-T", f.name], capture_output=True, text=True, check=True).stdout
    return max((int(m) for m in re.findall(r"GLIBC_2\.(\d+)", symbols)), default=17)


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    elves = [data for _, data in entries if data[:4] == b"\x7fELF"]
    if not elves:
        sys.exit(f"tag-wheel: {args.wheel} holds no ELF file (the library and the CLI were not staged)")
    tag = f"py3-none-manylinux_2_{max(map(glibc_minor, elves))}_x86_64"
    name, version = args.wheel.name.split("-")[:2]
    dist_info = f"{name}-{version}.dist-info"
    target = args.out / f"{name}-{version}-{tag}.whl"
    records: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for info, data in entries:
            if info.filename == f"{dist_info}/RECORD":
                continue
            if info.filename == f"{dist_info}/WHEEL":
                text = re.sub(r"(?m)^Tag: .*$", f"Tag: {tag}", data.decode())
                data = text.replace("Root-Is-Purelib: true", "Root-Is-Purelib: false").encode()
            wheel.writestr(info, data)
            records.append(record_line(info.filename, data))
        records.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    print(target)


if __name__ == "__main__":
    main()
