"""RetryPolicy: which failures are retried, and how long to wait before each retry."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import flowstone as fs

policies = st.builds(
    lambda delay, extra, backoff, jitter, retries: fs.RetryPolicy(
        max_retries=retries, delay=delay, max_delay=delay + extra, backoff=backoff, jitter=jitter
    ),
    delay=st.floats(0, 100),
    extra=st.floats(0, 1_000),
    backoff=st.floats(1, 10),
    jitter=st.floats(0, 1),
    retries=st.integers(0, 20),
)
attempts = st.integers(1, 5_000)


def test_no_retries_is_the_default() -> None:
    assert fs.RetryPolicy().should_retry(ValueError(), 1) is False


def test_max_retries_two_allows_three_attempts() -> None:
    policy = fs.RetryPolicy(max_retries=2)
    assert [policy.should_retry(ValueError(), n) for n in (1, 2, 3)] == [True, True, False]


def test_only_the_listed_exception_types_are_retried() -> None:
    policy = fs.RetryPolicy(max_retries=5, retry_on=(ConnectionError, TimeoutError))
    assert policy.should_retry(ConnectionResetError(), 1) is True
    assert policy.should_retry(TimeoutError(), 1) is True
    assert policy.should_retry(KeyError("x"), 1) is False


def test_a_single_exception_class_is_accepted_for_retry_on() -> None:
    policy = fs.RetryPolicy(max_retries=1, retry_on=OSError)
    assert policy.retry_on == (OSError,)
    assert policy.should_retry(FileNotFoundError(), 1) is True


def test_cancellation_and_interpreter_exit_are_never_retried() -> None:
    policy = fs.RetryPolicy(max_retries=5, retry_on=(BaseException,))
    for stop in (asyncio.CancelledError(), KeyboardInterrupt(), SystemExit(1)):
        assert policy.should_retry(stop, 1) is False


def test_delays_grow_exponentially_without_jitter() -> None:
    policy = fs.RetryPolicy(max_retries=5, delay=0.5, backoff=3.0, max_delay=10.0, jitter=0)
    assert [policy.delay_for(n) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 10.0]


def test_the_same_seed_gives_the_same_delays() -> None:
    policy = fs.RetryPolicy(max_retries=3, jitter=0.5)
    first = [policy.delay_for(n, random.Random(7)) for n in (1, 2, 3)]
    assert first == [policy.delay_for(n, random.Random(7)) for n in (1, 2, 3)]


def test_policies_are_frozen_values() -> None:
    policy = fs.RetryPolicy(max_retries=1)
    assert policy == fs.RetryPolicy(max_retries=1)
    with pytest.raises(AttributeError):
        policy.max_retries = 3  # type: ignore[misc]


@given(policies, attempts, st.integers(0, 2**32))
def test_every_delay_lies_within_the_jitter_band_of_the_capped_exponential(
    policy: fs.RetryPolicy, attempt: int, seed: int
) -> None:
    delay = policy.delay_for(attempt, random.Random(seed))
    try:
        raw = policy.delay * policy.backoff ** (attempt - 1)
    except OverflowError:  # astronomically large, unless there is no delay at all
        raw = math.inf if policy.delay else 0.0
    base = min(policy.max_delay, raw)
    low, high = base * (1 - policy.jitter), min(policy.max_delay, base * (1 + policy.jitter))
    assert 0 <= delay <= policy.max_delay
    assert low * (1 - 1e-9) <= delay <= high * (1 + 1e-9)


@given(policies, st.integers(1, 60))
def test_without_jitter_delays_never_decrease(policy: fs.RetryPolicy, attempt: int) -> None:
    steady = fs.RetryPolicy(
        max_retries=policy.max_retries,
        delay=policy.delay,
        backoff=policy.backoff,
        max_delay=policy.max_delay,
        jitter=0,
    )
    assert steady.delay_for(attempt) <= steady.delay_for(attempt + 1)


@given(policies, attempts)
def test_retries_stop_after_max_retries(policy: fs.RetryPolicy, attempt: int) -> None:
    assert policy.should_retry(RuntimeError(), attempt) is (attempt <= policy.max_retries)
