"""The README and docs/ say what the code does: the settings table is the generated one, and every finhub
command line they show parses with the real command-line parser."""

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from finhub.cli import build_parser
from finhub.commands import config as config_command

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
CONFIGURATION = DOCS["configuration.md"]

BEGIN = "<!-- BEGIN generated: finhub config --markdown -->\n"
END = "<!-- END generated -->"
#: How a finhub command starts in a shell block; ``python -m finhub.sandbox`` is another program.
COMMAND = re.compile(r"^(?:\.venv/bin/finhub|finhub|(?:\.venv/bin/)?python3? -m finhub)(?=\s|$)(.*)$")


def _code_lines(text: str) -> list[str]:
    """The lines of the fenced code blocks of ``text``, comments cut off, continuations joined."""
    lines, inside, pending = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        line = pending + re.sub(r"(^|\s)#.*$", "", line).strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        lines.append(line)
    return lines


def _finhub_commands(text: str) -> list[list[str]]:
    """Each finhub command line shown in ``text``, as its argument list (the first command of a pipeline)."""
    found = []
    for line in _code_lines(text):
        first = re.split(r"\s(?:\||&&|;|>)\s?", line)[0].strip()
        match = COMMAND.match(first)
        if match:
            found.append(shlex.split(match.group(1)))
    return found


def _parses(argv: list[str]) -> str | None:
    """None when ``argv`` parses with finhub's parser, else argparse's complaint."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as exc:
        return None if exc.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 170  # the commands, the quick start, data, queues, scaling: no more


def test_the_two_commands_and_the_quick_tier_are_shown():
    assert "./scripts/run" in README and "./scripts/test" in README
    assert './scripts/test -m "not slow"' in README


def test_the_readme_shows_commands_and_all_of_them_exist():
    commands = _finhub_commands(README)
    shown = {argv[0] for argv in commands if argv}
    parser_commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert shown == parser_commands, "README shows every command, and no other"
    for argv in commands:
        assert _parses(argv) is None, (argv, _parses(argv))


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_command_in_the_docs_exists(name):
    for argv in _finhub_commands(DOCS[name]):
        assert _parses(argv) is None, (name, argv, _parses(argv))


def test_the_checker_catches_a_wrong_command():
    assert _finhub_commands("```sh\n.venv/bin/finhub prices --since 1h | head   # no such option\n```") == [
        ["prices", "--since", "1h"]]
    assert _parses(["prices", "--since", "1h"]) is not None
    assert _parses(["statuss"]) is not None
    assert _finhub_commands("```sh\npython -m finhub.sandbox --port 8900\n```") == []


def test_the_settings_table_is_the_generated_one():
    assert BEGIN in CONFIGURATION and END in CONFIGURATION
    shown = CONFIGURATION.split(BEGIN, 1)[1].split(END, 1)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert config_command.run(argparse.Namespace(markdown=True, keys=False), None) == 0
    assert shown == out.getvalue(), "docs/configuration.md: paste the output of `finhub config --markdown`"


def test_the_readme_links_to_docs_that_exist():
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", README))
    assert linked == {f"docs/{name}" for name in DOCS}, "README links every page of docs/, and only those"
    for name, text in DOCS.items():
        for target in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", text):
            assert target in DOCS, (name, target)


def test_nothing_points_outside_the_repository():
    for name, text in {"README.md": README, **DOCS}.items():
        assert "../shared" not in text and "no internet" not in text, name
