"""The storage contract for awkward values: every backend stores and returns the same thing,
so no record that one backend accepts can be refused by another (issue 12, item 1)."""

from __future__ import annotations

import math

import pytest

from flowstone.errors import StorageError
from flowstone.storage import ErrorInfo, Storage
from tests.flowstone.storage.records import batch, mat, run

NUL_ERROR = ErrorInfo("ValueError", "bad \x00 byte", "Traceback ...\nValueError: bad \x00 byte")


class ValuesContract:
    """NUL, lone surrogates, NaN and odd metadata keys, the same on every backend."""

    async def test_nul_and_lone_surrogates_in_text_come_back_as_replacement_characters(
        self, storage: Storage
    ) -> None:
        record = mat(
            "raw",
            "a",
            status="failed",
            error=NUL_ERROR,
            metadata={"note": "x\x00y", "k\x00": "\udcff", "list": ["\ud800"]},
        )
        await storage.write(batch(run("r1", error=NUL_ERROR), record))
        (stored,) = await storage.materializations()
        assert stored.error == ErrorInfo(
            "ValueError", "bad \ufffd byte", "Traceback ...\nValueError: bad \ufffd byte"
        )
        assert stored.metadata == {"note": "x\ufffdy", "k\ufffd": "\ufffd", "list": ["\ufffd"]}
        stored_run = await storage.get_run("r1")
        assert stored_run is not None
        assert stored_run.error is not None
        assert stored_run.error.message == "bad \ufffd byte"

    async def test_free_text_fields_are_cleaned_the_same_way(self, storage: Storage) -> None:
        from dataclasses import replace

        record = replace(mat("raw"), triggered_by="a\x00b", user="\udcff", host="h\x00")
        await storage.write(batch(record))
        (stored,) = await storage.materializations()
        assert (stored.triggered_by, stored.user, stored.host) == ("a\ufffdb", "\ufffd", "h\ufffd")

    async def test_non_finite_floats_in_metadata_are_stored_as_strings(
        self, storage: Storage
    ) -> None:
        values = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "deep": {"x": [math.nan]}}
        await storage.write(batch(run("r1", metadata=values), mat("raw", metadata=values)))
        expected = {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "deep": {"x": ["NaN"]}}
        (stored,) = await storage.materializations()
        assert stored.metadata == expected
        stored_run = await storage.get_run("r1")
        assert stored_run is not None
        assert stored_run.metadata == expected

    async def test_metadata_keys_of_mixed_types_become_strings_as_json_makes_them(
        self, storage: Storage
    ) -> None:
        metadata = {1: "one", "b": 2, None: 3, False: 4, 2.5: 5, (1, 2): 6}
        await storage.write(batch(mat("raw", metadata=metadata)))
        (stored,) = await storage.materializations()
        assert stored.metadata == {"1": "one", "b": 2, "null": 3, "false": 4, "2.5": 5, "(1, 2)": 6}

    @pytest.mark.parametrize("bad", ["a\x00b", "\udcff"])
    async def test_a_key_no_store_can_hold_is_refused_and_nothing_is_written(
        self, storage: Storage, bad: str
    ) -> None:
        with pytest.raises(StorageError, match=r"partition .* which no record store can hold"):
            await storage.write(batch(mat("raw", "ok"), mat("raw", bad)))
        with pytest.raises(StorageError, match=r"input asset .* which no record store can hold"):
            await storage.write(batch(mat("clean", inputs=[(bad, None)])))
        with pytest.raises(StorageError, match=r"run id .* which no record store can hold"):
            await storage.write(batch(run(bad)))
        assert await storage.materializations() == []
        assert await storage.list_runs() == []

    @pytest.mark.parametrize("bad", ["a\x00b", "\udcff"])
    async def test_a_dynamic_partition_key_no_store_can_hold_is_refused(
        self, storage: Storage, bad: str
    ) -> None:
        with pytest.raises(StorageError, match=r"dynamic partition key .* no record store"):
            await storage.add_dynamic_partitions("customers", ["ok", bad])
        assert await storage.dynamic_partitions("customers") == []
