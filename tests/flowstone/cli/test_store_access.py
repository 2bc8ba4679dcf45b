"""What each command touches: `check` neither the store nor resources; read-only commands
refuse a store that does not exist and set no resource up; an unreachable PostgreSQL is
reported at once in plain words."""

from __future__ import annotations

import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flowstone.cli.project import run, write_project

# The resource's setup leaves a marker file: a command that must not set resources up must
# leave no marker behind.
RESOURCE_PIPELINE = textwrap.dedent(
    """
    from pathlib import Path

    import flowstone as fs

    MARKER = Path(__file__).parent / "warehouse-was-set-up"
    pipeline = fs.Pipeline("with_resource")

    def connect():
        MARKER.write_text("set up")
        return {"rows": [1, 2, 3]}

    @pipeline.asset(resources=["warehouse"])
    def rows(context):
        return context.resources["warehouse"]["rows"]

    def runtime():
        return {"resources": {"warehouse": fs.ResourceDefinition(connect)}}
    """
)


@pytest.fixture
def resource_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project whose only asset reads a resource with a set-up marker."""
    module = write_project(tmp_path, RESOURCE_PIPELINE)
    config = tmp_path / "flowstone.toml"
    config.write_text(config.read_text() + f'runtime = "{module}:runtime"\n')
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(module, None)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers (a hung database server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes handshakes; nobody ever reads or replies
        yield f"postgresql://flowstone@127.0.0.1:{sock.getsockname()[1]}/flowstone"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://flowstone:secret@127.0.0.1:{port}/flowstone"  # nothing listens now


def test_check_neither_opens_the_store_nor_sets_resources_up(resource_project: Path) -> None:
    code, out = run("--storage", closed_port_url(), "check")
    assert code == 0, out
    assert "ok: pipeline is valid (1 assets)" in out
    assert not (resource_project / "warehouse-was-set-up").exists()
    assert not (resource_project / ".fs").exists()


def test_check_creates_no_sqlite_store(project: Path) -> None:
    code, out = run("check")
    assert code == 0, out
    assert not (project / ".fs").exists()


def test_check_refuses_a_storage_url_flowstone_cannot_use(project: Path) -> None:
    code, out = run("--storage", "mysql://db/flowstone", "check")
    assert code == 4
    assert "unknown scheme 'mysql'" in out


def test_check_reports_a_resource_the_runtime_does_not_provide(
    resource_project: Path,
) -> None:
    config = resource_project / "flowstone.toml"
    config.write_text(config.read_text().replace("runtime = ", "# runtime = "))
    code, out = run("check")
    assert code == 3
    assert "warehouse" in out


@pytest.mark.parametrize(
    "command",
    [["runs"], ["materializations", "total"], ["lineage", "total", "-p", "2025-01-02"]],
)
def test_read_only_commands_refuse_a_sqlite_store_that_does_not_exist(
    project: Path, command: list[str]
) -> None:
    code, out = run("--storage", "sqlite:///typo/flowstone.db", *command)
    assert code == 4
    assert "no record store at" in out
    assert "typo/flowstone.db" in out
    assert not (project / "sub" / "typo").exists()
    assert not (project / ".fs").exists()


def test_read_only_commands_refuse_the_default_store_before_anything_ran(project: Path) -> None:
    code, out = run("runs")
    assert code == 4
    assert "no record store at" in out
    assert not (project / ".fs").exists()


def test_read_only_commands_read_a_store_that_exists(project: Path) -> None:
    assert run("materialize", "numbers", "-p", "2025-01-02")[0] == 0
    code, out = run("runs")
    assert code == 0, out
    assert "succeeded" in out


def test_read_only_commands_do_not_set_resources_up(resource_project: Path) -> None:
    assert run("materialize", "rows")[0] == 0
    (resource_project / "warehouse-was-set-up").unlink()
    for command in (["runs"], ["materializations", "rows"], ["lineage", "rows"]):
        code, out = run(*command)
        assert code == 0, out
    assert not (resource_project / "warehouse-was-set-up").exists()


def test_an_unreachable_postgresql_is_reported_in_plain_words(project: Path) -> None:
    url = closed_port_url()
    code, out = run("--storage", url, "runs")
    assert code == 4
    assert "cannot connect to PostgreSQL at postgresql://flowstone:***@127.0.0.1" in out
    assert "secret" not in out
    assert "the same batch" not in out  # a hint for library writers, not for the CLI


@pytest.mark.timeout(30)  # connecting with the library's patience would take minutes
def test_a_hung_postgresql_fails_the_command_after_a_short_connect_timeout(
    project: Path, silent_server: str
) -> None:
    code, out = run("--storage", silent_server, "materialize", "numbers", "-p", "2025-01-02")
    assert code == 4
    assert "cannot connect to PostgreSQL" in out
    assert "timed out" in out


def test_a_resource_that_fails_to_set_up_exits_4_with_its_error(resource_project: Path) -> None:
    module = resource_project / next(p.name for p in resource_project.glob("cli_pipeline_*.py"))
    module.write_text(
        module.read_text().replace(
            'MARKER.write_text("set up")', 'raise ConnectionError("warehouse is down")'
        )
    )
    code, out = run("materialize", "rows")
    assert code == 4
    assert "resource 'warehouse' failed to set up: ConnectionError: warehouse is down" in out
    assert "Traceback" not in out
