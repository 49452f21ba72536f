"""Logs as an operator ships them: plain lines by default, JSON lines when QMF_LOG_FORMAT=json, and
Sentry started only when SENTRY_DSN is set (sentry_sdk imported only then)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.logs import JsonLines
from bot.core.logcontext import log_context
from bot.core.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import logging, sys
from bot.app.logs import configure_logging
from bot.core.logcontext import log_context
configure_logging()
with log_context(job="send-reminders"):
    logging.getLogger("schedules.jobs").info("job %s done", "send-reminders")
try:
    raise ValueError("bad\\nthing")
except ValueError:
    logging.getLogger("bot.app.web").exception("a request failed")
print("sentry_sdk" in sys.modules)
"""


def run(env: dict[str, str], tmp_path: Path, extra_path: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QMF_", "SENTRY_"))}
    clean["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT), clean.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-c", PROGRAM], env={**clean, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=True)


def test_json_lines_are_one_object_per_line_with_context(tmp_path):
    done = run({"QMF_LOG_FORMAT": "json"}, tmp_path)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "job"}
    assert first["level"] == "INFO" and first["logger"] == "schedules.jobs"
    assert first["message"] == "job send-reminders done" and first["job"] == "send-reminders"
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "job" not in second
    assert second["error"].startswith("ValueError: bad\nthing at <string>:")
    assert done.stdout.strip() == "False", "no Sentry without SENTRY_DSN"


def test_plain_lines_by_default(tmp_path):
    done = run({}, tmp_path)
    first = done.stderr.splitlines()[0]
    assert " INFO schedules.jobs: job send-reminders done" in first
    assert not first.startswith("{")
    assert "Traceback" in done.stderr, "the default format is unchanged"
    assert done.stdout.strip() == "False"


def test_sentry_starts_only_with_a_dsn(tmp_path):
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "sentry_sdk.py").write_text(
        "import pathlib\n"
        "def init(**kw):\n"
        "    pathlib.Path('inited').write_text(kw['dsn'] + ' ' + str(kw.get('send_default_pii')))\n")
    done = run({}, tmp_path, extra_path=str(stub))
    assert done.stdout.strip() == "False" and not (tmp_path / "inited").exists()
    done = run({"SENTRY_DSN": "https://key@sentry.example/1"}, tmp_path, extra_path=str(stub))
    assert done.stdout.strip() == "True"
    assert (tmp_path / "inited").read_text() == "https://key@sentry.example/1 False"


def test_a_dsn_without_the_extra_is_one_warning_not_a_crash(tmp_path):
    try:
        import sentry_sdk  # noqa: F401
        pytest.skip("sentry-sdk is installed here")
    except ImportError:
        pass
    done = run({"SENTRY_DSN": "https://key@sentry.example/1"}, tmp_path)
    assert "pip install 'qmf-bot[sentry]'" in done.stderr


def test_the_formatter_adds_context_and_the_settings_check_the_values():
    record = logging.LogRecord("bot.app.web", logging.WARNING, __file__, 1, "refused %s", ("x",), None)
    with log_context(request="1-abc", slack="command /qmf"):
        line = json.loads(JsonLines().format(record))
    assert line["request"] == "1-abc" and line["slack"] == "command /qmf" and line["message"] == "refused x"
    assert load_settings(qmf_log_format="JSON").qmf_log_format == "json"
    with pytest.raises(SettingsError, match="QMF_LOG_FORMAT must be text or json"):
        load_settings(qmf_log_format="xml")
    with pytest.raises(SettingsError, match="SENTRY_DSN"):
        load_settings(sentry_dsn="not-a-url")
    with pytest.raises(SettingsError, match="QMF_HEALTH_OUTBOX_STUCK"):
        load_settings(qmf_health_outbox_stuck=0)
