"""The wheel of Tools/build-wheel.sh on a machine without Swift: installed into a fresh virtualenv and used in a
clean environment, and the native files linking no Swift runtime. $LIFELONG_WHEEL names a built wheel (the
test command builds it first); without it the wheel is built here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import lifelong
import pytest
from conftest import ROOT

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("LIFELONG_WHEEL")
    if given:
        path = Path(given)
        assert path.is_file(), f"LIFELONG_WHEEL={given}: no such file (seen from {Path.cwd()})"
        return path
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["bash", str(ROOT / "Tools" / "build-wheel.sh"), "--out", str(out)], check=True)
    return next(out.glob("lifelong-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel and its extras (torch, pyspark: the pins of requirements-dev.txt)."""
    folder = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"{wheel}[torch,spark]", "-c", str(ROOT / "python" / "requirements-dev.txt")], check=True)
    return folder


def clean_environment(venv: Path, home: Path, **extra: str) -> dict:
    path = f"{venv / 'bin'}:/usr/bin:/bin"
    assert shutil.which("swift", path=path) is None, "the clean PATH must not reach a Swift toolchain"
    return {"PATH": path, "HOME": str(home), **extra}


def test_the_wheel_is_tagged_for_the_glibc_it_needs_and_carries_the_library_and_the_cli(wheel: Path) -> None:
    name, version, python_tag, abi, platform = wheel.name[:-len(".whl")].split("-")
    assert (name, version, python_tag, abi) == ("lifelong", lifelong.__version__, "py3", "none")
    assert re.fullmatch(r"manylinux_2_\d+_x86_64", platform), platform
    shown = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True,
                           check=True).stdout
    assert f'consistent with\nthe following platform tag: "{platform}"' in shown, shown
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        cli = z.getinfo("lifelong/bin/lifelong")
    assert {"lifelong/liblifelong_c.so", "lifelong/bin/lifelong", "lifelong/_cli.py"} <= names
    assert (cli.external_attr >> 16) & 0o111, "the CLI must stay executable"
    assert wheel.stat().st_size <= 60 * 2**20, f"{wheel.stat().st_size / 2**20:.1f} MB"


def test_the_native_files_link_no_swift_runtime(venv: Path) -> None:
    package = next((venv / "lib").glob("python3*/site-packages/lifelong"))
    for native in (package / "liblifelong_c.so", package / "bin" / "lifelong"):
        linked = subprocess.run(["ldd", str(native)], capture_output=True, text=True, check=True).stdout
        assert "not found" not in linked, linked
        assert not re.search(r"libswift|libFoundation|libdispatch|liblmdb", linked), linked


def test_a_user_of_the_wheel_encodes_scores_trains_and_runs_spark_without_swift(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([str(venv / "bin" / "python"), str(HERE / "wheel_check.py"), str(work)], cwd=tmp_path,
                            env=clean_environment(venv, tmp_path), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["version"] == lifelong.__version__
    assert report["blas"]["source"] != "none"


SCORE_PROBE = """
import json, sys, lifelong
with lifelong.Scorer(sys.argv[1], sys.argv[2]) as s:
    print(json.dumps({"p": s.score("1", ["1", "2", "3", "4"]).tolist(), "source": s.describe()["blas"]["source"]}))
"""


def test_without_debian_openblas_the_wheel_uses_scipy_openblas32_and_says_so(venv: Path, tmp_path: Path) -> None:
    env = clean_environment(venv, tmp_path)
    for args in (("synth", "--out", "log", "--users", "5", "--length", "20,200", "--seed", "3"),
                 ("init-model", "--data", "log", "--out", "model", "--feedback"),
                 ("encode", "--model", "model", "--data", "log", "--store", "store", "--quiet")):
        subprocess.run(["lifelong", *args], env=env, cwd=tmp_path, check=True, capture_output=True)

    def scored(**extra: str) -> dict:
        out = subprocess.run([str(venv / "bin" / "python"), "-c", SCORE_PROBE, "model", "store"], cwd=tmp_path,
                             env=clean_environment(venv, tmp_path, **extra), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    debian = scored()
    assert debian["source"].startswith("Debian libopenblas0"), debian
    for sources, expected in (("scipy", "scipy-openblas32 ("), ("none", "none")):
        asked = clean_environment(venv, tmp_path, LIFELONG_OPENBLAS=sources)
        out = subprocess.run(["lifelong", "--version"], env=asked, cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout
        assert f"BLAS from: {expected}" in out, out
        other = scored(LIFELONG_OPENBLAS=sources)
        assert other["source"].startswith(expected), other
        assert max(abs(a - b) for a, b in zip(other["p"], debian["p"])) < 1e-5, (other, debian)


def test_a_source_install_carries_the_library_it_was_built_with(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LIFELONG_LIBRARY"}
    probe = "import lifelong, pathlib; print(pathlib.Path(lifelong.__file__).parent)"
    where = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert (Path(where) / "liblifelong_c.so").is_file() and (Path(where) / "bin" / "lifelong").is_file()
    version = subprocess.run([sys.executable, "-c", "import lifelong; print(lifelong.version())"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert version == lifelong.__version__
