"""The README is short and its commands run as written; docs/configuration.md documents every setting,
exactly as ``finhub config --markdown`` prints them."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from finhub.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def _shell_lines(text: str) -> list[str]:
    """The command lines of the text's ``sh`` code blocks, comments and continuations folded."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #", 1)[0].strip()
            if command:
                lines.append(command)
    return lines


FINHUB_COMMANDS = [line for line in _shell_lines(README)
                   if re.match(r"(\.venv/bin/)?finhub |python -m finhub ", line)]


def test_the_readme_stays_short_and_shows_the_two_commands():
    assert len(README.splitlines()) <= 150
    assert "./scripts/run" in README and "./scripts/test" in README


def test_the_readme_shows_finhub_commands():
    assert len(FINHUB_COMMANDS) >= 8


@pytest.mark.parametrize("line", FINHUB_COMMANDS)
def test_every_finhub_command_in_the_readme_parses(line):
    words = shlex.split(line)
    words = words[3:] if words[0] == "python" else words[1:]
    build_parser().parse_args(words)  # exits (SystemExit) on an unknown command or option


def test_every_setting_is_in_the_configuration_table_as_the_cli_prints_it():
    printed = subprocess.run([sys.executable, "-m", "finhub", "config", "--markdown"], capture_output=True,
                             text=True, check=True, env={"PATH": "/usr/bin:/bin", "FINHUB_CONFIG": "/dev/null"}).stdout
    assert printed.strip() in CONFIGURATION


def test_the_docs_name_no_path_outside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in path.read_text(), path
