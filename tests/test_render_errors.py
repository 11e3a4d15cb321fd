"""``impactreport render``: every mistake is one line before slow work, and nothing hangs.

The pre-flight tests run the real CLI in a copy of the project and check that the error is the only
line on stderr, names what the user typed, and that no kernel started (no output folder, fast). The
kernel tests run tiny reports whose cell kills or aborts its own kernel, or sleeps until SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impactreport.cli.main import main
from impactreport.errors import InputError
from impactreport.render import check_output_dir, quarto
from impactreport.render.builtin import render_builtin

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from impactreport.cli.main import main; sys.exit(main())"]


def make_project(folder: Path, report: str | None = None) -> Path:
    """A copy of the Quarto project; ``report`` replaces ``report/index.qmd`` when given."""
    (folder / "report").mkdir(parents=True)
    shutil.copy(REPO / "_quarto.yml", folder / "_quarto.yml")
    if report is None:
        shutil.copy(REPO / "report" / "index.qmd", folder / "report" / "index.qmd")
    else:
        (folder / "report" / "index.qmd").write_text(report, encoding="utf-8")
    return folder


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The single stderr line of a refused render (and nothing else)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("impactreport: error: ")
    return lines[0].removeprefix("impactreport: error: ")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = make_project(tmp_path / "project")
    monkeypatch.chdir(folder)
    return folder


# --------------------------------------------------------------------------- before any slow work


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-P", "bandwidth:abc"], "parameter bandwidth 'abc': is not a number"),
        (["-P", "char_bandwidth:0"], "parameter char_bandwidth 0: must be more than 0"),
        (["-P", "since:2017-13-01"], "parameter since '2017-13-01': no such day"),
        (["-P", "since:2017-02-30"], "parameter since '2017-02-30': no such day"),
        (["-P", "until:spring"], "parameter until 'spring': expected a day as YYYY-MM-DD"),
        (["-P", "since:2017-03-01", "-P", "until:2017-02-01"], "since 2017-03-01 is after until 2017-02-01"),
        (["-P", "thresholds:[500, x]"], "parameter thresholds"),
        (["-P", "text_basis:pdf"], "parameter text_basis 'pdf': choose html or markdown"),
        (["-P", "years:[1]"], "parameter years"),
        (["-P", "colour:red"], "-P colour: not a parameter of report/index.qmd"),
        (["-P", "no-colon"], "-P 'no-colon': expected key:value"),
    ],
)
def test_parameter_mistakes_are_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    started = time.perf_counter()
    assert main(["render", "--engine", "builtin", *args]) == 2
    assert time.perf_counter() - started < 5  # no kernel was started
    assert expected in one_error(capsys)
    assert not (project / "_output").exists()


def test_unknown_project_names_the_parameter(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("impactreport.pipeline", reason="the lead's preflight checks projects")
    assert main(["render", "--engine", "builtin", "-P", "projects:[rephetoi]"]) == 2
    message = one_error(capsys)
    assert message.startswith("parameter projects") and "rephetoi" in message
    assert "--project" not in message
    assert not (project / "_output").exists()


def test_missing_data_names_the_parameter(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("impactreport.pipeline", reason="the lead's preflight checks data paths")
    assert main(["render", "--engine", "builtin", "-P", "data:/no/such/exports"]) == 2
    message = one_error(capsys)
    assert "/no/such/exports" in message and "cell failed" not in message
    assert not (project / "_output").exists()


def test_output_dir_is_a_file(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "taken"
    afile.write_text("not a folder")
    assert main(["render", "--engine", "builtin", "--output-dir", str(afile)]) == 2
    assert one_error(capsys) == f"--output-dir {afile}: is a file, not a folder"
    assert main(["render", "--engine", "builtin", "--output-dir", str(afile / "sub")]) == 2
    assert one_error(capsys) == f"--output-dir {afile / 'sub'}: {afile} is a file, not a folder"
    assert afile.read_text() == "not a folder"


def test_output_dir_read_only(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a mode-555 folder is writable (see the /sys test)")
        assert main(["render", "--engine", "builtin", "--output-dir", str(locked / "out")]) == 2
        assert one_error(capsys) == f"--output-dir {locked / 'out'}: not permitted to write there"
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_output_dir_not_permitted(
    project: Path, capsys: pytest.CaptureFixture[str], unwritable_folder: Path
) -> None:
    """``/sys`` refuses new folders even to root (EPERM): a folder no one may create."""
    target = unwritable_folder
    assert main(["render", "--engine", "builtin", "--output-dir", str(target)]) == 2
    message = one_error(capsys)
    assert message.startswith(f"--output-dir {target}: ")
    assert "not permitted" in message or "cannot write" in message


def test_output_dir_check_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    check_output_dir(target)  # creatable and writable
    assert list(tmp_path.iterdir()) == []  # the probe removed what it created
    (tmp_path / "out" / "figures").parent.mkdir()
    (tmp_path / "out" / "figures").write_text("")
    with pytest.raises(InputError, match="figures is a file"):
        check_output_dir(tmp_path / "out")


def test_impossible_dates_as_cli_parameters() -> None:
    from impactreport.cli.render import parse_param

    assert parse_param("since:2017-13-01") == ("since", "2017-13-01")  # YAML could not make it a date
    assert parse_param("since:2017-02-30") == ("since", "2017-02-30")
    assert parse_param("since:2017-02-28") == ("since", "2017-02-28")
    with pytest.raises(InputError, match=r"nested too deeply") as error:
        parse_param("team:" + "[" * 2_000)
    assert len(str(error.value)) < 200  # the echo of what was typed is cut short


# --------------------------------------------------------------------------- errors raised in cells

RAISES = """\
# Raises

```{python}
x = 1
```

```{python}
from impactreport.errors import InputError
raise InputError("parameter data '/nowhere': no such file or folder")
```
"""


@pytest.mark.slow
def test_cell_input_error_is_the_bare_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(tmp_path / "p", RAISES)
    os.chdir(tmp_path / "p")
    try:
        assert main(["render", "--engine", "builtin", "--to", "html"]) == 2
    finally:
        os.chdir(REPO)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "impactreport: error: parameter data '/nowhere': no such file or folder"
    )
    assert "cell failed" not in err and "index.qmd:" not in err


def test_quarto_failures_are_one_line() -> None:
    """Quarto's stderr (as recorded from Quarto 1.7.34) becomes the one line a user should see."""
    cell_error = (
        "Executing 'index.quarto_ipynb'\n  Cell 1/2: ''...Done\n  Cell 2/2: ''...\n\n"
        "An error occurred while executing the following cell:\n------------------\nraise X\n"
        "------------------\n\n\n\x1b[31m----------------------------------------\x1b[39m\n"
        "\x1b[31mInputError\x1b[39m                                Traceback (most recent call last)\n"
        "\x1b[31mInputError\x1b[39m: parameter data '/no/such': no such file or folder\n\n"
    )
    assert str(quarto.failure(cell_error, "report/index.qmd", "html")) == (
        "parameter data '/no/such': no such file or folder"
    )
    bug = cell_error.replace("InputError", "ZeroDivisionError").replace(
        "parameter data '/no/such': no such file or folder", "division by zero"
    )
    assert str(quarto.failure(bug, "report/index.qmd", "html")) == (
        "report/index.qmd (cell 2 of 2): cell failed: ZeroDivisionError: division by zero"
    )
    died = (
        "  Cell 1/2: ''...Done\n  Cell 2/2: ''...2026-12-02 06:58:04,291 - traitlets - ERROR - "
        "Kernel died while waiting for execute reply.\n\n\nKernel died\n"
    )
    assert str(quarto.failure(died, "report/index.qmd", "pdf")) == (
        "the report's Python kernel died while Quarto ran report/index.qmd (cell 2 of 2)"
    )
    other = str(quarto.failure("ERROR: something odd\n", "report/index.qmd", "pdf"))
    assert other.startswith("quarto render report/index.qmd --to typst failed: ERROR: something odd (log: ")
    log = Path(other.rsplit("(log: ", 1)[1].rstrip(")"))
    assert log.read_text(encoding="utf-8") == "ERROR: something odd\n"
    log.unlink()


# --------------------------------------------------------------------------- a kernel that dies

KILLS = """\
# Dies

```{python}
x = 1
```

```{python}
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
```

Never here.
"""

ABORTS = KILLS.replace("os.kill(os.getpid(), signal.SIGKILL)", "os.abort()")


@pytest.mark.slow
@pytest.mark.parametrize(("report", "how"), [(KILLS, "SIGKILL"), (ABORTS, "SIGABRT")], ids=["kill", "abort"])
def test_dead_kernel_ends_the_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: str, how: str
) -> None:
    make_project(tmp_path / "p", report)
    os.chdir(tmp_path / "p")
    started = time.perf_counter()
    try:
        code = main(["render", "--engine", "builtin", "--to", "html"])
    finally:
        os.chdir(REPO)
    assert time.perf_counter() - started < 60  # it used to wait forever
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"impactreport: error: the report's Python kernel died (killed by {how}) while running "
        "report/index.qmd:7"
    )
    assert "render: executing index.qmd" in err  # progress came first, one line per stage
    assert not (tmp_path / "p" / "_output" / "index.html").exists()


@pytest.mark.slow
def test_timeout_stops_the_kernel(tmp_path: Path) -> None:
    source = tmp_path / "slow.qmd"
    source.write_text("# Slow\n\n```{python}\nimport time\ntime.sleep(600)\n```\n", encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"the report ran longer than 3 s \(stopped in slow\.qmd:3"):
        render_builtin(source, to=("html",), output_dir=tmp_path / "out", root=tmp_path, timeout=3)
    assert time.perf_counter() - started < 30


SLEEPS = "# Sleeps\n\n```{python}\nimport time\ntime.sleep(600)\n```\n"


def _kernels_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the kernel of a builtin render)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the kernel")
def test_sigterm_stops_the_render_and_its_kernel(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", SLEEPS)
    process = subprocess.Popen(
        [*CLI, "render", "--engine", "builtin", "--to", "html"],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        kernels: list[int] = []
        while not kernels and time.monotonic() < deadline:
            time.sleep(0.5)
            kernels = [pid for pid in _kernels_of(process.pid) if b"ipykernel" in _cmdline(pid)]
        assert kernels, "the kernel never started"
        time.sleep(2)  # let the cell start sleeping
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, err = process.communicate(timeout=30)
        assert time.monotonic() - started < 15
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "render: stopped by SIGTERM"
    time.sleep(0.5)
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in kernels)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
