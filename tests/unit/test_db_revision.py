"""`qmf-bot db revision -m "..."`: a new, empty migration with the next number, after the one head."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

import storage.db
from bot.app.cli import build_parser, main, next_revision_id


@pytest.fixture
def migrations(tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "migrations"
    shutil.copytree(storage.db.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(storage.db, "MIGRATIONS", copy)
    return copy


def heads(folder: Path) -> list[str]:
    config = storage.db.alembic_config()
    config.set_main_option("script_location", str(folder))
    return list(ScriptDirectory.from_config(config).get_heads())


def test_a_revision_gets_the_next_number_and_follows_the_head(migrations, capsys):
    (before,) = heads(migrations)
    expected = f"{int(before) + 1:04d}"
    assert main(["db", "revision", "-m", "Add a reason to cover requests"]) == 0
    written = migrations / "versions" / f"{expected}_add_a_reason_to_cover_requests.py"
    assert written.is_file(), sorted(p.name for p in (migrations / "versions").iterdir())
    text = written.read_text(encoding="utf-8")
    assert text.startswith('"""Add a reason to cover requests')
    assert f"revision = '{expected}'" in text and f"down_revision = '{before}'" in text
    assert "def upgrade() -> None:" in text and "def downgrade() -> None:" in text
    assert heads(migrations) == [expected]
    assert f"New migration {expected} (after {before})" in capsys.readouterr().out
    assert main(["db", "revision", "-m", "and another"]) == 0
    assert heads(migrations) == [f"{int(expected) + 1:04d}"]


def test_the_real_versions_folder_is_untouched(migrations):
    real = Path(storage.db.__file__).parent / "migrations" / "versions"
    names = sorted(p.name for p in real.glob("*.py"))
    main(["db", "revision", "-m", "scratch"])
    assert sorted(p.name for p in real.glob("*.py")) == names


@pytest.mark.parametrize("message", ["", "   ", 'a """ b', "back\\slash", "x" * 201])
def test_a_bad_message_is_one_clear_line_and_writes_nothing(migrations, capsys, message):
    files = sorted((migrations / "versions").iterdir())
    assert main(["db", "revision", "-m", message]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qmf-bot: -m needs a one-line description") and "Traceback" not in err
    assert sorted((migrations / "versions").iterdir()) == files


def test_two_heads_must_be_merged_first(migrations, capsys):
    (migrations / "versions" / "0900_branch.py").write_text(
        'revision = "0900"\ndown_revision = "0001"\nbranch_labels = None\ndepends_on = None\n'
        "def upgrade():\n    pass\ndef downgrade():\n    pass\n", encoding="utf-8")
    assert len(heads(migrations)) == 2
    files = sorted((migrations / "versions").iterdir())
    assert main(["db", "revision", "-m", "after two heads"]) == 1
    assert "merge them into one" in capsys.readouterr().err
    assert sorted((migrations / "versions").iterdir()) == files


def test_numbering_and_help():
    assert next_revision_id(Path("/nonexistent")) == "0001"
    help_text = build_parser().parse_args(["db", "revision", "-m", "x"])
    assert help_text.func.__name__ == "cmd_db_revision"
