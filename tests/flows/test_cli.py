"""The qmf-bot command line, as an operator uses it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.app.cli import build_parser, main
from bot.app.sandbox.driver import SlackDriver
from bot.app.sandbox.fake_slack import FakeSlack
from bot.core.orgfile import parse_org_text
from storage.db import Database

DATA = Path(__file__).parents[1] / "data"
EXAMPLE = DATA / "contracts_example.yaml"


@pytest.fixture
def cli_env(monkeypatch, database_url):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "QMF_ORG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(Path(database_url.removeprefix("sqlite:///")).parent if "sqlite" in database_url else "/tmp")
    return database_url


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_org_import_then_export_round_trips(cli_env, capsys, tmp_path):
    code, out, _ = run(capsys, "org", "import", str(EXAMPLE))
    assert code == 0
    assert "+ service cic (Children in Care)" in out
    code, exported, _ = run(capsys, "org", "export")
    assert code == 0
    assert parse_org_text(exported) == parse_org_text(EXAMPLE.read_text())
    again = tmp_path / "again.yaml"
    again.write_text(exported)
    code, out, _ = run(capsys, "org", "import", str(again))
    assert "No changes" in out


def test_org_import_dry_run_changes_nothing(cli_env, capsys):
    code, out, _ = run(capsys, "org", "import", str(EXAMPLE), "--dry-run")
    assert code == 0 and "Dry run" in out and "+ service cic" in out
    code, _, err = run(capsys, "org", "export")
    assert code == 1 and "directory is empty" in err


def test_a_broken_org_file_is_refused_naming_the_place_and_nothing_changes(cli_env, capsys, tmp_path):
    run(capsys, "org", "import", str(EXAMPLE))
    _, before, _ = run(capsys, "org", "export")
    broken = tmp_path / "broken.yaml"
    text = EXAMPLE.read_text().replace("team_manager: U0TM1", "team_manager: not-a-slack-id")
    text = text.replace("organisation:", "colour: blue\norganisation:")
    broken.write_text(text)
    code, out, err = run(capsys, "org", "import", str(broken))
    assert code == 1
    assert "nothing changed" in err
    assert "line 1" in err and "colour" in err
    assert "not-a-slack-id" in err or "team_manager" in err
    assert "Traceback" not in err
    _, after, _ = run(capsys, "org", "export")
    assert after == before


def test_a_changed_org_file_reports_what_changed(cli_env, capsys, tmp_path):
    run(capsys, "org", "import", str(EXAMPLE))
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE.read_text().replace("team_manager: U0TM1", "team_manager: U0TM9"))
    code, out, _ = run(capsys, "org", "import", str(changed))
    assert code == 0
    assert "team cic-north: team_manager U0TM1 -> U0TM9" in out


def test_missing_settings_stop_with_one_line_naming_the_variable(cli_env, capsys):
    code, out, err = run(capsys, "serve")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "SLACK_BOT_TOKEN" in err and "Traceback" not in err


def test_a_malformed_database_url_names_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    code, _, err = run(capsys, "org", "export")
    assert code == 2 and "DATABASE_URL" in err


def test_an_old_schema_is_refused_naming_the_upgrade_command(monkeypatch, capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    from alembic import command

    from storage.db import alembic_config

    db = Database(url)
    command.upgrade(alembic_config(db.engine), "0001")
    db.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    code, _, err = run(capsys, "org", "export")
    assert code == 2 and "qmf-bot db upgrade" in err
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "was 0001" in out
    code, _, err = run(capsys, "org", "export")
    assert "directory is empty" in err  # the schema is accepted now


def test_a_new_sqlite_file_is_created_and_migrated(monkeypatch, capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    code, _, err = run(capsys, "org", "export")
    assert "directory is empty" in err
    assert Database(url).current_revision() == Database(url).head_revision()


def _all_commands(parser, prefix=()):  # type: ignore[no-untyped-def]
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _all_commands(sub, (*prefix, name))


def test_every_command_has_help_that_says_what_it_does(capsys):
    commands = list(_all_commands(build_parser()))
    assert ("jobs", "run") in commands and ("org", "import") in commands and ("demo",) in commands
    for command in [(), *commands]:
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert "usage: qmf-bot" in out
        assert len(out.splitlines()) >= 3, command


def test_jobs_run_of_an_unknown_job_says_how_to_list_them(cli_env, capsys):
    code, _, err = run(capsys, "jobs", "run", "no-such-job")
    assert code == 1 and "qmf-bot jobs list" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_a_fake_token_answers_healthz_and_signed_commands(tmp_path):
    port = _free_port()
    with FakeSlack() as fake:
        env = os.environ | {
            "SLACK_BOT_TOKEN": "xoxb-fake-token",
            "SLACK_SIGNING_SECRET": "serve-secret",
            "SLACK_API_URL": fake.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "QMF_ORG_FILE": str(EXAMPLE),
        }
        env.pop("TEST_DATABASE_URL", None)
        proc = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "serve", "--port", str(port)], env=env,
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = httpx.get(url + "/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise AssertionError(proc.stdout.read().decode() if proc.stdout else "no output") from None
                    time.sleep(0.2)
            assert health.status_code == 200 and health.json()["database"] == "ok"
            driver = SlackDriver(url, "serve-secret", fake)
            help_reply = driver.command("U0SM1", "/qmf", "help")
            assert help_reply.status == 200
            assert "/qmf whoami" in help_reply.text  # answered in the ack itself
            whoami = driver.command("U0SM1", "/qmf", "whoami")
            fake.wait_for("response_url", count=1)
            assert "Service Manager, Children in Care" in (whoami.text or "")
            bad = driver.post_raw("command=/qmf&text=help", {"X-Slack-Signature": "v0=bad",
                                                               "X-Slack-Request-Timestamp": str(int(time.time()))})
            assert bad.status == 401
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_socket_mode_needs_an_app_token(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-fake")
    code, _, err = run(capsys, "socket")
    assert code == 2 and "SLACK_APP_TOKEN" in err


def test_a_malformed_token_is_named(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    code, _, err = run(capsys, "scheduler")
    assert code == 2 and "SLACK_BOT_TOKEN" in err and "xoxb-" in err


def test_two_jobs_run_at_the_same_moment_do_the_work_once(cli_env, tmp_path):
    """Two operators (or two schedulers) start the same job for the same period at once."""
    from sqlalchemy import func, select

    from bot.app.sandbox.harness import SAMPLE_ORG
    from storage.models import JobRun, OutboxMessage

    env = os.environ | {"DATABASE_URL": cli_env}
    env.pop("SLACK_BOT_TOKEN", None)
    subprocess.run([sys.executable, "-m", "bot.app.cli", "org", "import", str(SAMPLE_ORG)], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    command = [sys.executable, "-m", "bot.app.cli", "jobs", "run", "open-proposals", "--at", "2026-04-01T09:30"]
    runs = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    lines = sorted(out.strip().splitlines()[0] for out, _ in outputs)
    assert any(": done." in line for line in lines), lines
    assert any("already-done" in line for line in lines), lines
    db = Database(cli_env)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 1
        dms = session.scalar(select(func.count()).select_from(OutboxMessage))
    db.dispose()
    assert dms == 12  # one invitation to each of the 4 Service Managers and 8 Team Managers


def test_a_billion_laughs_org_file_is_refused_in_one_line_without_expanding_it(cli_env, capsys, tmp_path):
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text(
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))
        + "organisation: *i\n")
    assert laughs.stat().st_size < 600
    code, out, err = run(capsys, "org", "import", str(laughs), "--dry-run")
    assert code == 1 and out == ""
    problems = [line for line in err.splitlines() if line.startswith("line ")]
    assert problems == ["line 2: YAML aliases (*a) are not allowed in an org file; write the value out in full"]
    assert "Traceback" not in err and "nothing changed" in err
