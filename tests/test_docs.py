"""The documentation cannot drift from the code.

1. The CLI reference (generated from ``sigae.cli.build_parsers()`` by
   ``docs/_hooks/cli_reference.py``) lists exactly the options and arguments each
   command's ``--help`` shows, and every ``sigae-*`` entry point of
   pyproject.toml has a section.
2. Every ```python block and every shell command (```bash / ```sh / ```console,
   where only ``$ `` lines are commands) of the pages (README.md, docs/**/*.md and
   the READMEs under sample_data/) runs, in page order, in **a fresh clone**: the
   files git tracks (``git add`` new ones), copied to an empty folder with nothing
   beside it (no ``../shared``), one copy per page (Python blocks of a
   page share one namespace, like a notebook), on the data the repository ships
   (``sample_data/signals.mat``, 2000 x 501, and ``sample_data/ucr/``), so examples
   may assert its shapes. A block is not run only when marked, and each skip is
   counted and must give a reason:

   - ``<!-- skip-example: REASON -->`` on the line(s) just above the fence, or
   - a fence titled ``not run`` (```bash title="not run"), shown as such on the site.

   ``<!-- expect-exit: N -->`` above a shell block: every command in it must exit with N
   (error examples). ``<!-- requires: onnxruntime, tensorboard -->`` above a block: it runs only where
   those modules are importable (optional extras; CI installs every extra, so it runs there).
3. Pages run in any order, in one clone: each page runs in its own copy, and no two
   pages write the same output (a file or folder at the top of the project, or a run
   folder ``runs/NAME``), nor change a file of the project. So a page never needs
   another page's outputs, and never finds one of its own outputs already written by
   another page (which would stop it with "exists; pass --overwrite").
4. Outputs shown in a page are what the commands print. A ```text or ```json block (or
   one with no language) that follows a run block, with no heading between them, is
   that block's output; in a ```console block, the lines after a ``$`` line are that
   command's output. Each shown line must be found, in order, among the lines printed
   (stdout and stderr; printed lines that are not shown are allowed, so a page may show
   an excerpt), with these rules:

   - text is compared exactly, runs of spaces and tabs counting as one space;
   - ``...`` in a shown line stands for any text (as in ``(...)``);
   - a number is compared **to the precision shown**: the printed number must round to
     the shown one (shown ``0.942`` accepts printed 0.9424, not 0.9426), so a page may
     show fewer digits than printed; integers are exact;
   - ``<!-- output-tolerance: 5% REASON -->`` above the output block also accepts numbers
     within that relative difference (for numbers that vary between machines).

   A block whose output is compared runs as written, without the shortening below (its
   output would not be the one shown otherwise), and so does a block marked
   ``<!-- run-as-written: REASON -->`` (one whose results a later compared output shows).
   An output that needs more than the suite can afford (full training, wall times) is
   either written by a script, ``<!-- output-generated: scripts/make_figures.py STEP -->``
   (the script rewrites the block from its own run; rerun it when the model changes), or
   marked ``<!-- output-not-compared: REASON -->``; both are counted and listed like skips.
   Other ```text blocks (a usage line, an error message quoted in prose) are not outputs.

Substitutions, so that a page runs in seconds (the text of the page is not changed otherwise):

| in the page | when run |
|---|---|
| ``--epochs N`` / ``epochs=N`` | ``--epochs 1`` / ``epochs=1`` (not in a block that runs as written) |
| ``sigae-train`` / ``sigae train`` without ``--epochs`` or ``--resume`` | ``--epochs 1`` appended (idem) |
| ``pip install ...``, ``pytest ...``, ``mkdocs ...`` | not run: that is how this test itself is run (CI runs all three) |
| ``tensorboard --logdir ...`` | not run: a web server the reader opens in a browser |

``sigae``/``sigae-*`` commands without shell operators run in this process through
``sigae.cli`` (same code as the entry points, without TensorFlow's start-up per
command); anything else runs in ``bash`` with this interpreter first on PATH.

5. Paths to the repository's files named anywhere in the pages or in the scripts'
   docstrings (``sample_data/...``, ``scripts/...``) exist in the fresh clone, and none
   points outside the project (``../``); the wheel holds the package only, not the
   sample data.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import gc
import importlib.util
import io
import itertools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import warnings
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PYTHON_LANGS = {"python", "py", "pycon"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
OUTPUT_LANGS = {"text", "json", ""}
COMMAND_TIMEOUT = 300


# ============================================================================ the CLI reference
def _hook():
    spec = importlib.util.spec_from_file_location("sigae_docs_cli_reference", DOCS / "_hooks" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry_points() -> dict[str, str]:
    """pyproject.toml's ``[project.scripts]``: ``{"sigae-train": "sigae.cli:main_train", ...}``."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["scripts"]


def _help_text(name: str, target: str, capsys, monkeypatch) -> str:
    """What ``NAME --help`` prints, through the entry point's own function."""
    module, func = target.split(":")
    entry = getattr(importlib.import_module(module), func)
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        entry()
    assert exit_info.value.code in (0, None), f"{name} --help exited with {exit_info.value.code}"
    return capsys.readouterr().out


def _help_arguments(text: str) -> tuple[set[str], set[str]]:
    """(option strings, positional names) shown by an argparse ``--help``."""
    options, positionals, section = set(), set(), None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1].strip().lower()
            continue
        if section is None or section.startswith("example") or not re.match(r"^  \S", line):
            continue
        invocation = re.split(r"\s{2,}", line.strip())[0]
        if invocation.startswith("-"):
            options.update(re.findall(r"(?:^|, )(-{1,2}[A-Za-z0-9][\w-]*)", invocation))
        elif section == "positional arguments":
            positionals.add(invocation.split()[0])
    return options, positionals


def _reference_sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## ", markdown, flags=re.M)
    return {part.splitlines()[0].strip(): part for part in parts[1:]}


def _reference_arguments(section: str) -> tuple[set[str], set[str]]:
    """(option strings, positional names) in a command's section of the generated reference."""
    options, positionals, table = set(), set(), None
    for line in section.splitlines():
        if line.startswith("| option |"):
            table = "options"
        elif line.startswith("| argument |"):
            table = "positionals"
        elif not line.startswith("|"):
            table = None
        elif table and not line.startswith("|---"):
            first = line.split(" | ")[0]
            if table == "options":
                options.update(re.findall(r"`(-{1,2}[A-Za-z0-9][\w-]*)", first))
            else:
                positionals.update(re.findall(r"`([^`\s]+)`", first))
    return options, positionals


def test_cli_reference_matches_every_commands_help(capsys, monkeypatch):
    reference = _reference_sections(_hook().reference_markdown())
    scripts = {name: target for name, target in _entry_points().items() if name != "sigae"}
    assert scripts, "no sigae-* entry points in pyproject.toml"
    for name, target in scripts.items():
        assert name in reference, (f"{name} is an entry point, but the CLI reference has no section for it: "
                                   "add its parser to sigae.cli.build_parsers()")
        help_options, help_positionals = _help_arguments(_help_text(name, target, capsys, monkeypatch))
        ref_options, ref_positionals = _reference_arguments(reference[name])
        assert help_options, f"{name} --help: no options found (parser of this test out of date?)"
        assert help_options - ref_options == set(), f"{name}: in --help but not in the reference"
        assert ref_options - help_options == set(), f"{name}: in the reference but not in --help"
        assert help_positionals == ref_positionals, f"{name}: positional arguments differ"
    extra = set(reference) - set(scripts) - {"sigae"}
    assert not extra, f"the reference documents commands that are not entry points: {sorted(extra)}"


def test_cli_reference_lists_the_umbrella_commands(capsys):
    from sigae import cli

    capsys.readouterr()
    assert cli.main(["--help"]) == 0
    listed = set(re.findall(r"^  (\w+)\s{2,}", capsys.readouterr().out, flags=re.M))
    reference = _hook().reference_markdown()
    assert listed == set(cli.build_parsers()), "sigae --help and build_parsers() list different commands"
    for name in listed:
        assert f"[`sigae-{name}`](#sigae-{name})" in reference


def test_reference_comparison_notices_a_missing_option():
    """The comparison above can fail: an option dropped from the reference is seen."""
    hook = _hook()
    from sigae.cli import build_parsers

    section = hook.command_section("score", build_parsers()["score"])
    full, _ = _reference_arguments(section)
    cut, _ = _reference_arguments("\n".join(line for line in section.splitlines() if "--per-point" not in line))
    assert full - cut == {"--per-point"}
    parser = build_parsers()["score"]
    help_options, help_positionals = _help_arguments(parser.format_help())
    assert help_options == full
    assert help_positionals == {a.metavar or a.dest for a in parser._actions if not a.option_strings} != set()


def test_site_builds_strict(tmp_path):
    """``mkdocs build --strict`` (skipped when the docs extra is not installed; CI installs it)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()


# ============================================================================ executed examples
@dataclass
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None = None
    expect_exit: int = 0
    requires: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    shown_outputs: list[str | None] = field(default_factory=list)  # console: each command's shown output
    as_written: str | None = None  # <!-- run-as-written: REASON -->
    not_compared: str | None = None  # <!-- output-not-compared: REASON -->
    generated: str | None = None  # <!-- output-generated: SCRIPT STEP -->
    tolerance: float | None = None  # <!-- output-tolerance: 5% REASON --> (relative)
    follows: Block | None = None  # the fenced block just before, when no heading is between them
    output: Block | None = None  # the output block shown after this run block
    output_of: Block | None = None  # for an output block: the run block it shows the output of

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"

    @property
    def compared(self) -> bool:
        """An output (block, or a console block's output lines) that the test compares with what was printed."""
        return self.not_compared is None and self.generated is None

    @property
    def full(self) -> bool:
        """Run as written, without cutting epochs: its own output is compared, or a later output needs it."""
        if self.as_written is not None:
            return True
        if self.lang == "console":
            return self.compared and any(out is not None for out in self.shown_outputs)
        return self.output is not None and self.output.compared


FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<key>skip-example|expect-exit|requires|run-as-written|output-not-compared|"
                    r"output-generated|output-tolerance)\s*:?\s*(?P<value>.*?)\s*-->\s*$")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


def doc_files() -> list[Path]:
    """README.md, every page under docs/ (folders starting with ``_`` are not published), and the READMEs of
    the sample data."""
    pages = sorted(p for p in DOCS.rglob("*.md") if not any(part.startswith("_") for part in p.relative_to(DOCS).parts))
    return [ROOT / "README.md"] + pages + sorted((ROOT / "sample_data").rglob("README.md"))


def extract_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i, previous_end = [], 0, None
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"]
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        lang = (info.split() or [""])[0].strip("{}.").lower()
        block = Block(path, i + 1, lang, "\n".join(body))
        k = i - 1
        while k >= 0 and (MARKER.match(lines[k]) or not lines[k].strip()):  # markers just above the fence
            marker = MARKER.match(lines[k])
            key, value = (marker["key"], marker["value"]) if marker else (None, None)
            if key == "skip-example":
                block.skip = value
            elif key == "requires":
                block.requires += re.split(r"[\s,]+", value.strip())
            elif key == "expect-exit":
                block.expect_exit = int(value)
            elif key == "run-as-written":
                block.as_written = value
            elif key == "output-not-compared":
                block.not_compared = value
            elif key == "output-generated":
                block.generated = value
            elif key == "output-tolerance":
                percent = re.match(r"(\d+(?:\.\d+)?)\s*%\s*(.*)", value)
                assert percent and percent[2].strip(), (f"{block.where}: write <!-- output-tolerance: N% REASON -->, "
                                                        f"not {value!r}")
                block.tolerance = float(percent[1]) / 100
            k -= 1
        if re.search(r"""title=["']not run["']""", info):
            block.skip = "titled 'not run'"
        if lang in SHELL_LANGS:
            block.commands = shell_commands(block.code, console=lang == "console")
            if lang == "console":
                block.shown_outputs = console_outputs(block.code)
        if blocks and previous_end is not None and not any(HEADING.match(line) for line in lines[previous_end:i]):
            block.follows = blocks[-1]
        if lang in OUTPUT_LANGS and block.follows is not None and runnable(block.follows):
            block.output_of, block.follows.output = block.follows, block
        blocks.append(block)
        previous_end = j + 1
        i = j + 1
    return blocks


def shell_commands(code: str, console: bool) -> list[str]:
    """The commands of a shell block: every line (joined at trailing backslashes), or the ``$`` lines."""
    commands, current = [], None
    for line in code.splitlines():
        if current is not None:
            current += " " + line.strip()
        elif console:
            if not line.startswith("$ "):
                continue
            current = line[2:].strip()
        else:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            current = line.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        commands.append(current)
        current = None
    if current:
        commands.append(current)
    return commands


def console_outputs(code: str) -> list[str | None]:
    """For each ``$`` command of a console block, the lines shown after it (None when there are none)."""
    outputs, continued = [], False
    for line in code.splitlines():
        if line.startswith("$ "):
            outputs.append([])
            continued = line.rstrip().endswith("\\")
        elif continued:
            continued = line.rstrip().endswith("\\")
        elif outputs and line.strip():
            outputs[-1].append(line)
    return ["\n".join(lines) if lines else None for lines in outputs]


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in extract_blocks(f)]


def runnable(block: Block) -> bool:
    return block.lang in PYTHON_LANGS | SHELL_LANGS


# ---------------------------------------------------------------------------- shown outputs
NUMBER = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
# A number starts after neither a letter, digit nor point (so "float32", "v0.1.0" and hashes stay text) and may
# be followed by a unit ("22.8s", "9.27%").
SHOWN_TOKEN = re.compile(rf"(?P<ellipsis>\.\.\.)|(?<![\w.])(?P<number>{NUMBER})(?!\d)")


def _line_pattern(shown: str) -> tuple[re.Pattern, list[str]]:
    """A regex for one shown line (numbers captured, ``...`` any text, spaces flexible) and its numbers."""
    parts, numbers, pos = [], [], 0
    for match in SHOWN_TOKEN.finditer(shown):
        parts.append(re.escape(shown[pos:match.start()]))
        if match["ellipsis"]:
            parts.append(".*?")
        else:
            parts.append(f"({NUMBER})")
            numbers.append(match["number"])
        pos = match.end()
    parts.append(re.escape(shown[pos:]))
    pattern = re.sub(r"(?:\\\s|\s)+", r"\\s+", "".join(parts))  # re.escape escapes spaces
    return re.compile(pattern), numbers


def _half_unit(number: str) -> float:
    """Half a unit in the last digit shown: ``0.942`` -> 0.0005, ``5.7e-06`` -> 5e-08, ``21`` -> 0.5."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def _numbers_agree(shown: str, printed: str, tolerance: float | None) -> bool:
    a, b = float(shown), float(printed)
    if abs(a - b) <= _half_unit(shown) * (1 + 1e-9):
        return True
    return tolerance is not None and abs(a - b) <= tolerance * abs(a)


def compare_output(shown: str, printed: str, tolerance: float | None = None) -> str | None:
    """None when every shown line is found, in order, among the printed lines (rules in the module docstring);
    otherwise what differs."""
    printed_lines = [line.strip() for line in printed.splitlines() if line.strip()]
    at = 0
    for shown_line in (line.strip() for line in shown.splitlines() if line.strip()):
        pattern, numbers = _line_pattern(shown_line)
        near = None
        for index in range(at, len(printed_lines)):
            match = pattern.fullmatch(printed_lines[index])
            if not match:
                continue
            if all(_numbers_agree(s, p, tolerance) for s, p in zip(numbers, match.groups())):
                at = index + 1
                break
            near = near or (printed_lines[index], [(s, p) for s, p in zip(numbers, match.groups())
                                                   if not _numbers_agree(s, p, tolerance)])
        else:
            if near:
                return (f"shown:   {shown_line}\nprinted: {near[0]}\nnumbers differ beyond the precision shown"
                        + (f" and the tolerance {tolerance * 100:g}%" if tolerance else "") + ": "
                        + ", ".join(f"shown {s}, printed {p}" for s, p in near[1]))
            close = difflib.get_close_matches(shown_line, printed_lines[at:], n=1, cutoff=0.3)
            return (f"shown:   {shown_line}\nnot printed (after the lines matched before it)"
                    + (f"; closest printed line:\n         {close[0]}" if close else ""))
    return None


# ---------------------------------------------------------------------------- substitutions
NOT_RUN = ("pip ", "pip3 ", "python -m pip ", "pytest", "python -m pytest", "mkdocs ", "python -m mkdocs ",
           "tensorboard ")


def python_code(code: str) -> str:
    return re.sub(r"\bepochs\s*=\s*\d+", "epochs=1", code)


def train_argv(argv: list[str]) -> list[str]:
    """``--epochs 1`` for a training command (given or appended)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--epochs" and i + 1 < len(argv):
            argv[i + 1] = "1"
        elif arg.startswith("--epochs="):
            argv[i] = "--epochs=1"
    if not any(a == "--epochs" or a.startswith("--epochs=") or a == "--resume" or a.startswith("--resume=")
               for a in argv) and not {"-h", "--help"} & set(argv):
        argv.append("--epochs=1")
    return argv


def shell_text(command: str) -> str:
    return re.sub(r"--epochs(\s+|=)\d+", r"--epochs\g<1>1", command)


# ---------------------------------------------------------------------------- the fresh clone
JUNK = ("__pycache__", "*.pyc", ".git", "runs", ".venv", "venv", "site", "build", "dist", "*.egg-info",
        ".pytest_cache", ".hypothesis")


def project_files() -> list[str] | None:
    """The files a clone holds: those git tracks (as they are in the working tree; ``git add`` a new file for the
    test to see it), not the outputs of earlier runs lying around; None when this is not a git checkout."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=ROOT, capture_output=True, check=True,
                                timeout=60).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory) -> Path:
    """The project as a fresh clone has it, in an otherwise empty folder: nothing beside it (no ../shared)."""
    clone = tmp_path_factory.mktemp("clone") / "sigae"
    files = project_files()
    if files is None:
        shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(*JUNK))
    else:
        for name in files:
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    assert [p.name for p in clone.parent.iterdir()] == ["sigae"]
    return clone


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def output_root(path: str) -> str:
    """What a written file belongs to: its run folder ``runs/NAME``, or its top-level file or folder."""
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "runs" and len(parts) > 1 else parts[0]


def shared_outputs(written: dict[str, set[str]]) -> dict[str, list[str]]:
    """The outputs (``output_root``) that more than one page writes, with those pages."""
    owners = defaultdict(set)
    for page, names in written.items():
        for root in {output_root(name) for name in names}:
            owners[root].add(page)
    return {root: sorted(pages) for root, pages in sorted(owners.items()) if len(pages) > 1}


# ---------------------------------------------------------------------------- running
class Page:
    """One page's workspace: a fresh copy of the project, one Python namespace."""

    def __init__(self, tmp: Path, clone: Path):
        self.root = tmp / "sigae"
        shutil.copytree(clone, self.root)
        assert not (tmp / "shared").exists()
        self.cwd = self.root
        self.namespace = {"__name__": "__main__"}
        self.log = io.StringIO()

    def run_python(self, block: Block) -> str:
        """Run a Python block; returns what it printed."""
        code = compile(block.code if block.full else python_code(block.code), block.where, "exec")
        printed = io.StringIO()
        try:
            with _chdir(self.cwd), contextlib.redirect_stdout(printed):
                exec(code, self.namespace)  # noqa: S102 (running the documentation is the point)
        finally:
            self.log.write(printed.getvalue())
            _close_figures()
        return printed.getvalue()

    def run_shell(self, block: Block, command: str) -> str:
        """Run one command line (parts joined by ``&&`` one after the other); returns what it printed."""
        printed = []
        for part in re.split(r"\s+&&\s+", command):
            if part.startswith(NOT_RUN):
                continue
            code, output = self._run_one(part, block.full)
            printed.append(output)
            if code != block.expect_exit:
                raise AssertionError(f"{block.where}: `{part}` exited with {code}, expected {block.expect_exit}\n"
                                     + self.log.getvalue()[-4000:])
        return "".join(printed)

    def _run_one(self, command: str, full: bool) -> tuple[int, str]:
        try:
            argv = shlex.split(command, comments=True)
        except ValueError:
            argv = None
        simple = argv and not re.search(r"[|<>;&$`*]|^\w+=", command.split("#")[0])
        if simple and argv[0] == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            return 0, ""
        if simple and _in_process(argv):
            return self._run_sigae(argv, full)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run(["bash", "-c", command if full else shell_text(command)], cwd=self.cwd, env=env,
                                capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        self.log.write(f"$ {command}\n{result.stdout}{result.stderr}")
        return result.returncode, result.stdout + result.stderr

    def _run_sigae(self, argv: list[str], full: bool) -> tuple[int, str]:
        from sigae import cli

        umbrella = argv[0] == "sigae"
        name, args = (argv[1], argv[2:]) if umbrella and len(argv) > 1 else (argv[0][len("sigae-"):], argv[1:])
        if name == "train" and not full:
            args = train_argv(args)
        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        shown = warnings.showwarning
        printed = io.StringIO()
        try:
            with _chdir(self.cwd), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                try:
                    code = cli.run(name, args) if name in cli.COMMANDS else cli.main(argv[1:])  # sigae --help
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            for s, handler in handlers.items():
                signal.signal(s, handler)
            warnings.showwarning = shown
            self.log.write(f"$ sigae-{name} {shlex.join(args)}\n{printed.getvalue()}")
        return code, printed.getvalue()


def _in_process(argv: list[str]) -> bool:
    """``sigae-<command>`` / ``sigae <command>`` of ``sigae.cli.COMMANDS`` (others run as real processes)."""
    from sigae import cli

    if argv[0] == "sigae":
        return len(argv) == 1 or argv[1] in cli.COMMANDS or argv[1].startswith("-")
    return argv[0].startswith("sigae-") and argv[0][len("sigae-"):] in cli.COMMANDS


@contextlib.contextmanager
def _chdir(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _close_figures():
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _missing(block: Block) -> list[str]:
    """Modules named by ``<!-- requires: ... -->`` that this machine lacks."""
    return [m for m in block.requires if m and importlib.util.find_spec(m) is None]


def _check_output(shown: str, printed: str, tolerance: float | None, where: str, source: Block) -> None:
    difference = compare_output(shown, printed, tolerance)
    if difference:
        raise AssertionError(f"{where}: the output shown is not what {source.where} printed today "
                             f"(update the page, or see tests/test_docs.py for the rules):\n{difference}\n"
                             f"--- printed:\n{printed[-3000:]}")


PAGES = [f for f in doc_files() if any(runnable(b) for b in extract_blocks(f))]
WRITTEN: dict[str, set[str]] = {}  # page -> files it wrote, relative to the project (for the next test)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_examples_run(page, fresh_clone, tmp_path):
    blocks = [b for b in extract_blocks(page) if runnable(b)]
    todo = [b for b in blocks if b.skip is None and not _missing(b)]
    for b in blocks:
        if b.skip is None and _missing(b):
            print(f"{b.where}: not run here, needs {', '.join(_missing(b))}")
    if not todo:
        pytest.skip(f"{page.relative_to(ROOT)}: every example is marked not to run")
    os.environ.setdefault("MPLBACKEND", "Agg")
    workspace = Page(tmp_path, fresh_clone)
    before = _snapshot(workspace.root)
    start, timings, compared = time.perf_counter(), [], 0
    try:
        for block in todo:
            block_start = time.perf_counter()
            if block.lang in PYTHON_LANGS:
                try:
                    printed = workspace.run_python(block)
                except Exception as exc:
                    raise AssertionError(f"{block.where}: the example raised {type(exc).__name__}: {exc}\n"
                                         + workspace.log.getvalue()[-4000:]) from exc
                timings.append((time.perf_counter() - block_start, f"{block.where} (python)"))
            else:
                printed = []
                for command, shown in itertools.zip_longest(block.commands, block.shown_outputs):
                    command_start = time.perf_counter()
                    printed.append(workspace.run_shell(block, command))
                    timings.append((time.perf_counter() - command_start, f"{block.where} $ {command[:60]}"))
                    if shown is not None and block.compared:
                        _check_output(shown, printed[-1], block.tolerance, f"{block.where} `$ {command[:60]}`", block)
                        compared += 1
                printed = "".join(printed)
            if block.output is not None and block.output.compared:
                _check_output(block.output.code, printed, block.output.tolerance, block.output.where, block)
                compared += 1
    finally:
        after = _snapshot(workspace.root)
        WRITTEN[str(page.relative_to(ROOT))] = {name for name in after if name not in before}
    changed = sorted(name for name in before if after.get(name) != before[name])
    assert not changed, f"{page.relative_to(ROOT)}: the examples changed or removed files of the project: {changed}"
    workspace.namespace.clear()  # the page's models and arrays, before the next page
    gc.collect()
    print(f"{page.relative_to(ROOT)}: {len(todo)} block(s), {compared} output(s) compared, in "
          f"{time.perf_counter() - start:.1f} s; slowest: "
          + ", ".join(f"{where} {seconds:.1f} s" for seconds, where in sorted(timings, reverse=True)[:3]))


def test_pages_write_separate_outputs():
    """Pages run in any order in one clone: no two write the same top-level file or folder, or run folder.

    With each page run in a fresh copy (test_examples_run), this is what running them one after the other, in any
    order, in one clone adds: a page's outputs must not be there already (commands refuse to replace them without
    --overwrite), and nothing a page reads may come from another page.
    """
    if len(WRITTEN) < 2:
        pytest.skip("needs the page examples of this session (test_examples_run)")
    shared = shared_outputs(WRITTEN)
    assert not shared, ("pages that write the same outputs (give each page's run folders and files names of its "
                        f"own): {shared}")
    print(f"{len(WRITTEN)} pages, {len({output_root(n) for names in WRITTEN.values() for n in names})} outputs, "
          "none shared")


def test_every_skipped_example_says_why():
    blocks = all_blocks()
    run_blocks = [b for b in blocks if runnable(b)]
    skipped = [b for b in run_blocks if b.skip is not None]
    assert all(b.skip.strip() for b in skipped), [b.where for b in skipped if not b.skip.strip()]
    print(f"{len(run_blocks)} runnable blocks, {len(skipped)} marked not to run: "
          + "; ".join(f"{b.where} ({b.skip})" for b in skipped))
    assert len(skipped) < max(3, len(run_blocks) // 4), "more than a quarter of the examples are not run"


def test_every_output_not_compared_says_why():
    """Outputs the test does not compare are marked, with a reason or the script that writes them."""
    blocks = all_blocks()
    outputs = [b for b in blocks if b.output_of is not None or any(o is not None for o in b.shown_outputs)]
    assert outputs, "no shown outputs found (parser of this test out of date?)"
    unmarked = [b.where for b in blocks if (b.not_compared is not None or b.generated is not None
                                            or b.tolerance is not None) and b not in outputs]
    assert not unmarked, f"output markers above blocks that are not shown outputs: {unmarked}"
    not_compared = [b for b in outputs if b.not_compared is not None]
    assert all(b.not_compared.strip() for b in not_compared), [b.where for b in not_compared if not b.not_compared]
    for b in (b for b in outputs if b.generated is not None):
        script, _, step = b.generated.partition(" ")
        assert (ROOT / script).is_file() and step, f"{b.where}: write <!-- output-generated: scripts/X.py STEP -->"
        assert "output-generated" in (ROOT / script).read_text(encoding="utf-8"), (
            f"{b.where}: {script} does not write shown outputs")
    compared = [b for b in outputs if b.compared and (b.output_of is None or b.output_of.skip is None)]
    print(f"{len(outputs)} shown outputs, {len(compared)} compared; "
          + "; ".join(f"{b.where} ({b.not_compared or 'written by ' + b.generated})"
                      for b in outputs if not b.compared))
    assert len(not_compared) < max(3, len(outputs) // 4), "more than a quarter of the shown outputs are not compared"


# ---------------------------------------------------------------------------- paths and the wheel
REPO_PATH = re.compile(r"(?<![\w/.-])(?P<path>(?:\.\./)+[\w.{}*-][\w./{},*#-]*|(?:sample_data|scripts)/[\w./{},*-]*)")


def _expand_braces(text: str) -> list[str]:
    """Shell brace expansion of one level: ``a/{b,c}.mat`` -> ``a/b.mat``, ``a/c.mat``."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", text)
    if not match:
        return [text]
    return [expanded for option in match[1].split(",")
            for expanded in _expand_braces(text[:match.start()] + option + text[match.end():])]


def _documented_text() -> dict[str, str]:
    """The pages without the blocks that run (those are checked by running them), and the scripts' docstrings."""
    texts = {}
    for path in doc_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for block in extract_blocks(path):
            if runnable(block) and block.skip is None:
                end = block.line + len(block.code.splitlines()) + 1
                lines[block.line - 1:end] = [""] * (end - block.line + 1)
        texts[str(path.relative_to(ROOT))] = "\n".join(lines)
    for script in sorted((ROOT / "scripts").glob("*.py")):
        texts[str(script.relative_to(ROOT))] = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    return texts


def test_documented_paths_are_in_the_project(fresh_clone):
    """Files of the repository named in prose, tables, skipped blocks and script docstrings exist in a fresh clone;
    none is outside the project (the blocks that run prove their own paths)."""
    checked, missing = 0, []
    for where, text in _documented_text().items():
        for match in REPO_PATH.finditer(text):
            raw = match["path"].rstrip(".,")
            if text[:match.start()].endswith("]("):  # a link: relative to the page
                target = (fresh_clone / where).parent / raw.split("#")[0]
                if not target.resolve().is_relative_to(fresh_clone.resolve()) or not target.exists():
                    missing.append(f"{where}: link {raw}")
                continue
            if raw.startswith("../"):  # in a command or prose: relative to the project root, where commands run
                missing.append(f"{where}: {raw} (outside the project: a fresh clone has nothing beside it)")
                continue
            for path in _expand_braces(raw):
                checked += 1
                if not (any(fresh_clone.glob(path)) if "*" in path else (fresh_clone / path).exists()):
                    missing.append(f"{where}: {path}")
    assert not missing, "paths named in the documentation that a fresh clone does not have:\n" + "\n".join(missing)
    assert checked > 10, "no paths found (pattern of this test out of date?)"


def test_the_wheel_holds_the_package_only(fresh_clone, tmp_path):
    """The sample data is repository data (like the docs): the wheel and the sdist hold the package only."""
    setuptools = pytest.importorskip("setuptools")
    project = tmp_path / "sigae"
    shutil.copytree(fresh_clone, project)
    for build in ("build_wheel", "build_sdist"):  # what pip and python -m build call, without an isolated environment
        code = f"import sys; from setuptools import build_meta; build_meta.{build}(sys.argv[1])"
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "dist")], cwd=project, capture_output=True,
                                text=True, timeout=COMMAND_TIMEOUT)
        assert result.returncode == 0, f"{build}, setuptools {setuptools.__version__}: {result.stderr[-3000:]}"
    (wheel,), (sdist,) = (tmp_path / "dist").glob("*.whl"), (tmp_path / "dist").glob("*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("sigae/data/io/") for n in names), names
    assert {n.split("/")[0] for n in names} == {"sigae", wheel.name.split("-py")[0] + ".dist-info"}, names
    with tarfile.open(sdist) as archive:
        in_sdist = archive.getnames()
    assert not [n for n in names + in_sdist if "sample_data" in n or n.endswith(".mat")]


# ---------------------------------------------------------------------------- this test's own parts
def test_extraction_finds_commands_markers_and_substitutes(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("\n".join([
        "```console", "$ sigae-train data.mat --epochs 50 \\", "    --seed 0", "trained 50 epochs", "```",
        "<!-- skip-example: needs two machines -->", "```bash", "# a comment", "sigae-train x.mat", "```",
        "<!-- expect-exit: 2 -->", "", "```bash", "sigae-info nowhere", "```",
        "<!-- requires: no_such_module_here -->", "```python", "model.fit(x, epochs=300)", "```", '```bash title="not run"', "ls", "```", "```text", "$ no", "```",
        "## A heading", "<!-- run-as-written: its losses are shown below -->", "```bash", "sigae-train y.mat --epochs 3",
        "```", "Some prose.", "<!-- output-tolerance: 5% float32 -->", "```text", "3 epochs", "```",
        "```python", "print(2)", "```", "<!-- output-not-compared: wall time -->", "```", "2", "```",
        "## Another", "```text", "not an output: a heading is between", "```",
    ]), encoding="utf-8")
    blocks = extract_blocks(page)
    assert [b.lang for b in blocks] == ["console", "bash", "bash", "python", "bash", "text", "bash", "text", "python",
                                        "", "text"]
    assert blocks[0].commands == ["sigae-train data.mat --epochs 50 --seed 0"] and blocks[0].skip is None
    assert blocks[0].shown_outputs == ["trained 50 epochs"] and blocks[0].full
    assert blocks[1].skip == "needs two machines" and blocks[1].commands == ["sigae-train x.mat"]
    assert blocks[2].expect_exit == 2 and blocks[2].skip is None and not blocks[2].full
    assert python_code(blocks[3].code) == "model.fit(x, epochs=1)"
    assert blocks[3].requires == ["no_such_module_here"] and _missing(blocks[3]) == ["no_such_module_here"]
    assert blocks[4].skip == "titled 'not run'" and blocks[5].output_of is blocks[4]
    assert blocks[6].as_written and blocks[6].full and blocks[7].output_of is blocks[6] and blocks[7].tolerance == 0.05
    assert blocks[9].output_of is blocks[8] and blocks[9].not_compared == "wall time" and not blocks[8].full
    assert blocks[10].output_of is None and blocks[6].follows is None
    assert train_argv(["d.mat", "--epochs", "50"]) == ["d.mat", "--epochs", "1"]
    assert train_argv(["d.mat"]) == ["d.mat", "--epochs=1"]
    assert train_argv(["--resume", "runs/x"]) == ["--resume", "runs/x"]
    assert console_outputs("$ a \\\n  b\nout 1\n\nout 2\n$ c\n") == ["out 1\nout 2", None]


def test_output_comparison_rules():
    """The comparison of shown outputs can fail, and follows the rules of the module docstring."""
    printed = "reading...\nwrote s.mat: 2000 scores; threshold 0.019237; 21 flagged\nAUROC 0.9424, 5.72e-06\n"
    assert compare_output("wrote s.mat: 2000 scores; threshold 0.01924; 21 flagged", printed) is None
    assert compare_output("... threshold 0.0192...\nAUROC 0.942, 5.7e-06", "x\n" + printed) is None  # an excerpt
    assert compare_output("wrote ...: 2000   scores; ...", printed) is None  # ellipsis, spaces
    assert "numbers differ" in compare_output("AUROC 0.943, 5.7e-06", printed)  # beyond the shown precision
    assert "numbers differ" in compare_output("... 22 flagged", printed)  # integers are exact
    assert compare_output("AUROC 0.95, 5.7e-06", printed, tolerance=0.01) is None
    assert "not printed" in compare_output("AUROC 0.942\nwrote s.mat: ...", printed)  # order matters
    assert "not printed" in compare_output("wrote t.mat: ...", printed)
    assert compare_output('"config_hash": "abd7e13f7d48",', '  "config_hash": "abd7e13f7d48",') is None
    assert compare_output('"config_hash": "abd7e13f7d48",', '"config_hash": "abd7e13f7d49",') is not None
    assert output_root("runs/demo/model.keras") == "runs/demo" and output_root("figures/loss.png") == "figures"
    assert shared_outputs({"a.md": {"runs/demo/config.json", "runs/a/config.json", "figures/loss.png"},
                           "b.md": {"runs/demo/model.keras", "runs/b/config.json", "figures/scores.png"},
                           "c.md": {"runs/c/config.json", "c.mat"}}) == {"figures": ["a.md", "b.md"],
                                                                         "runs/demo": ["a.md", "b.md"]}
    assert _expand_braces("d/{a,b}.mat") == ["d/a.mat", "d/b.mat"]
