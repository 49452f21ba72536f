"""How the processes log: plain lines by default, JSON lines when ``QMF_LOG_FORMAT=json``, and
errors to Sentry when ``SENTRY_DSN`` is set and the ``sentry`` extra is installed.

A JSON line is one object: ``time`` (UTC, ISO-8601), ``level``, ``logger``, ``message``, the
request's or job's context when there is one (``bot.core.logcontext``) and ``error`` (the
exception's type and message, one line) when the line carries one. Never a multi-line traceback:
a log shipper reads one event per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from bot.core.logcontext import current_context
from bot.core.settings import Settings, SettingsError, load_settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("slack_bolt", "slack_sdk", "urllib3", "httpx", "apscheduler.executors", "alembic")
log = logging.getLogger(__name__)


class JsonLines(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(current_context())
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            tb = error.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else ""
            line["error"] = f"{type(error).__name__}: {str(error)[:500]}{where}"
        return json.dumps(line, ensure_ascii=False, default=str)


def _settings_or_none() -> Settings | None:
    try:
        return load_settings()
    except SettingsError:
        return None  # the command itself reports the bad setting, in one line


def configure_logging(verbose: bool = False, settings: Settings | None = None) -> None:
    """Set up the root logger for a process (and Sentry, when asked for)."""
    settings = settings or _settings_or_none()
    handler = logging.StreamHandler(sys.stderr)
    if settings is not None and settings.qmf_log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "qmf", False)]:
        root.removeHandler(old)
    handler.qmf = True  # type: ignore[attr-defined]
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if settings is not None:
        init_sentry(settings)


_sentry_started = False


def init_sentry(settings: Settings) -> bool:
    """``sentry_sdk.init`` once per process, only when SENTRY_DSN is set; sentry_sdk is imported only then."""
    global _sentry_started
    if not settings.sentry_dsn or _sentry_started:
        return _sentry_started
    try:
        import sentry_sdk
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed: pip install 'qmf-bot[sentry]'")
        return False
    sentry_sdk.init(dsn=settings.sentry_dsn, send_default_pii=False)
    _sentry_started = True
    return True
