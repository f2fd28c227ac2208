"""docs/operations.md stays true to the engine it documents.

An operator follows this file at 3 a.m. with a phone in hand, so it is checked like code: every Prometheus
rule's ``runbook`` link lands on a section (GitHub's heading anchors, or an explicit ``<a id>``), every link
inside the doc lands, every ``tools/query.py`` subcommand it shows is in the tool's ``--help``, every query
and report command line it shows runs against a real database, every engine command line parses, every
settings key it names exists, every TOML snippet is valid over the shipped settings, and its exit-code table
agrees with the CLI and the systemd unit.
"""

from __future__ import annotations

import copy
import io
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import types
import typing
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: installed with apprise

import supervisor
from actors.settings import Settings, parse_settings
from actors.store import Store
from actors.supervisor.engine import EXIT_ESCALATED, EXIT_OK
from tests.actors.store.sample import populate
from tools import query, report

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "operations.md"
ALERTS = REPO / "docs" / "grafana" / "alerts.yml"
UNIT = REPO / "systemd" / "mm-engine@.service"

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
_EXPLICIT_ID = re.compile(r"""<a\s+(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_SETTING = re.compile(r"\[([a-z_]+(?:\.[a-z_]+)?)\](?:[ \t]+([a-z_][a-z0-9_]*))?")
_SHELL_OPS = frozenset("|&;<>()")

QUERY_SCRIPTS = ("mmq", "query.py")  # the doc's shell function, and the tool itself
ALLOWED_NOT_FOUND = ("--id", "--version")  # query.py exits 1 when the example id/version is not in the database


# ---------------------------------------------------------------------------------------------- markdown


def split_code(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(the prose with fenced blocks blanked out, [(language, body)] of the blocks)."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    return _FENCE.sub("", text), blocks


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text in lower case, everything but letters, digits, ``_``,
    ``-`` and spaces dropped, each space a ``-``."""
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    t = re.sub(r"<[^>]+>", "", t).replace("`", "")
    t = re.sub(r"[^\w\- ]", "", t.strip().lower())
    return t.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a markdown file offers: its headings (a repeated one gets -1, -2 ...) and explicit ids."""
    prose, _ = split_code(text)
    seen: dict[str, int] = {}
    out: set[str] = set()
    for m in _HEADING.finditer(prose):
        a = github_anchor(m.group(2))
        n = seen.get(a, 0)
        seen[a] = n + 1
        out.add(a if n == 0 else f"{a}-{n}")
    out.update(_EXPLICIT_ID.findall(text))
    return out


def shell_lines(text: str) -> list[str]:
    """Logical shell lines: of the fenced blocks (not TOML, YAML, JSON) with backslash continuations joined,
    and of inline code spans in the prose."""
    prose, blocks = split_code(text)
    out: list[str] = []
    for lang, body in blocks:
        if lang in ("toml", "yaml", "yml", "json"):
            continue
        out += re.sub(r"\\\n\s*", " ", body).splitlines()
    out += [" ".join(span.split()) for span in _INLINE_CODE.findall(prose)]
    return out


def commands(text: str, script_names: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(the line, the arguments) of every call of one of ``script_names`` (a word, or a path ending in one),
    up to the first shell operator. Comments are dropped; quoted words stay whole."""
    found: list[tuple[str, list[str]]] = []
    for line in shell_lines(text):
        if not any(name in line for name in script_names):
            continue
        lx = shlex.shlex(line, posix=True, punctuation_chars=True)
        lx.whitespace_split = True
        try:
            tokens = list(lx)
        except ValueError:  # an unbalanced quote in prose, not a command
            continue
        for i, tok in enumerate(tokens):
            if not any(tok == n or tok.endswith("/" + n) for n in script_names):
                continue
            args: list[str] = []
            for t in tokens[i + 1:]:
                if t and set(t) <= _SHELL_OPS:
                    break
                args.append(t)
            found.append((line, args))
    return found


def query_calls(text: str) -> list[tuple[str, list[str]]]:
    """Calls of query.py that name a subcommand (the ``mmq`` function's own definition passes "$@")."""
    return [(line, args) for line, args in commands(text, QUERY_SCRIPTS)
            if args and re.fullmatch(r"[a-z][a-z-]*", args[0])]


def without(args: list[str], *options: str) -> list[str]:
    """``args`` without the given options and their values."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in options:
            skip = True
        elif not any(a.startswith(o + "=") for o in options):
            out.append(a)
    return out


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [r for g in data["groups"] for r in g["rules"] if "alert" in r]


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real engine database (two days of ETHUSDC, written through the Store) for the doc's commands."""
    path = tmp_path_factory.mktemp("opsdoc") / "mm.db"
    with Store.open(path) as store:
        populate(store)
    return path


# ---------------------------------------------------------------------------------------------- the helpers


def test_github_anchor_follows_githubs_rules() -> None:
    assert github_anchor("Trading halted") == "trading-halted"
    assert github_anchor("3. Going live: the canary") == "3-going-live-the-canary"
    assert github_anchor('"What happened yesterday?"') == "what-happened-yesterday"
    assert github_anchor("Rate-limit budget") == "rate-limit-budget"
    assert github_anchor("The `[risk]` table_name") == "the-risk-table_name"
    assert anchors("# A\n## A\n```sh\n# A\n```\n<a id='x-y'></a>\n") == {"a", "a-1", "x-y"}


def test_commands_are_cut_at_shell_operators_and_comments() -> None:
    text = "```sh\nmmq pnl --by day --json | jq -r '.[] | .x'   # note\nmmq() { sudo query.py \"$@\"; }\n```\n"
    assert query_calls(text) == [("mmq pnl --by day --json | jq -r '.[] | .x'   # note",
                                  ["pnl", "--by", "day", "--json"])]


# ---------------------------------------------------------------------------------------------- runbooks


def test_every_alert_rule_has_a_runbook_that_resolves(doc: str, rules: list[dict[str, Any]]) -> None:
    have = anchors(doc)
    assert rules, "no alert rules found"
    missing = []
    for r in rules:
        runbook = r.get("annotations", {}).get("runbook", "")
        path, _, anchor = runbook.partition("#")
        assert path == "docs/operations.md" and anchor, f"{r['alert']}: runbook {runbook!r}"
        if anchor not in have:
            missing.append(f"{r['alert']} → #{anchor}")
    assert not missing, f"runbook anchors with no section in docs/operations.md: {missing}"


def test_every_alert_rule_is_named_in_the_runbook_index(doc: str, rules: list[dict[str, Any]]) -> None:
    prose, _ = split_code(doc)
    absent = [r["alert"] for r in rules if f"`{r['alert']}`" not in prose]
    assert not absent, f"alert rules the doc never names: {absent}"


def test_every_link_inside_the_docs_lands(doc: str) -> None:
    prose, _ = split_code(doc)
    broken = []
    for target in _LINK.findall(prose):
        if re.match(r"^[a-z]+:", target):
            continue  # an external URL
        path, _, anchor = target.partition("#")
        file = (DOC.parent / path).resolve() if path else DOC
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in anchors(file.read_text(encoding="utf-8")):
            broken.append(f"{target}: no such anchor")
    assert not broken, broken


# ---------------------------------------------------------------------------------------------- command lines


def test_query_subcommands_shown_exist_in_the_tools_help(doc: str) -> None:
    shown = {args[0] for _, args in query_calls(doc)}
    assert len(shown) >= 5, f"the doc shows too few query commands to be checked: {shown}"
    helped = subprocess.run([sys.executable, str(REPO / "tools" / "query.py"), "--help"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    m = re.search(r"\{([a-z,-]+)\}", helped)
    assert m, helped
    listed = set(m.group(1).split(","))
    assert shown <= listed, f"not in tools/query.py --help: {sorted(shown - listed)}"


def test_every_query_command_runs_on_a_real_database(doc: str, sample_db: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    calls = query_calls(doc)
    failures = []
    for line, args in calls:
        argv = [*without(args, "--db", "--config"), "--db", str(sample_db)]
        out = io.StringIO()
        try:
            code = query.main(argv, out=out)
        except SystemExit as exc:  # argparse: an unknown option, a bad choice, a missing value
            code = exc.code if isinstance(exc.code, int) else 2
        allowed = {0, 1} if any(o in args for o in ALLOWED_NOT_FOUND) else {0}
        if code not in allowed:
            failures.append(f"exit {code}: {line}\n{capsys.readouterr().err}")
    assert not failures, "\n".join(failures)


def test_every_report_command_builds_a_report(doc: str, sample_db: Path, tmp_path: Path) -> None:
    calls = commands(doc, ("report.py",))
    assert calls, "the doc shows no tools/report.py command"
    for line, args in calls:
        argv = [*without(args, "--db", "--config", "--out"), "--db", str(sample_db), "--out", str(tmp_path)]
        out = io.StringIO()
        assert report.main(argv, out=out) == 0, line
        assert '"markdown"' in out.getvalue(), line


def test_every_engine_command_line_parses(doc: str) -> None:
    calls = commands(doc, ("supervisor.py",))
    assert any("--resume" in args for _, args in calls), "the doc shows no --resume command"
    for line, args in calls:
        try:
            ns = supervisor.parse_args(args)
        except SystemExit:
            pytest.fail(f"supervisor.py refuses: {line}")
        if "--resume" in args:
            assert ns.resume and ns.symbols, line


def test_jq_filters_run_on_log_lines(doc: str, tmp_path: Path) -> None:
    """Each ``mmlog`` filter compiles and survives real line shapes: an actor's line, and the main thread's
    lines without symbol, actor or cid."""
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed here")
    lines = tmp_path / "engine.jsonl"
    lines.write_text(
        '{"ts":"2024-08-08T13:00:00.000001Z","level":"INFO","msg":"engine run-1 trading ETHUSDC","module":"m",'
        '"func":"f","line":1,"thread":"MainThread"}\n'
        '{"ts":"2024-08-08T13:00:01.000001Z","level":"ERROR","msg":"ETHUSDC order mmETHUSDC.0mwr9qyt1.0000000052: '
        'rejected","module":"actors.oms.actor","func":"f","line":2,"thread":"OmsActor-5","symbol":"ETHUSDC",'
        '"actor":"oms","cid":"mmETHUSDC.0mwr9qyt1.0000000052","exc":"Traceback\\n  boom"}\n')
    filters = [args[0] for _, args in commands(doc, ("mmlog",)) if args]
    assert len(filters) >= 5, filters
    for f in filters:
        r = subprocess.run([jq, "-c", f, str(lines)], capture_output=True, text=True, timeout=30, check=False)
        assert r.returncode == 0 and not r.stderr, f"jq {f!r}: {r.stderr}"  # jq 1.6 exits 0 after some errors"


# ---------------------------------------------------------------------------------------------- settings


def _keys(cls: type) -> dict[str, Any]:
    """A settings class's keys and their types (tables are dataclasses)."""
    return typing.get_type_hints(cls)


def _table_keys(tp: Any) -> dict[str, Any] | None:
    """A table's keys; a table that is one of several parameter classes ([strategy] by its ``type``) has the
    keys of all of them. None: not a table."""
    members = typing.get_args(tp) if isinstance(tp, types.UnionType) else (tp,)
    if not members or not all(is_dataclass(m) for m in members):
        return None
    out: dict[str, Any] = {}
    for m in members:
        out.update(_keys(m))
    return out


def test_every_settings_key_named_exists(doc: str) -> None:
    prose, _ = split_code(doc)
    tables = {k: keys for k, tp in _keys(Settings).items() if (keys := _table_keys(tp)) is not None}
    bad = []
    named = 0
    for span in _INLINE_CODE.findall(prose):
        for table, key in _SETTING.findall(span):
            named += 1
            top, _, sub = table.partition(".")  # [log.modules]: a key of [log] that is a table itself
            if top not in tables or (sub and sub not in tables[top]):
                bad.append(f"[{table}]")
            elif key and not sub and key not in tables[top]:
                bad.append(f"[{table}] {key}")
    assert named >= 20, f"only {named} settings named: the pattern no longer matches the doc"
    assert not bad, f"settings the doc names that do not exist: {bad}"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        other_type = isinstance(v, dict) and "type" in v and v["type"] != (out.get(k) or {}).get("type")
        # a table of another type (a [strategy] of type = "fixed_spread" over the shipped asmm) replaces it
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and not other_type else v
    return out


def test_every_toml_snippet_is_valid_over_the_shipped_settings(doc: str) -> None:
    _, blocks = split_code(doc)
    snippets = [body for lang, body in blocks if lang == "toml"]
    assert len(snippets) >= 2, "the install and canary settings snippets are gone"
    shipped = tomllib.loads((REPO / "settings.toml").read_text(encoding="utf-8"))
    for body in snippets:
        parse_settings(_merge(shipped, tomllib.loads(body)), "docs/operations.md")  # SettingsError names the key


# ---------------------------------------------------------------------------------------------- exit codes


def test_exit_code_table_agrees_with_the_cli_and_the_unit(doc: str) -> None:
    section = doc.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \|.*\| ([^|]+) \|$", section, re.M)}
    assert set(rows) == {EXIT_OK, EXIT_ESCALATED, supervisor.EXIT_CONFIG, supervisor.EXIT_LOCKED}, rows
    unit = UNIT.read_text(encoding="utf-8")
    assert re.search(r"^Restart=on-failure$", unit, re.M)
    prevent = {int(x) for m in re.finditer(r"^RestartPreventExitStatus=(.+)$", unit, re.M) for x in m.group(1).split()}
    for code, what in rows.items():
        restarted = code != EXIT_OK and code not in prevent
        assert what.strip().startswith("restarts") == restarted, f"exit {code}: doc says {what.strip()!r}"
