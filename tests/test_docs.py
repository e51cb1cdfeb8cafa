"""The documentation cannot drift from the code.

1. The CLI reference (generated from ``sigae.cli.build_parsers()`` by
   ``docs/_hooks/cli_reference.py``) lists exactly the options and arguments each
   command's ``--help`` shows, and every ``sigae-*`` entry point of
   pyproject.toml has a section.
2. Every ```python block and every shell command (```bash / ```sh / ```console,
   where only ``$ `` lines are commands) in README.md and docs/**/*.md runs, in
   page order, in a fresh copy of the project (one workspace per page; Python
   blocks of a page share one namespace, like a notebook), on the real sample data
   (``sample_data/signals.mat``, 2000 x 501), so examples may assert its shapes. A block is not run
   only when marked, and each skip is counted and must give a reason:

   - ``<!-- skip-example: REASON -->`` on the line(s) just above the fence, or
   - a fence titled ``not run`` (```bash title="not run"), shown as such on the site.

   ``<!-- expect-exit: N -->`` above a shell block: every command in it must exit with N
   (error examples). ``<!-- requires: onnxruntime, tensorboard -->`` above a block: it runs only where
   those modules are importable (optional extras; CI installs every extra, so it runs there). Blocks in other languages (```text, ```json, no language) are output, not run.

Substitutions, so that a page runs in seconds (the text of the page is not changed otherwise):

| in the page | when run |
|---|---|
| ``--epochs N`` / ``epochs=N`` | ``--epochs 1`` / ``epochs=1`` |
| ``sigae-train`` / ``sigae train`` without ``--epochs`` or ``--resume`` | ``--epochs 1`` appended |
| ``pip install ...``, ``pytest ...``, ``mkdocs ...`` | not run: that is how this test itself is run (CI runs all three) |
| ``tensorboard --logdir ...`` | not run: a web server the reader opens in a browser |
| ``../shared/data`` (real datasets next to the project) | a link to the real folder; the block is skipped when it is absent |

``sigae``/``sigae-*`` commands without shell operators run in this process through
``sigae.cli`` (same code as the entry points, without TensorFlow's start-up per
command); anything else runs in ``bash`` with this interpreter first on PATH.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHARED = ROOT.parent / "shared"
PYTHON_LANGS = {"python", "py", "pycon"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
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

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<key>skip-example|expect-exit|requires)\s*:?\s*(?P<value>.*?)\s*-->\s*$")


def doc_files() -> list[Path]:
    """README.md and every page under docs/ (folders starting with ``_`` are not published)."""
    pages = sorted(p for p in DOCS.rglob("*.md") if not any(part.startswith("_") for part in p.relative_to(DOCS).parts))
    return [ROOT / "README.md"] + pages


def extract_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
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
            if marker and marker["key"] == "skip-example":
                block.skip = marker["value"]
            elif marker and marker["key"] == "requires":
                block.requires += re.split(r"[\s,]+", marker["value"].strip())
            elif marker:
                block.expect_exit = int(marker["value"])
            k -= 1
        if re.search(r"""title=["']not run["']""", info):
            block.skip = "titled 'not run'"
        if lang in SHELL_LANGS:
            block.commands = shell_commands(block.code, console=lang == "console")
        blocks.append(block)
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


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in extract_blocks(f)]


def runnable(block: Block) -> bool:
    return block.lang in PYTHON_LANGS | SHELL_LANGS


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


# ---------------------------------------------------------------------------- running
class Page:
    """One page's workspace: a copy of the project's scripts and sample data, one Python namespace."""

    def __init__(self, tmp: Path):
        self.cwd = tmp / "sigae"
        self.cwd.mkdir()
        for folder in ("scripts", "sample_data"):
            shutil.copytree(ROOT / folder, self.cwd / folder, ignore=shutil.ignore_patterns("__pycache__"))
        if SHARED.is_dir():
            (tmp / "shared").symlink_to(SHARED, target_is_directory=True)
        self.namespace = {"__name__": "__main__"}
        self.log = io.StringIO()

    def run_python(self, block: Block) -> None:
        code = compile(python_code(block.code), block.where, "exec")
        with _chdir(self.cwd), contextlib.redirect_stdout(self.log):
            exec(code, self.namespace)  # noqa: S102 (running the documentation is the point)
        _close_figures()

    def run_shell(self, block: Block, command: str) -> str | None:
        """Run one command line; returns a reason when it is deliberately not run."""
        for part in re.split(r"\s+&&\s+", command):
            if part.startswith(NOT_RUN):
                continue
            code = self._run_one(part)
            if code != block.expect_exit:
                raise AssertionError(f"{block.where}: `{part}` exited with {code}, expected {block.expect_exit}\n"
                                     + self.log.getvalue()[-4000:])
        return None

    def _run_one(self, command: str) -> int:
        try:
            argv = shlex.split(command, comments=True)
        except ValueError:
            argv = None
        simple = argv and not re.search(r"[|<>;&$`*]|^\w+=", command.split("#")[0])
        if simple and argv[0] == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            return 0
        if simple and _in_process(argv):
            return self._run_sigae(argv)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run(["bash", "-c", shell_text(command)], cwd=self.cwd, env=env, capture_output=True,
                                text=True, timeout=COMMAND_TIMEOUT)
        self.log.write(f"$ {command}\n{result.stdout}{result.stderr}")
        return result.returncode

    def _run_sigae(self, argv: list[str]) -> int:
        from sigae import cli

        umbrella = argv[0] == "sigae"
        name, args = (argv[1], argv[2:]) if umbrella and len(argv) > 1 else (argv[0][len("sigae-"):], argv[1:])
        if name == "train":
            args = train_argv(args)
        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        shown = warnings.showwarning
        self.log.write(f"$ sigae-{name} {shlex.join(args)}\n")
        try:
            with _chdir(self.cwd), contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log):
                try:
                    return cli.run(name, args) if name in cli.COMMANDS else cli.main(argv[1:])  # sigae --help
                except SystemExit as exc:
                    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            for s, handler in handlers.items():
                signal.signal(s, handler)
            warnings.showwarning = shown


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
    """What this machine lacks for the block: ../shared, or modules named by ``<!-- requires: ... -->``."""
    missing = ["../shared"] if "../shared" in block.code and not SHARED.is_dir() else []
    return missing + [m for m in block.requires if m and importlib.util.find_spec(m) is None]


PAGES = [f for f in doc_files() if any(runnable(b) for b in extract_blocks(f))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_examples_run(page, tmp_path):
    blocks = [b for b in extract_blocks(page) if runnable(b)]
    todo = [b for b in blocks if b.skip is None and not _missing(b)]
    for b in blocks:
        if b.skip is None and _missing(b):
            print(f"{b.where}: not run here, needs {', '.join(_missing(b))}")
    if not todo:
        pytest.skip(f"{page.relative_to(ROOT)}: every example is marked not to run")
    os.environ.setdefault("MPLBACKEND", "Agg")
    workspace = Page(tmp_path)
    start, timings = time.perf_counter(), []
    for block in todo:
        block_start = time.perf_counter()
        if block.lang in PYTHON_LANGS:
            try:
                workspace.run_python(block)
            except Exception as exc:
                raise AssertionError(f"{block.where}: the example raised {type(exc).__name__}: {exc}\n"
                                     + workspace.log.getvalue()[-4000:]) from exc
        else:
            for command in block.commands:
                command_start = time.perf_counter()
                workspace.run_shell(block, command)
                timings.append((time.perf_counter() - command_start, f"{block.where} $ {command[:60]}"))
            continue
        timings.append((time.perf_counter() - block_start, f"{block.where} (python)"))
    workspace.namespace.clear()  # the page's models and arrays, before the next page
    gc.collect()
    print(f"{page.relative_to(ROOT)}: {len(todo)} block(s) in {time.perf_counter() - start:.1f} s; slowest: "
          + ", ".join(f"{where} {seconds:.1f} s" for seconds, where in sorted(timings, reverse=True)[:3]))


def test_every_skipped_example_says_why():
    blocks = [b for b in all_blocks() if runnable(b)]
    skipped = [b for b in blocks if b.skip is not None]
    assert all(b.skip.strip() for b in skipped), [b.where for b in skipped if not b.skip.strip()]
    print(f"{len(blocks)} runnable blocks, {len(skipped)} marked not to run: "
          + "; ".join(f"{b.where} ({b.skip})" for b in skipped))
    assert len(skipped) < max(3, len(blocks) // 4), "more than a quarter of the examples are not run"


def test_extraction_finds_commands_markers_and_substitutes(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("\n".join([
        "```console", "$ sigae-train data.mat --epochs 50 \\", "    --seed 0", "trained 50 epochs", "```",
        "<!-- skip-example: needs two machines -->", "```bash", "# a comment", "sigae-train x.mat", "```",
        "<!-- expect-exit: 2 -->", "", "```bash", "sigae-info nowhere", "```",
        "<!-- requires: no_such_module_here -->", "```python", "model.fit(x, epochs=300)", "```", '```bash title="not run"', "ls", "```", "```text", "$ no", "```",
    ]), encoding="utf-8")
    blocks = extract_blocks(page)
    assert [b.lang for b in blocks] == ["console", "bash", "bash", "python", "bash", "text"]
    assert blocks[0].commands == ["sigae-train data.mat --epochs 50 --seed 0"] and blocks[0].skip is None
    assert blocks[1].skip == "needs two machines" and blocks[1].commands == ["sigae-train x.mat"]
    assert blocks[2].expect_exit == 2 and blocks[2].skip is None
    assert python_code(blocks[3].code) == "model.fit(x, epochs=1)"
    assert blocks[3].requires == ["no_such_module_here"] and _missing(blocks[3]) == ["no_such_module_here"]
    assert blocks[4].skip == "titled 'not run'"
    assert train_argv(["d.mat", "--epochs", "50"]) == ["d.mat", "--epochs", "1"]
    assert train_argv(["d.mat"]) == ["d.mat", "--epochs=1"]
    assert train_argv(["--resume", "runs/x"]) == ["--resume", "runs/x"]
