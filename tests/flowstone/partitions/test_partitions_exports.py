"""The public surface of flowstone.partitions is exactly its curated __all__."""

from __future__ import annotations

import flowstone.partitions as partitions
import flowstone.partitions.mapping as mapping

CONTRACT = {
    "PartitionsDefinition",
    "PartitionSet",
    "DailyPartitions",
    "HourlyPartitions",
    "WeeklyPartitions",
    "MonthlyPartitions",
    "CronPartitions",
    "StaticPartitions",
    "MultiPartitions",
    "DynamicPartitions",
    "TimeWindowPartitions",
    "PartitionMapping",
    "IdentityMapping",
    "TimeWindowMapping",
    "AllPartitionsMapping",
    "DimensionMapping",
    "default_mapping",
}


def test_every_contract_name_is_exported() -> None:
    assert set(partitions.__all__) >= CONTRACT
    assert set(partitions.__all__) == CONTRACT | {"PartitionKey", "StatusRun"}


def test_all_lists_exactly_the_public_attributes() -> None:
    for module in (partitions, mapping):
        public = {n for n in vars(module) if not n.startswith("_")} - {"annotations", "mapping"}
        assert public == set(module.__all__), module.__name__
        assert isinstance(module.__all__, tuple)


def test_public_classes_report_the_public_module() -> None:
    for name in partitions.__all__:
        assert getattr(partitions, name).__module__ == "flowstone.partitions", name
