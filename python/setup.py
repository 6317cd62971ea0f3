"""Puts the native files into a source install (`pip install ./python` from a checkout).

The wheel of Tools/build-wheel.sh stages liblifelong_c.so and bin/lifelong into the package before building;
a source install takes them from the checkout's SwiftPM build instead (the newer of .build/release and
.build/debug), and runs `swift build -c release` when there is none, so that it never installs a package
that cannot load. The version is lifelong.h's (LIFELONG_VERSION_*), the one place it is written: the checkout's
header, or the copy Tools/build-wheel.sh stages beside this file. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
NATIVE = {"liblifelong_c.so": ("lifelong_c", "liblifelong_c.so"), "bin/lifelong": ("lifelong", "lifelong")}


def _version() -> str:
    for header in (HERE.parent / "Sources" / "CLifelong" / "include" / "lifelong.h", HERE / "lifelong.h"):
        if header.is_file():
            text = header.read_text()
            found = [re.search(rf"#define LIFELONG_VERSION_{part} (\d+)", text) for part in ("MAJOR", "MINOR", "PATCH")]
            if all(found):
                return ".".join(m.group(1) for m in found if m)
            raise SystemExit(f"lifelong: {header} has no LIFELONG_VERSION_MAJOR/MINOR/PATCH")
    raise SystemExit("lifelong: no lifelong.h to take the version from (build from a checkout or the wheel script)")


def _built(name: str) -> Path | None:
    found = [HERE.parent / ".build" / config / name for config in ("release", "debug")]
    found = [p for p in found if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


class BuildWithNative(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        for inside, (product, name) in NATIVE.items():
            if (HERE / "lifelong" / inside).is_file():
                continue  # staged by Tools/build-wheel.sh: build_py has copied it
            built = _built(name)
            if built is None:
                if shutil.which("swift") is None or not (HERE.parent / "Package.swift").is_file():
                    raise SystemExit(f"lifelong: no {name} to package: build it in a checkout "
                                     f"(swift build -c release --product {product}) or install the wheel of "
                                     "Tools/build-wheel.sh")
                subprocess.run(["swift", "build", "--package-path", str(HERE.parent), "-c", "release",
                                "--product", product], check=True)
                built = HERE.parent / ".build" / "release" / name
            target = Path(self.build_lib) / "lifelong" / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(built, target)


setup(version=_version(), cmdclass={"build_py": BuildWithNative})
