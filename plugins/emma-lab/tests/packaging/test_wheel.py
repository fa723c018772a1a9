"""A regular (non-editable) build of emma-lab carries its bench files and registers its hooks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(LAB),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("emma_lab-*.whl")
    return built


def test_the_wheel_carries_every_bench_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (LAB / "emma_lab" / "bench_specs").glob("*.yaml")}
    assert shipped >= {"htru2.yaml", "mfeat.yaml", "breast_cancer.yaml", "av_digits.yaml"}
    assert {f"emma_lab/bench_specs/{name}" for name in shipped} <= names


def test_the_wheel_declares_the_entry_point(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = archive.read(entry_points).decode()
    assert "[emma_plugins]" in text and "lab = emma_lab.plugin" in text


def test_an_installed_wheel_finds_its_bench_files_outside_the_source_tree(
    wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    probe = (
        "import emma_lab.robustness.suite as s; "
        "assert 'site' in s.__file__, s.__file__; "
        "print(sorted(s.available_benches()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(target), "PATH": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "'htru2'" in result.stdout and "'mfeat'" in result.stdout
