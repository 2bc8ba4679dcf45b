"""Which event loop the blocking Runtime and the daemons create."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

import flowstone as fs
from flowstone.runtime._loops import loop_factory


def test_uvloop_is_the_default_where_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWSTONE_EVENT_LOOP", raising=False)
    assert loop_factory() is uvloop.new_event_loop


def test_the_standard_loop_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSTONE_EVENT_LOOP", "asyncio")
    assert loop_factory() is asyncio.new_event_loop


def test_auto_falls_back_to_the_standard_loop_without_uvloop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWSTONE_EVENT_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert loop_factory() is asyncio.new_event_loop
    monkeypatch.setenv("FLOWSTONE_EVENT_LOOP", "uvloop")
    with pytest.raises(fs.ConfigurationError, match="uvloop is not installed"):
        loop_factory()


@pytest.mark.parametrize("choice", ["uvloop", "auto", " UVLOOP "])
def test_uvloop_can_be_chosen(monkeypatch: pytest.MonkeyPatch, choice: str) -> None:
    monkeypatch.setenv("FLOWSTONE_EVENT_LOOP", choice)
    assert loop_factory() is uvloop.new_event_loop


def test_an_unknown_loop_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSTONE_EVENT_LOOP", "trio")
    with pytest.raises(fs.ConfigurationError, match=r"'trio'.*auto, uvloop, asyncio"):
        loop_factory()


def test_a_runtime_runs_its_pipeline_on_the_chosen_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = fs.Pipeline("loops")
    seen: list[str] = []

    @pipeline.asset()
    async def which(context: fs.AssetContext) -> str:
        seen.append(type(asyncio.get_running_loop()).__module__)
        return "ok"

    for choice in ("uvloop", "asyncio"):
        monkeypatch.setenv("FLOWSTONE_EVENT_LOOP", choice)
        with fs.Runtime(pipeline, storage="memory") as rt:
            assert rt.materialize("which").success
    assert [m.split(".")[0] for m in seen] == ["uvloop", "asyncio"]
