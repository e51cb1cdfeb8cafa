"""Make the figures of the documentation from the sample data: docs/img/*.png, and the outputs the pages show
of the same run.

Trains the default model on sample_data/signals.mat for a short run (seeded),
scores the file and draws the run's figures with sigae's own code, exactly as
these commands (the getting-started ones, with --epochs 30), run from the
project root in a scratch folder:

    sigae-train sample_data/signals.mat --out runs/signals --epochs 30 --seed 0
    sigae-score runs/signals sample_data/signals.mat -o scores.mat --labels labels
    sigae-plot runs/signals sample_data/signals.mat --labels labels --out docs/img --overwrite

    python scripts/make_figures.py [--epochs 30] [--seed 0] [--out docs/img] [--no-pages]

Writes loss.png, reconstructions.png, scores.png and latent.png, prints what
each step printed, and rewrites every output block of README.md and docs/
marked ``<!-- output-generated: scripts/make_figures.py STEP -->`` (STEP: train
or score) with what that step printed. tests/test_docs.py does not compare these
blocks (it cuts training to one epoch), so rerun this script when the default
model or its messages change.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data" / "signals.mat"
EPOCH_LINE = re.compile(r"^epoch \d+/\d+ - ")
MARKER = re.compile(r"^\s*<!--\s*output-generated:\s*scripts/make_figures\.py\s+(?P<step>\w+)\s*-->\s*$")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def pages() -> list[Path]:
    docs = ROOT / "docs"
    return [ROOT / "README.md"] + sorted(p for p in docs.rglob("*.md")
                                         if not any(part.startswith("_") for part in p.relative_to(docs).parts))


def update_pages(outputs: dict[str, str]) -> list[Path]:
    """Replace the body of each marked output block by the output of its step; returns the pages changed."""
    changed = []
    for page in pages():
        lines = page.read_text(encoding="utf-8").splitlines()
        i, new = 0, []
        while i < len(lines):
            new.append(lines[i])
            marker = MARKER.match(lines[i])
            i += 1
            if not marker:
                continue
            step = marker["step"]
            if step not in outputs:
                sys.exit(f"make_figures: {page.relative_to(ROOT)}: no step {step!r} (steps: {', '.join(outputs)})")
            while i < len(lines) and not FENCE.match(lines[i]):  # blank lines up to the fence
                new.append(lines[i])
                i += 1
            if i == len(lines):
                sys.exit(f"make_figures: {page.relative_to(ROOT)}: no fenced block after the {step!r} marker")
            fence = FENCE.match(lines[i])[1]
            new.append(lines[i])
            end = i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            new += outputs[step].rstrip("\n").splitlines()
            i = end  # the closing fence comes next
        text = "\n".join(new) + "\n"
        if text != page.read_text(encoding="utf-8"):
            page.write_text(text, encoding="utf-8")
            changed.append(page)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA), help="signals file (the pages are updated only for the default)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--no-pages", action="store_true", help="do not rewrite the output blocks of the pages")
    args = parser.parse_args(argv)

    from sigae import cli

    data = Path(args.data).resolve()
    out = str(Path(args.out).resolve())
    outputs = {}
    with tempfile.TemporaryDirectory(prefix="sigae-figures-") as tmp, contextlib.chdir(tmp):
        (Path(tmp) / "sample_data").symlink_to(data.parent, target_is_directory=True)
        signals = f"sample_data/{data.name}"  # the paths the pages show
        steps = [("train", [signals, "--out", "runs/signals", "--epochs", str(args.epochs), "--seed", str(args.seed)]),
                 ("score", ["runs/signals", signals, "-o", "scores.mat", "--labels", "labels"]),
                 ("plot", ["runs/signals", signals, "--labels", "labels", "--out", out, "--overwrite"])]
        for name, command in steps:
            print(f"$ sigae-{name} {' '.join(command)}", flush=True)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                code = cli.run(name, command)
            print(printed.getvalue(), end="", flush=True)
            if code:
                return code
            # the summary, without the per-epoch lines (the pages say one is printed per epoch)
            outputs[name] = "".join(line for line in printed.getvalue().splitlines(keepends=True)
                                    if not EPOCH_LINE.match(line))
    if args.no_pages or data != DATA.resolve():
        print("pages not updated" + ("" if args.no_pages else f" (--data is not {DATA.relative_to(ROOT)})"))
        return 0
    changed = update_pages(outputs)
    print("updated the outputs shown in: " + (", ".join(str(p.relative_to(ROOT)) for p in changed) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
