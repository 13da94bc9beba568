"""The `atspro` command line as operators and scripts use it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.reliability.process import Api, app_process


def test_user_and_token_commands_print_working_tokens(tmp_path: Path) -> None:
    """`user create` and `token create` print a token alone on the last line; both work."""
    with app_process(tmp_path / "data") as app:
        app.cli("migrate")
        first = app.create_user("cli@example.com")
        second = app.cli("token", "create", "cli@example.com").strip().splitlines()[-1]
        assert first != second
        assert first.startswith("atp_")
        app.start()
        for token in (first, second):
            assert Api(app, token).submit(echo="cli")["status"] == "pending"


def test_duplicate_user_and_unknown_email_fail_clearly(tmp_path: Path) -> None:
    """A second user with the same email, or a token for nobody, exits non-zero with a reason."""
    with app_process(tmp_path / "data") as app:
        app.create_user("dup@example.com")
        again = app.run("user", "create", "dup@example.com")
        assert again.returncode == 1
        assert again.stderr.strip() == "atspro: a user with email dup@example.com already exists"
        nobody = app.run("token", "create", "nobody@example.com")
        assert nobody.returncode == 1
        assert nobody.stderr.strip() == "atspro: no user with email nobody@example.com"


def test_status_reports_queue_depths(tmp_path: Path) -> None:
    """`atspro status` prints JSON with each queue's depth."""
    with app_process(tmp_path / "data") as app:
        app.create_user("status@example.com")
        report = json.loads(app.cli("status"))
        assert set(report["queues"]) == {"high", "default", "low"}
        assert report["queues"]["default"]["queued"] == 0


def test_web_mode_on_the_default_queue_refuses_to_start(tmp_path: Path) -> None:
    """`serve --mode web` without a shared queue exits 2 and names the missing setting."""
    with app_process(tmp_path / "data") as app:
        result = app.run("serve", "--mode", "web")
        assert result.returncode == 2
        assert "ATSPRO_QUEUE_URL" in result.stderr
