"""`eessi-bot check-config`: the shipped example passes once its placeholders are filled; broken
configurations name their problem and exit 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from eessi_bot.cli.main import main
from eessi_bot.core.job_env import DEFAULT_PATTERNS, FIXED
from tests.fakes.site import REPOS_CFG, private_key_pem

EXAMPLE = Path(__file__).resolve().parents[2] / "app.cfg.example"


def filled_example(tmp_path: Path) -> Path:
    """app.cfg.example with its placeholders replaced by a throwaway site under tmp_path."""
    key = tmp_path / "app.pem"
    key.write_bytes(private_key_pem())
    key.chmod(0o600)
    shared = tmp_path / "shared"
    (shared / "repos").mkdir(parents=True)
    (shared / "repos" / "repos.cfg").write_text(REPOS_CFG, encoding="utf-8")
    text = EXAMPLE.read_text(encoding="utf-8")
    for placeholder, value in (("PATH_TO_PRIVATE_KEY", str(key)), ("PATH_TO_SHARED_DIRECTORY", str(shared)),
                               ("PATH_TO_BUILD_LOGS_DIR", str(tmp_path / "logs")),
                               ("YOUR_GITHUB_LOGIN", "maintainer")):
        assert placeholder in text
        text = text.replace(placeholder, value)
    cfg = tmp_path / "app.cfg"
    cfg.write_text(text, encoding="utf-8")
    return cfg


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GITHUB_APP_SECRET_TOKEN", "secret-from-env")


def test_example_passes(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = filled_example(tmp_path)
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "instance:            MY-bot" in out
    assert "gpu_h100: linux x86_64/amd/zen4, accel nvidia/cc90" in out
    assert "command permission:  maintainer" in out
    assert "job backend:         slurm" in out
    assert out.rstrip().endswith(f"{cfg}: OK")
    assert "error:" not in out


@pytest.mark.parametrize(("pattern", "new", "expected"), [
    (r"^app_id = 123456\n", "", "error: [github] app_id: is required but missing"),
    (r'"cpu_zen2": \{', '"cpu_zen2": {{', "error: [architecturetargets] node_type_map: is not valid JSON: a name in "
     "double quotes is expected here\n" + " " * 4 + '"cpu_zen2": {{\n' + " " * 17 + "^\n"),
    (r"^private_key = .*$", "private_key = /nonexistent/key.pem",
     "error: [github] private_key = '/nonexistent/key.pem': the file does not exist"),
    (r"^signing =$", 'signing = {"eessi.io-2023.06-software": {"key": "/nonexistent/sign.key"}}',
     "error: [deploycfg] signing = '/nonexistent/sign.key': eessi.io-2023.06-software: the key file "
     "/nonexistent/sign.key does not exist"),
    (r"^upload_method = boto3$", "upload_method = script",
     "error: [deploycfg] artefact_upload_script = '': is empty"),
    (r"^upload_method = boto3\n(.*\n)artefact_upload_script =$",
     "upload_method = script\n\\1artefact_upload_script = /nonexistent/upload",
     "error: [deploycfg] artefact_upload_script = '/nonexistent/upload': is not an executable file"),
], ids=["missing-app-id", "bad-node-type-map-json", "missing-private-key", "missing-signing-key",
        "script-method-without-script", "script-missing"])
def test_broken_configs_name_the_problem(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str],
                                         pattern: str, new: str, expected: str) -> None:
    cfg = filled_example(tmp_path)
    text, count = re.subn(pattern, new, cfg.read_text(), count=1, flags=re.MULTILINE)
    assert count == 1
    cfg.write_text(text)
    assert main(["check-config", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert expected in out, out
    assert "the bot cannot start with this configuration" in out


def test_console_script_exit_codes(tmp_path: Path, env: None) -> None:
    """The installed entry point exits 0/1 (checked through `python -m eessi_bot`)."""
    good = filled_example(tmp_path)
    ok = subprocess.run([sys.executable, "-m", "eessi_bot", "check-config", "--config", str(good)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    missing = subprocess.run([sys.executable, "-m", "eessi_bot", "check-config", "--config",
                              str(tmp_path / "nope.cfg")], capture_output=True, text=True, check=False)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr == (f"{tmp_path / 'nope.cfg'}: error: cannot read the configuration file: No such file or "
                              "directory (copy app.cfg.example to app.cfg, or pass --config PATH)\n")


@pytest.mark.parametrize(("make", "expected"), [
    ("ed25519", None),
    ("public", "is a public key"),
    ("garbage", "not a private key"),
], ids=["ed25519-key", "public-key", "garbage"])
def test_signing_keys_are_checked(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str], make: str,
                                  expected: str) -> None:
    key = tmp_path / "sign.key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    given = {"ed25519": key, "public": key.with_suffix(".key.pub"), "garbage": tmp_path / "garbage"}[make]
    (tmp_path / "garbage").write_text("not a key\n")
    cfg = filled_example(tmp_path)
    cfg.write_text(cfg.read_text().replace("\nsigning =\n",
                                           f'\nsigning = {{"eessi.io-2023.06-software": {{"key": "{given}"}}}}\n'))
    code = main(["check-config", "--config", str(cfg)])
    out = capsys.readouterr().out
    if expected is None:
        assert code == 0, out
    else:
        assert code == 1 and "[deploycfg] signing" in out and expected in out, out
        secret_line = key.read_text().splitlines()[1]
        assert secret_line not in out, "the key never reaches the output"


def test_job_environment_is_shown_and_secret_globs_warned(tmp_path: Path, env: None,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = filled_example(tmp_path)
    cfg.write_text(cfg.read_text().replace("\n[buildenv]\n", "\n[buildenv]\njob_environment = MODULEPATH * GITHUB_*\n"))
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert ("warning: [buildenv] job_environment = '*': would match secret-looking names such as "
            "GITHUB_APP_SECRET_TOKEN, GITHUB_TOKEN, GH_TOKEN; those are never passed to jobs") in out, out
    assert "warning: [buildenv] job_environment = 'GITHUB_*': names secret-looking variables" in out, out
    assert "[buildenv] job_environment = 'MODULEPATH'" not in out
    assert ("job environment:     PATH HOME USER LOGNAME LANG LC_ALL TZ, MODULEPATH * GITHUB_* "
            "(secret-looking names never)\n") in out
    assert out.rstrip().endswith(f"{cfg}: OK")


def test_the_examples_job_environment_is_the_default(tmp_path: Path, env: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """app.cfg.example shows the default, commented out; uncommented it changes nothing and warns of nothing."""
    cfg = filled_example(tmp_path)
    text, count = re.subn(r"^# (job_environment = .*\n)((?:#     .*\n)+)",
                          lambda m: m.group(1) + m.group(2).replace("#     ", "    "), cfg.read_text(),
                          flags=re.MULTILINE)
    assert count == 1
    cfg.write_text(text)
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "job_environment" not in out
    assert f"job environment:     {' '.join(FIXED)}, {' '.join(DEFAULT_PATTERNS)} (" in out
