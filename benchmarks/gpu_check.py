"""GPU check: one spec trained with `emma_plugins.deploy.fit_model` on the CPU and on CUDA,
timed, compared, then under torchrun (DDP) and in bfloat16; printed as figures and ratios.

On a machine with CUDA, in a few minutes on one GPU:

1. the spec (default ``examples/av-digits.yaml``: needs the ``emma-cnn`` and ``emma-lstm``
   plugins and the FSDD recordings under ``$EMMA_DATA_DIR/fsdd``; without them it falls
   back to ``examples/breast-cancer.yaml`` and says so) trained with the same seed on the
   CPU and on CUDA: the test accuracy of each, their difference and whether it is within
   0.01 (the two devices round differently, so they need not agree bitwise);
2. one epoch of stage 2 (EMMA plus the network on the corrupted mix, validation
   included) on the CPU and on the GPU, the best of two, and their ratio;
3. the same fit under ``torchrun --nproc-per-node <GPUs> -m emma_plugins fit SPEC --out
   DIR --device cuda``: its wall time (start-up and data loading included) and the test
   accuracy from ``DIR/metrics.json``;
4. the fit in ``training.precision: bf16`` on the GPU: its time and test accuracy against
   float32.

Without CUDA it says that no GPU is present and exits 0; with ``--cpu-only`` it also runs
the CPU part (1 and 2 on the CPU alone) with ``--quick`` semantics.

Run ``python benchmarks/gpu_check.py`` (``--quick``: two epochs per stage and per
estimator; ``--spec``, ``--out``, ``--data-dir``). Not a test: nothing here asserts a speed
or an accuracy; the exit status is 1 only when a step crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from emma_plugins.assembly.builder import build
from emma_plugins.core.errors import EmmaError
from emma_plugins.core.plugins import get_registry
from emma_plugins.deploy import fit_model
from emma_plugins.deploy.data import load_spec_data, select_modes
from emma_plugins.sources import MultiModalData
from emma_plugins.spec import EmmaSpec, load_spec, parse_spec
from emma_plugins.training.devices import resolve_device
from emma_plugins.training.loop import fit
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.prepare import prepare_spec
from emma_plugins.training.settings import fit_config
from emma_plugins.training.threads import torch_threads

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = ROOT / "examples" / "av-digits.yaml"
FALLBACK_SPEC = ROOT / "examples" / "breast-cancer.yaml"
#: Epochs per stage and per estimator in the quick version.
QUICK_EPOCHS = 2
#: The accuracy difference between devices this check calls agreement.
TOLERANCE = 0.01
ACCURACY = "test_clean_accuracy"


@dataclass
class Row:
    """One line of the summary table."""

    run: str
    device: str
    precision: str
    seconds: float | None
    accuracy: float | None
    note: str = ""


# -- the spec -------------------------------------------------------------------------------
def _av_digits_missing(data_dir: str | None) -> str | None:
    """Why the audio-visual digits spec cannot run here (None when it can)."""
    estimators = get_registry("estimator")
    absent = [kind for kind in ("cnn", "lstm") if kind not in estimators]
    if absent:
        return (
            f"estimator kind(s) {', '.join(absent)} not installed: pip install "
            "./plugins/emma-cnn ./plugins/emma-lstm"
        )
    root = data_dir or os.environ.get("EMMA_DATA_DIR", "")
    if not root or not (Path(root) / "fsdd" / "recordings").is_dir():
        return "no FSDD recordings under $EMMA_DATA_DIR/fsdd (or --data-dir)"
    return None


def choose_spec(path: Path | None, data_dir: str | None) -> tuple[EmmaSpec, Path, str]:
    """The spec to check, its file and a note; falls back to breast cancer when the
    audio-visual digits cannot run here."""
    chosen = path or DEFAULT_SPEC
    reason: str | None = None
    if chosen.name == DEFAULT_SPEC.name:
        reason = _av_digits_missing(data_dir)
    if reason is None:
        try:
            return load_spec(chosen), chosen, ""
        except EmmaError as exc:
            if path is not None and path.name != DEFAULT_SPEC.name:
                raise
            reason = str(exc).splitlines()[0]
    note = f"fell back to {FALLBACK_SPEC.name}: {chosen.name} cannot run here ({reason})"
    return load_spec(FALLBACK_SPEC), FALLBACK_SPEC, note


def _estimator_epochs_capped(data: dict[str, Any], cap: int) -> None:
    estimators = get_registry("estimator")
    for mode in data["modes"]:
        estimator = mode.get("estimator", {})
        fields = estimators.get(estimator.get("kind", "dae")).params.model_fields
        if "epochs" in fields:
            default = fields["epochs"].default
            estimator["epochs"] = min(int(estimator.get("epochs", default)), cap)


def shortened(spec: EmmaSpec, epochs: int | None) -> EmmaSpec:
    """``spec`` with every epoch count (stages and estimators) capped at ``epochs``
    (None: unchanged)."""
    if epochs is None:
        return spec
    data = spec.to_dict()
    training = data.setdefault("training", {})
    for key in ("base_epochs", "epochs"):
        training[key] = min(int(getattr(spec.resolved_training, key)), epochs)
    _estimator_epochs_capped(data, epochs)
    return parse_spec(data)


def with_training(spec: EmmaSpec, **changes: Any) -> EmmaSpec:
    """``spec`` with fields of its training section changed (validated again)."""
    data = spec.to_dict()
    data.setdefault("training", {}).update(changes)
    return parse_spec(data)


# -- the measurements -----------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up_cuda() -> None:
    """Create the CUDA context before any clock starts."""
    torch.zeros(1, device="cuda").sum().item()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No training warnings (a short fit may keep its initial state) in the printout."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def timed_fit(spec: EmmaSpec, data: MultiModalData, device: str) -> tuple[float, float]:
    """Seconds and test accuracy of `fit_model` on ``device`` (stage 1, base, EMMA,
    calibration and test scores)."""
    place = resolve_device(device)
    synchronize(place)
    start = time.perf_counter()
    with quiet():
        outcome = fit_model(spec, data, device=device)
    synchronize(place)
    return time.perf_counter() - start, float(outcome.metrics[ACCURACY])


def epoch_seconds(spec: EmmaSpec, data: MultiModalData, device: str, repeats: int = 2) -> float:
    """The best of ``repeats`` single epochs of stage 2 (EMMA plus the network on the
    corrupted mix, with its validation pass) on ``device``; stage 1 is fitted for one epoch
    per estimator first and not timed, nor is a warm-up epoch."""
    place = resolve_device(device)
    training = spec.resolved_training
    timing_spec = shortened(spec, 1)
    with torch_threads(training.threads), quiet():
        prepared = prepare_spec(data, spec).to(place)
        torch.manual_seed(training.seed)
        model = build(timing_spec).to(place)
        clean = prepared.clean["train"]
        if model.attention is not None:
            model.fit_estimators(clean.modes, progress=False, missing=clean.missing)
        loss = ClassificationLoss(clean.y, data.n_classes, balanced=training.balanced_loss)
        config = fit_config(training, seed=training.seed, epochs=1)
        train, val = prepared.mixed["train"], prepared.mixed["val"]
        fit(model, train, val, loss, config)  # warm-up: lazy initialisation, kernels
        times = []
        for _ in range(repeats):
            synchronize(place)
            start = time.perf_counter()
            fit(model, train, val, loss, config)
            synchronize(place)
            times.append(time.perf_counter() - start)
    return min(times)


def torchrun_fit(
    spec: EmmaSpec, out: Path, nproc: int, data_dir: str | None, device: str = "cuda"
) -> tuple[float, float, str]:
    """Wall seconds, test accuracy and a note of ``torchrun -m emma_plugins fit`` with
    ``nproc`` processes on ``device``."""
    spec_file = out / "ddp-spec.json"
    spec_file.write_text(json.dumps(spec.to_dict(), indent=2))
    model_dir = out / "ddp"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",  # what the torchrun script runs
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "emma_plugins",
        "fit",
        str(spec_file),
        "--out",
        str(model_dir),
        "--device",
        device,
        "--no-progress",
    ]
    if data_dir:
        command += ["--data-dir", data_dir]
    print("  $ torchrun " + " ".join(command[3:]))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"torchrun exited {done.returncode}:\n{tail}")
    metrics = json.loads((model_dir / "metrics.json").read_text())
    return (
        seconds,
        float(metrics[ACCURACY]),
        f"{nproc} process(es), start-up and data loading included",
    )


# -- the report -----------------------------------------------------------------------------
def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(rows: Sequence[Row]) -> None:
    print()
    print("summary")
    header = f"  {'run':<28} {'device':<7} {'precision':<9} {'seconds':>9} {'test acc':>9}  note"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        print(
            f"  {row.run:<28} {row.device:<7} {row.precision:<9} {_fmt(row.seconds, 2):>9} "
            f"{_fmt(row.accuracy, 4):>9}  {row.note}"
        )


def step(name: str, failures: list[str], action: Callable[[], Any]) -> Any:
    """Run one step; a crash is printed and recorded, and the check goes on."""
    try:
        return action()
    except Exception as exc:
        print(f"  {name} FAILED: {type(exc).__name__}: {exc}")
        if os.environ.get("EMMA_GPU_CHECK_TRACEBACK"):
            traceback.print_exc()
        failures.append(name)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs per stage")
    parser.add_argument("--cpu-only", action="store_true", help="the CPU part only (quick)")
    parser.add_argument("--spec", type=Path, default=None, help=f"default {DEFAULT_SPEC.name}")
    parser.add_argument("--out", type=Path, default=None, help="folder for the DDP run")
    parser.add_argument("--data-dir", default=None, help="default $EMMA_DATA_DIR")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    build_kind = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    if not cuda:
        print(f"no GPU is present: torch {torch.__version__} ({build_kind}) sees no CUDA device.")
        if not args.cpu_only:
            print("nothing to check; --cpu-only runs the CPU part (quick).")
            return 0
    gpu_part = cuda and not args.cpu_only
    quick = args.quick or args.cpu_only
    spec, spec_path, note = choose_spec(args.spec, args.data_dir)
    if note:
        print(note)
    spec = shortened(spec, QUICK_EPOCHS if quick else None)
    out = args.out or Path(tempfile.mkdtemp(prefix="emma-gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    data = select_modes(load_spec_data(spec, args.data_dir), spec)
    training = spec.resolved_training
    gpus = torch.cuda.device_count() if cuda else 0
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(gpus)) if gpus else "none"
    print(
        f"spec {spec_path.name}: {data.name}, {len(data)} rows, {training.base_epochs} + "
        f"{training.epochs} epochs{' (quick)' if quick else ''}, batch {training.batch_size}, "
        f"seed {training.seed}, {training.threads} torch thread(s) on the CPU"
    )
    print(f"torch {torch.__version__} ({build_kind}); GPUs: {names}; output folder {out}")

    rows: list[Row] = []
    failures: list[str] = []
    results: dict[str, Any] = {"spec": str(spec_path), "quick": quick, "note": note}

    print("\n1. the fit on each device (same seed)")
    cpu_fit = step("cpu fit", failures, lambda: timed_fit(spec, data, "cpu"))
    if cpu_fit:
        print(f"  cpu : {cpu_fit[0]:8.2f} s, test accuracy {cpu_fit[1]:.4f}")
        rows.append(Row("fit", "cpu", "32", cpu_fit[0], cpu_fit[1]))
    gpu_fit = None
    if gpu_part:
        warm_up_cuda()
        gpu_fit = step("cuda fit", failures, lambda: timed_fit(spec, data, "cuda"))
        if gpu_fit:
            print(f"  cuda: {gpu_fit[0]:8.2f} s, test accuracy {gpu_fit[1]:.4f}")
        if cpu_fit and gpu_fit:
            gap = abs(gpu_fit[1] - cpu_fit[1])
            within = gap <= TOLERANCE
            verdict = "within" if within else "NOT within"
            print(f"  |cuda - cpu| test accuracy = {gap:.4f} ({verdict} {TOLERANCE})")
            print(f"  ratio cpu / cuda fit time: {cpu_fit[0] / gpu_fit[0]:.2f}")
            results["accuracy_gap"], results["accuracy_within"] = gap, within
            rows.append(
                Row("fit", "cuda", "32", gpu_fit[0], gpu_fit[1], f"|Δacc| {gap:.4f} {verdict} 0.01")
            )
        elif gpu_fit:
            rows.append(Row("fit", "cuda", "32", gpu_fit[0], gpu_fit[1]))

    print("\n2. one epoch of stage 2 (EMMA on the corrupted mix, validation included)")
    cpu_epoch = step("cpu epoch", failures, lambda: epoch_seconds(spec, data, "cpu"))
    if cpu_epoch is not None:
        print(f"  cpu : {cpu_epoch:8.3f} s per epoch")
        rows.append(Row("one epoch (stage 2)", "cpu", "32", cpu_epoch, None))
    if gpu_part:
        gpu_epoch = step("cuda epoch", failures, lambda: epoch_seconds(spec, data, "cuda"))
        if gpu_epoch is not None:
            print(f"  cuda: {gpu_epoch:8.3f} s per epoch")
            extra = ""
            if cpu_epoch is not None:
                ratio = cpu_epoch / gpu_epoch
                results["epoch_ratio_cpu_over_cuda"] = ratio
                extra = f"cpu/cuda {ratio:.2f}"
                print(f"  ratio cpu / cuda per epoch: {ratio:.2f} (> 1: the GPU is faster)")
            rows.append(Row("one epoch (stage 2)", "cuda", "32", gpu_epoch, None, extra))

    if gpu_part:
        print(f"\n3. DDP: torchrun over {gpus} GPU(s)")
        ddp = step("torchrun fit", failures, lambda: torchrun_fit(spec, out, gpus, args.data_dir))
        if ddp:
            seconds, accuracy, what = ddp
            print(f"  torchrun: {seconds:8.2f} s, test accuracy {accuracy:.4f} ({what})")
            extra = what
            if gpu_fit:
                extra += f"; Δacc vs cuda {accuracy - gpu_fit[1]:+.4f}"
                print(f"  ratio one-process cuda fit / torchrun time: {gpu_fit[0] / seconds:.2f}")
            rows.append(Row(f"torchrun x{gpus}", "cuda", "32", seconds, accuracy, extra))

        print("\n4. bfloat16 autocast on the GPU")
        bf16 = with_training(spec, precision="bf16")
        half = step("bf16 fit", failures, lambda: timed_fit(bf16, data, "cuda"))
        if half:
            print(f"  bf16: {half[0]:8.2f} s, test accuracy {half[1]:.4f}")
            extra = ""
            if gpu_fit:
                gap, ratio = half[1] - gpu_fit[1], gpu_fit[0] / half[0]
                extra = f"Δacc vs float32 {gap:+.4f}; time fp32/bf16 {ratio:.2f}"
                print(f"  {extra}")
            rows.append(Row("fit", "cuda", "bf16", half[0], half[1], extra))

    print_table(rows)
    results["rows"] = [row.__dict__ for row in rows]
    results["failures"] = failures
    (out / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsummary.json: {out / 'summary.json'}")
    if failures:
        print(f"failed steps: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
