"""The leadgate command, driven through Typer's runner on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from tests.conftest import SETUP, make_app
from typer.testing import CliRunner

from leadgate.cli import cli
from leadgate.store import models as m

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
    return result


def test_db_upgrade_config_apply_export_and_user_create(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    assert invoke("db", "upgrade", "--db", db).exit_code == 0
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP)
    first = invoke("config", "apply", str(setup), "--db", db)
    assert first.exit_code == 0, first.output
    again = invoke("config", "apply", str(setup), "--db", db)
    assert "0 change(s) applied" in again.output
    out = tmp_path / "export.yaml"
    assert invoke("config", "export", "--db", db, "-o", str(out)).exit_code == 0
    assert "round_robin" in out.read_text()
    made = invoke("user", "create", "boss@example.com", "--role", "manager", "--db", db,
                  input="secret-password\nsecret-password\n")
    assert made.exit_code == 0, made.output
    dup = invoke("user", "create", "boss@example.com", "--role", "manager", "--db", db,
                 input="secret-password\nsecret-password\n")
    assert dup.exit_code == 2 and "already exists" in dup.output


def test_bad_config_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    bad = tmp_path / "bad.yaml"
    bad.write_text(SETUP.replace("method: round_robin", "method: coin_toss"))
    result = invoke("config", "apply", str(bad), "--db", db)
    assert result.exit_code == 2
    assert "flows[0].rules[0]" in result.output
    assert "line" in result.output


def test_import_reports_rows_and_writes_rejects(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP)
    invoke("config", "apply", str(setup), "--db", db)
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "first_name,phone,city,product\n"
        "Asha,+91 98123 45678,Mumbai,health\n"
        "Ravi,+91 98123 45679,Mumbai,life\n"
        ",+91 98123 45670,Mumbai,health\n"
        "Dup,+91 98123 45678,Mumbai,health\n"
    )
    result = invoke("import", "leads", str(csv_file), "--source", "website", "--db", db)
    assert result.exit_code == 0, result.output
    assert "imported 4 row(s)" in result.output
    rejects = (tmp_path / "leads.rejected.csv").read_text().splitlines()
    assert rejects[0].startswith("row,reason_codes,messages")
    assert len(rejects) == 3
    assert rejects[1].startswith("4,required")
    assert rejects[2].startswith("5,duplicate")
    app = make_app(f"sqlite:///{db}")
    with app.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(m.Lead).where(
            m.Lead.status == "assigned")) == 2
    app.close()


def test_import_of_unknown_source_is_a_clear_error(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("first_name\nA\n")
    result = invoke("import", "leads", str(csv_file), "--source", "nope", "--db", db)
    assert result.exit_code == 2
    assert "no source" in result.output
