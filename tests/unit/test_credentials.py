"""Credential maps (gateway/credentials.py) and `rcgate credentials add`."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.credentials import CredentialError, CredentialMap, add_entry, read_map

REPO = Path(__file__).resolve().parents[2]
OLD, NEW = "old-key-of-the-ci-bot-0001", "new-instance-key-of-the-ci-bot"


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_a_mapped_key_is_swapped_and_an_unmapped_one_forwarded_or_refused(tmp_path):
    path = write(tmp_path / "m.yaml", f"keys:\n  {sha(OLD)}: {NEW}\n")
    forward = CredentialMap.load(path, "forward")
    assert forward.key_for(OLD) == NEW
    assert forward.key_for("someone-else") == "someone-else"
    refuse = CredentialMap.load(path, "refuse")
    assert refuse.key_for(OLD) == NEW and refuse.key_for("someone-else") is None
    assert CredentialMap.load(None, "forward").key_for("k") == "k"
    assert CredentialMap.load(None, "refuse").key_for("k") is None


def test_env_values_are_read_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path / "m.yaml", f"keys:\n  {sha(OLD)}: env:RCGATE_TEST_NEW_KEY\n")
    monkeypatch.setenv("RCGATE_TEST_NEW_KEY", NEW)
    assert CredentialMap.load(path).key_for(OLD) == NEW
    monkeypatch.delenv("RCGATE_TEST_NEW_KEY")
    with pytest.raises(CredentialError) as info:
        CredentialMap.load(path)
    assert "RCGATE_TEST_NEW_KEY is not set" in str(info.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_map_others_can_read_is_refused(tmp_path, mode):
    path = write(tmp_path / "m.yaml", f"keys:\n  {sha(OLD)}: {NEW}\n", mode)
    with pytest.raises(CredentialError) as info:
        CredentialMap.load(path)
    assert "readable by its owner only" in str(info.value) and f"{mode:04o}" in str(info.value)


@pytest.mark.parametrize("text", [f"keys:\n  {sha(OLD)[:12]}: {NEW}\n", f"keys:\n  {sha(OLD)}: ''\n", "- a\n",
                                  f"other: 1\nkeys:\n  {sha(OLD)}: {NEW}\n", "keys: [1, 2\n"])
def test_a_bad_map_is_refused_without_quoting_it(tmp_path, text):
    path = write(tmp_path / "m.yaml", text)
    with pytest.raises(CredentialError) as info:
        CredentialMap.load(path)
    assert NEW not in str(info.value) and sha(OLD) not in str(info.value)


def test_add_writes_a_private_file_and_replaces_an_entry(tmp_path):
    path = tmp_path / "new.yaml"
    assert add_entry(path, OLD, NEW) is False
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_map(path, resolve=False) == {sha(OLD): NEW}
    assert add_entry(path, OLD, "env:CI_KEY") is True
    assert add_entry(path, "second", "k2") is False
    assert read_map(path, resolve=False) == {sha(OLD): "env:CI_KEY", sha("second"): "k2"}
    assert OLD not in path.read_text()  # only its hash


def test_cli_add_reads_the_keys_from_standard_input_and_prints_neither(tmp_path):
    path = tmp_path / "map.yaml"
    run = subprocess.run([sys.executable, "-m", "gateway", "credentials", "add", "--file", str(path)],
                         input=f"{OLD}\n{NEW}\n", capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "added an entry" in run.stdout
    for secret in (OLD, NEW, sha(OLD)):
        assert secret not in run.stdout + run.stderr
    assert CredentialMap.load(path).key_for(OLD) == NEW
    short = subprocess.run([sys.executable, "-m", "gateway", "credentials", "add", "--file", str(path)],
                           input=f"{OLD}\n", capture_output=True, text=True, cwd=REPO)
    assert short.returncode == 2 and "expected two lines" in short.stderr


def test_read_two_keys_from_a_pipe():
    from gateway.credentials import read_two_keys

    assert read_two_keys(io.StringIO(f" {OLD} \n{NEW}\nignored\n"), interactive=False) == (OLD, NEW)
    with pytest.raises(CredentialError):
        read_two_keys(io.StringIO(f"{OLD}\n\n"), interactive=False)
