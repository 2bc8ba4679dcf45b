"""RayOptions: validated, frozen resources of a Ray task."""

from __future__ import annotations

import pydantic
import pytest

import flowstone as fs


def test_defaults_reserve_one_cpu_and_no_gpu() -> None:
    options = fs.RayOptions()
    assert (options.num_cpus, options.num_gpus, options.memory, options.runtime_env) == (
        1.0,
        0.0,
        None,
        None,
    )
    assert options.remote_args() == {"num_cpus": 1.0, "num_gpus": 0.0}


def test_remote_args_carry_only_what_was_set() -> None:
    options = fs.RayOptions(num_cpus=0.5, num_gpus=1, memory=2**30, runtime_env={"pip": ["x"]})
    assert options.remote_args() == {
        "num_cpus": 0.5,
        "num_gpus": 1.0,
        "memory": 2**30,
        "runtime_env": {"pip": ["x"]},
    }


def test_options_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        fs.RayOptions().num_cpus = 4  # type: ignore[misc]


def test_invalid_options_raise_definition_errors_not_bare_validation_errors() -> None:
    with pytest.raises(fs.DefinitionError, match=r"^invalid RayOptions: num_gpus: "):
        fs.RayOptions(num_gpus=-0.5)


def test_custom_resources_are_passed_to_ray() -> None:
    options = fs.RayOptions(num_cpus=0.5, resources={"gpu_node": 0.01})
    assert options.remote_args() == {
        "num_cpus": 0.5,
        "num_gpus": 0.0,
        "resources": {"gpu_node": 0.01},
    }
