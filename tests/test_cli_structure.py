"""The shape of the command line: every ``newscrawl`` command is declared by
its group's module next to its handler and dispatched by ``func``; functions
of crawler/cli/ stay short; shared values have one definition."""

from __future__ import annotations

import argparse
import ast
import importlib
from datetime import timedelta
from pathlib import Path

import pytest

import crawler.cli
from crawler.cli.main import COMMAND_GROUPS, build_parser, main

CLI_DIR = Path(crawler.cli.__file__).parent
MAX_FUNCTION_LINES = 60
# Functions that only declare argparse options, however long.
DECLARATIONS = {"add_parsers", "add_parser"}
# Modules of crawler/cli/ whose commands a group module declares for them.
DELEGATES = {"crawler.cli.sites": {"crawler.cli.fixtures"}}


def subparsers_of(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def leaf_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command that runs something: (words, parser), walking every group."""
    sub = subparsers_of(parser)
    if sub is None:
        return [(path, parser)]
    assert sub.required, f"`newscrawl {' '.join(path)}` runs nothing without an action"
    out = []
    for name, child in sub.choices.items():
        out += leaf_commands(child, (*path, name))
    return out


COMMANDS = leaf_commands(build_parser())


def test_the_documented_commands_are_all_there():
    names = {" ".join(words) for words, _ in COMMANDS}
    assert {
        "crawl", "demo", "demo-site", "summary", "articles", "show", "search", "top-stories",
        "runs", "export", "browse", "daemon", "schedule", "status", "worker", "enqueue",
        "capture", "reextract",
        "sites list", "sites new", "sites check", "extract", "db upgrade", "db current",
    } <= names  # fmt: skip


@pytest.mark.parametrize("words,parser", COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_every_command_has_a_handler(words, parser):
    func = parser.get_default("func")
    assert callable(func), f"`newscrawl {' '.join(words)}` has no func default"


def test_each_group_declares_its_commands_next_to_their_handlers():
    for group in COMMAND_GROUPS:
        parser = argparse.ArgumentParser()
        group.add_parsers(parser.add_subparsers(dest="command", required=True))
        allowed = {group.__name__, *DELEGATES.get(group.__name__, ())}
        for words, command in leaf_commands(parser):
            func = command.get_default("func")
            assert func.__module__ in allowed, (words, func.__module__, group.__name__)


def test_the_main_module_only_assembles_the_groups():
    tree = ast.parse((CLI_DIR / "main.py").read_text())
    compares = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Attribute)
        and node.left.attr == "command"
    ]
    assert not compares, "main.py dispatches with `args.command == ...`: use set_defaults(func=)"
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert functions == {"build_parser", "main"}


def test_a_group_without_its_action_is_a_usage_error(capsys):
    for group in ("db", "sites"):
        with pytest.raises(SystemExit) as exit_info:
            main([group])
        assert exit_info.value.code == 2
        assert "ACTION" in capsys.readouterr().err


def test_an_unknown_site_is_a_configuration_error(capsys, monkeypatch, tmp_path):
    from crawler.exceptions import CONFIG_ERROR_EXIT

    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(tmp_path))
    assert main(["crawl", "no-such-site", "--database", f"sqlite:///{tmp_path}/x.db"]) == (
        CONFIG_ERROR_EXIT
    )
    assert "no-such-site" in capsys.readouterr().err


def cli_functions() -> list[tuple[str, str, int]]:
    out = []
    for path in sorted(CLI_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                out.append((str(path.relative_to(CLI_DIR)), node.name, length))
    return out


def test_functions_of_the_command_line_are_short():
    long = [
        (path, name, length)
        for path, name, length in cli_functions()
        if length > MAX_FUNCTION_LINES and name not in DECLARATIONS
    ]
    assert not long, f"over {MAX_FUNCTION_LINES} lines: {long}"


def test_durations_read_one_way_everywhere():
    from crawler.scheduling import jobs
    from crawler.sites import definitions, durations

    assert jobs.format_duration is durations.format_duration
    assert definitions.parse_duration is durations.parse_duration
    cases = {45: "45s", 125: "2m 5s", 5400: "1h 30m", 183600: "2d 3h", 0: "0s", 0.5: "0.5s"}
    for seconds, text in cases.items():
        assert durations.format_duration(seconds) == text
        assert durations.format_duration(timedelta(seconds=seconds)) == text
    # Exact to the second: two schedules never read the same (a job's signature).
    assert durations.format_duration(5405) == "1h 30m 5s"
    assert durations.format_duration(90000.4) == "1d 1h"


def test_exit_statuses_and_argument_words_have_one_definition():
    from crawler.sites import arguments

    spiders = importlib.import_module("crawler.spiders.base")
    assert spiders.TRUE_WORDS is arguments.TRUE_WORDS
    assert spiders.FALSE_WORDS is arguments.FALSE_WORDS
    for path in sorted(CLI_DIR.parent.rglob("*.py")):
        if path.name == "exceptions.py" and path.parent == CLI_DIR.parent:
            continue  # where the exit statuses are defined
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                assert not [n for n in names if n.endswith("_EXIT")], (path, names)


def test_a_drafted_definition_reads_the_fields_by_its_own_rules():
    """``sites new`` proposes rules from the crawl's own sources (generic
    extraction's JSON-LD paths, <meta> names and elements), each tried with the
    crawl's rule functions: the draft finds title and body with no fallback."""
    import yaml

    from crawler.cli import onboarding
    from crawler.extraction.page import Page
    from crawler.extraction.rules import extract_article
    from crawler.sites.definitions import Site

    assert not [name for name in vars(onboarding) if name.endswith("_CANDIDATES")]
    fixtures = Path(__file__).parent / "fixtures" / "extraction"
    for name in ("wordpress-theme", "jsonld-modern", "opengraph-meta"):
        html = (fixtures / name / "page.html").read_text(encoding="utf-8")
        url = "https://news.example/2024/03/05/a-story"
        lines = onboarding._article_rules(Page(html, url), html, [])
        rules = yaml.safe_load("\n".join(lines))
        site = Site.model_validate(
            {"name": "draft", "base_url": "https://news.example/", "article": rules}
        )
        strict = site.model_copy(
            update={"article": site.article.model_copy(update={"fallback": False})}
        )
        article = extract_article(html, url, strict)
        assert article.title and article.body and article.published_raw, (name, rules)


def all_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    sub = subparsers_of(parser)
    for name, child in sub.choices.items() if sub else ():
        yield from all_parsers(child, (*path, name))


def test_every_option_says_its_default():
    offenders = []
    for words, parser in all_parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            text = formatter._expand_help(action) if action.help else ""
            if "default" not in text:
                offenders.append(f"newscrawl {' '.join(words)} {'/'.join(action.option_strings)}")
    assert not offenders, "options whose help does not say the default:\n" + "\n".join(offenders)


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"newscrawl {version('newscrawl')}"


def test_user_agent_names_the_installed_version():
    """The User-Agent every crawl sends carries the package's own version."""
    from importlib.metadata import version

    from settings import scrapy_settings

    assert f"newscrawl/{version('newscrawl')} " in scrapy_settings.USER_AGENT
