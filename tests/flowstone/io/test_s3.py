"""S3IOManager against moto's S3 server over HTTP (see tests/s3_server.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import pickle
import re
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import botocore.exceptions
import pyarrow as pa
import pytest
from pydantic import ValidationError

from flowstone.errors import ConfigurationError, IOManagerError
from flowstone.io._manager import IOContext
from flowstone.io._s3 import S3IOManager
from flowstone.io._s3_client import MiB, S3Retry, S3Transfer

pytestmark = pytest.mark.s3

DAY = dt.date(2025, 1, 15)
FAST_RETRY = S3Retry(max_attempts=3, base_delay=0.001, max_delay=0.01)


def ctx(
    manager: S3IOManager,
    asset: str = "events",
    partition: Any = None,
    io_options: Mapping[str, Any] | None = None,
    run_id: str = "run-1",
) -> IOContext:
    """An IOContext as the runtime builds it: options validated by the manager."""
    options = dict(io_options or {})
    key = partition.isoformat() if isinstance(partition, dt.date) else partition
    key = None if key is None else str(key)
    return IOContext(
        asset=asset,
        partition=partition,
        partition_key=key,
        run_id=run_id,
        io_options=options,
        options=manager.validate_options(options),
        pipeline="analytics",
    )


@pytest.fixture
async def manager(s3_endpoint: str, s3_bucket: str) -> AsyncIterator[S3IOManager]:
    s3 = S3IOManager(s3_bucket, endpoint_url=s3_endpoint, retry=FAST_RETRY)
    yield s3
    await s3.aclose()


# -- formats, keys and metadata -------------------------------------------------------------


async def test_a_json_value_round_trips_and_its_metadata_describes_the_object(
    manager: S3IOManager, s3_bucket: str
) -> None:
    context = ctx(manager, partition=DAY, io_options={"format": "json"})
    metadata = await manager.store(context, {"rows": [1, 2, 3]})

    assert await manager.load(context) == {"rows": [1, 2, 3]}
    head = await manager.head("events/2025-01-15.json")
    assert head is not None
    assert metadata == {
        "uri": f"s3://{s3_bucket}/events/2025-01-15.json",
        "size": len(b'{"rows": [1, 2, 3]}'),
        "etag": head.etag,
        "last_modified": head.last_modified.isoformat(),
        "format": "json",
        "sha256": hashlib.sha256(b'{"rows": [1, 2, 3]}').hexdigest(),
    }


async def test_pickle_is_the_default_format_and_the_key_is_asset_slash_partition(
    manager: S3IOManager,
) -> None:
    value = {"when": DAY, "values": {1, 2}}
    metadata = await manager.store(ctx(manager, partition=DAY), value)

    assert metadata["uri"].endswith("/events/2025-01-15.pkl")
    assert metadata["format"] == "pickle"
    assert await manager.load(ctx(manager, partition=DAY)) == value


async def test_an_unpartitioned_asset_is_stored_under_its_name_and_the_prefix(
    s3_endpoint: str, s3_bucket: str
) -> None:
    s3 = S3IOManager(s3_bucket, endpoint_url=s3_endpoint, prefix="/prod/")
    try:
        metadata = await s3.store(ctx(s3, asset="summary"), [1, 2])
        assert metadata["uri"] == f"s3://{s3_bucket}/prod/summary.pkl"
    finally:
        await s3.aclose()


async def test_bytes_are_stored_unchanged(manager: S3IOManager, s3_server: Any) -> None:
    context = ctx(manager, io_options={"format": "bytes", "path": "raw/{asset}.csv"})
    await manager.store(context, b"a,b\n1,2\n")

    obj = s3_server.client().get_object(Bucket=manager.bucket, Key="raw/events.csv")
    assert obj["Body"].read() == b"a,b\n1,2\n"
    assert await manager.load(context) == b"a,b\n1,2\n"


async def test_a_parquet_object_loads_back_as_a_pyarrow_table_and_records_its_schema(
    manager: S3IOManager,
) -> None:
    table = pa.table({"id": [1, 2], "name": ["a", "b"]})
    context = ctx(manager, partition=DAY, io_options={"format": "parquet"})
    metadata = await manager.store(context, table)

    loaded = await manager.load(context)
    assert isinstance(loaded, pa.Table)
    assert loaded.select(["id", "name"]).equals(table)
    assert metadata["rows"] == 2
    assert metadata["schema"] == "id: int64\nname: string"
    assert metadata["uri"].endswith("/events/2025-01-15.parquet")


async def test_a_pandas_dataframe_in_parquet_format_loads_back_as_a_dataframe(
    manager: S3IOManager,
) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]})
    context = ctx(manager, io_options={"format": "parquet"})
    metadata = await manager.store(context, frame)

    loaded = await manager.load(context)
    assert metadata["kind"] == "pandas"
    pd.testing.assert_frame_equal(loaded, frame)


async def test_a_path_function_of_the_partition_names_the_key_and_its_extension_the_format(
    manager: S3IOManager, s3_bucket: str
) -> None:
    options = {"path": lambda p: f"reports/{p}.json"}
    metadata = await manager.store(ctx(manager, partition=DAY, io_options=options), {"n": 1})

    assert metadata["uri"] == f"s3://{s3_bucket}/reports/2025-01-15.json"
    assert metadata["format"] == "json"
    assert await manager.load(ctx(manager, partition=DAY, io_options=options)) == {"n": 1}


async def test_a_path_template_may_use_the_asset_the_partition_and_the_pipeline(
    manager: S3IOManager, s3_bucket: str
) -> None:
    options = {"path": "{pipeline}/{asset}/{partition:%Y/%m}/day={partition_key}.{ext}"}
    metadata = await manager.store(ctx(manager, partition=DAY, io_options=options), [1])

    assert metadata["uri"] == f"s3://{s3_bucket}/analytics/events/2025/01/day=2025-01-15.pkl"


async def test_separators_of_multi_partition_keys_are_escaped_in_default_keys(
    manager: S3IOManager, s3_bucket: str
) -> None:
    context = IOContext(
        asset="events",
        partition={"tenant": "a/b", "date": DAY},
        partition_key="tenant=a/b|date=2025-01-15",
        run_id="run-1",
        options=manager.validate_options({}),
    )
    metadata = await manager.store(context, 1)

    assert metadata["uri"] == f"s3://{s3_bucket}/events/tenant=a%2Fb%7Cdate=2025-01-15.pkl"
    assert await manager.load(context) == 1


async def test_a_run_id_template_keeps_one_object_per_run_and_loads_the_latest(
    manager: S3IOManager,
) -> None:
    options = {"path": "snapshots/{asset}/{run_id}.json"}
    await manager.store(ctx(manager, io_options=options, run_id="run-1"), {"run": 1})
    await manager.store(ctx(manager, io_options=options, run_id="run-2"), {"run": 2})

    keys = [found.key for found in await manager.list("snapshots/events/")]
    assert keys == ["snapshots/events/run-1.json", "snapshots/events/run-2.json"]
    assert await manager.load(ctx(manager, io_options=options, run_id="run-3")) == {"run": 2}

    await manager.delete(ctx(manager, io_options=options))
    assert await manager.list("snapshots/") == []
    assert not await manager.exists(ctx(manager, io_options=options))


async def test_exists_and_delete_follow_the_stored_object(manager: S3IOManager) -> None:
    context = ctx(manager, partition=DAY)
    assert not await manager.exists(context)

    await manager.store(context, 1)
    assert await manager.exists(context)

    await manager.delete(context)
    await manager.delete(context)  # deleting twice is quiet
    assert not await manager.exists(context)


async def test_list_and_head_expose_keys_sizes_and_etags_for_sensors(
    manager: S3IOManager,
) -> None:
    for name in ("a", "b", "c"):
        await manager.store(ctx(manager, io_options={"path": f"in/{name}.bin"}), b"x" * 3)
    await manager.store(ctx(manager, io_options={"path": "other/d.bin"}), b"x")

    listed = await manager.list("in/", page_size=2)
    assert [(o.key, o.size) for o in listed] == [("in/a.bin", 3), ("in/b.bin", 3), ("in/c.bin", 3)]
    assert [o.key for o in await manager.list("in/", start_after="in/a.bin")] == [
        "in/b.bin",
        "in/c.bin",
    ]
    head = await manager.head("in/b.bin")
    assert head is not None
    assert (head.uri, head.size, head.etag) == (
        f"s3://{manager.bucket}/in/b.bin",
        3,
        listed[1].etag,
    )
    assert await manager.head("in/missing.bin") is None


async def test_fifty_partitions_stored_concurrently_all_land(manager: S3IOManager) -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(50)]
    await asyncio.gather(*(manager.store(ctx(manager, partition=d), d.day) for d in days))

    listed = await manager.list("events/")
    assert [o.key for o in listed] == [f"events/{d.isoformat()}.pkl" for d in days]
    loaded = await asyncio.gather(*(manager.load(ctx(manager, partition=d)) for d in days))
    assert loaded == [d.day for d in days]


async def test_one_client_is_opened_on_first_use_and_closed_by_aclose(
    manager: S3IOManager,
) -> None:
    assert manager.client._client is None
    await asyncio.gather(*(manager.store(ctx(manager, partition=i), i) for i in range(5)))
    first = manager.client._client
    await manager.load(ctx(manager, partition=1))
    assert first is not None
    assert manager.client._client is first

    await manager.aclose()
    assert manager.client._client is None


async def test_a_pickled_manager_opens_its_own_client(manager: S3IOManager) -> None:
    await manager.store(ctx(manager), "before")
    copy = pickle.loads(pickle.dumps(manager))
    try:
        assert copy.client._client is None
        assert await copy.load(ctx(copy)) == "before"
    finally:
        await copy.aclose()


async def test_using_a_manager_on_a_second_event_loop_is_a_clear_error(
    manager: S3IOManager,
) -> None:
    await manager.store(ctx(manager), 1)

    with pytest.raises(
        IOManagerError,
        match=re.escape(
            "aiohttp clients cannot move between loops: call `await manager.aclose()` on that "
            "loop before using the manager on another, or give each loop its own manager"
        ),
    ):
        await asyncio.to_thread(asyncio.run, manager.load(ctx(manager)))


async def test_the_endpoint_may_come_from_aws_endpoint_url(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3 = S3IOManager(s3_bucket)
    try:
        await s3.store(ctx(s3), "hello")
        assert await s3.load(ctx(s3)) == "hello"
        assert s3.client.endpoint == s3_endpoint
    finally:
        await s3.aclose()


# -- configuration errors -------------------------------------------------------------------


def test_an_asset_without_any_bucket_is_refused_when_its_options_are_validated() -> None:
    with pytest.raises(ConfigurationError) as raised:
        S3IOManager().validate_options({})
    assert str(raised.value) == (
        "S3IOManager has no bucket for this asset: pass S3IOManager(bucket=...) "
        "or set io_options={'bucket': ...}"
    )


def test_unknown_fields_in_a_path_template_are_refused_when_options_are_validated() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "path template 'x/{date:%Y}.json' uses date; it may use {asset}, {partition}, "
            "{partition_key}, {run_id}, {pipeline}, {ext}"
        ),
    ):
        S3IOManager("b").validate_options({"path": "x/{date:%Y}.json"})


def test_a_misspelt_option_is_refused_when_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="buckett"):
        S3IOManager("b").validate_options({"buckett": "x"})


# -- errors from S3 -------------------------------------------------------------------------


async def test_a_missing_bucket_is_reported_with_the_endpoint_and_the_fix(
    manager: S3IOManager, s3_endpoint: str
) -> None:
    context = ctx(manager, partition=DAY, io_options={"bucket": "no-such-bucket"})
    with pytest.raises(IOManagerError) as raised:
        await manager.store(context, 1)

    assert str(raised.value) == (
        "cannot store asset 'events' partition '2025-01-15': bucket 'no-such-bucket' does not "
        f"exist at {s3_endpoint}; create it or fix io_options['bucket']"
    )
    assert isinstance(raised.value.__cause__, botocore.exceptions.ClientError)
    assert (raised.value.asset, raised.value.partition) == ("events", DAY)


async def test_a_missing_constructor_bucket_is_blamed_on_the_constructor(
    s3_endpoint: str,
) -> None:
    s3 = S3IOManager("absent-bucket", endpoint_url=s3_endpoint)
    try:
        with pytest.raises(IOManagerError) as raised:
            await s3.exists(ctx(s3))
    finally:
        await s3.aclose()
    assert str(raised.value) == (
        f"cannot check asset 'events': bucket 'absent-bucket' does not exist at {s3_endpoint}; "
        "create it or fix S3IOManager(bucket=...)"
    )


async def test_loading_a_key_never_stored_says_it_was_probably_never_materialized(
    manager: S3IOManager, s3_bucket: str
) -> None:
    with pytest.raises(IOManagerError) as raised:
        await manager.load(ctx(manager, partition=DAY))
    assert str(raised.value) == (
        "cannot load asset 'events' partition '2025-01-15': no object at "
        f"s3://{s3_bucket}/events/2025-01-15.pkl; it was probably never materialized, "
        "or it was deleted"
    )


async def test_an_unknown_access_key_is_reported_with_where_the_credentials_come_from(
    manager: S3IOManager, s3_endpoint: str, s3_enforced_credentials: tuple[str, str]
) -> None:
    with pytest.raises(IOManagerError) as raised:
        await manager.store(ctx(manager), 1)
    assert str(raised.value) == (
        f"cannot store asset 'events': {s3_endpoint} does not know the access key 'testing' "
        "(InvalidAccessKeyId); the credentials come from the environment variables "
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; fix them, or pass access_key_id= and "
        "secret_access_key= to the I/O manager"
    )
    assert isinstance(raised.value.__cause__, botocore.exceptions.ClientError)


async def test_a_wrong_secret_key_is_reported_as_a_signature_mismatch(
    s3_endpoint: str, s3_bucket: str, s3_enforced_credentials: tuple[str, str]
) -> None:
    key_id, _ = s3_enforced_credentials
    s3 = S3IOManager(
        s3_bucket, endpoint_url=s3_endpoint, access_key_id=key_id, secret_access_key="wrong"
    )
    try:
        with pytest.raises(IOManagerError) as raised:
            await s3.load(ctx(s3))
    finally:
        await s3.aclose()
    masked = f"{key_id[:4]}...{key_id[-4:]}"
    assert str(raised.value) == (
        f"cannot load asset 'events': {s3_endpoint} rejected the request signature "
        "(SignatureDoesNotMatch): the secret access key does not belong to the access key "
        f"'{masked}'; the credentials come from the access_key_id= / secret_access_key= "
        "arguments; fix them, or pass access_key_id= and secret_access_key= to the I/O manager"
    )


async def test_valid_credentials_work_while_iam_checks_are_on(
    s3_endpoint: str, s3_bucket: str, s3_enforced_credentials: tuple[str, str]
) -> None:
    key_id, secret = s3_enforced_credentials
    s3 = S3IOManager(
        s3_bucket, endpoint_url=s3_endpoint, access_key_id=key_id, secret_access_key=secret
    )
    try:
        await s3.store(ctx(s3), {"ok": True})
        assert await s3.load(ctx(s3)) == {"ok": True}
    finally:
        await s3.aclose()


async def test_json_refuses_values_it_cannot_encode(manager: S3IOManager) -> None:
    with pytest.raises(IOManagerError) as raised:
        await manager.store(ctx(manager, io_options={"format": "json"}), {1, 2})
    assert str(raised.value) == (
        "cannot store asset 'events': format 'json' cannot encode a value of type set "
        "(Object of type set is not JSON serializable); return a value that fits the format "
        "or set io_options['format'] (e.g. 'pickle')"
    )


async def test_an_object_that_does_not_decode_in_its_format_is_reported(
    manager: S3IOManager, s3_bucket: str
) -> None:
    await manager.store(ctx(manager, io_options={"format": "bytes", "path": "x.json"}), b"\x80")
    with pytest.raises(
        IOManagerError,
        match=re.escape(
            f"cannot load asset 'events': the object at s3://{s3_bucket}/x.json is not valid json "
            "(UnicodeDecodeError:"
        ),
    ):
        await manager.load(ctx(manager, io_options={"path": "x.json"}))


async def test_an_unreachable_endpoint_is_reported_after_the_retries(s3_bucket: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s3 = S3IOManager(s3_bucket, endpoint_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY)
    try:
        with pytest.raises(
            IOManagerError,
            match=re.escape(
                f"cannot store asset 'events': could not reach the S3 endpoint "
                f"http://127.0.0.1:{port} after 3 attempt(s) ("
            ),
        ) as raised:
            await s3.store(ctx(s3), 1)
    finally:
        await s3.aclose()
    assert str(raised.value).endswith(
        "); check endpoint_url= or the AWS_ENDPOINT_URL environment variable"
    )


# -- retries --------------------------------------------------------------------------------


def test_the_backoff_doubles_per_attempt_with_full_jitter_up_to_the_cap() -> None:
    retry = S3Retry(max_attempts=10, base_delay=0.1, max_delay=1.0)
    assert [retry.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        0.1,
        0.2,
        0.4,
        0.8,
        1.0,
    ]
    assert retry.delay(3, rand=lambda: 0.25) == pytest.approx(0.1)
    assert retry.delay(3, rand=lambda: 0.0) == 0.0


async def test_throttled_requests_are_retried_until_they_succeed(
    s3_faulty_proxy: Any, s3_bucket: str
) -> None:
    s3_faulty_proxy.fail(times=2, status=503, code="SlowDown", when=lambda r: r.method == "PUT")
    s3 = S3IOManager(s3_bucket, endpoint_url=s3_faulty_proxy.endpoint_url, retry=FAST_RETRY)
    try:
        await s3.store(ctx(s3), {"ok": 1})
        assert await s3.load(ctx(s3)) == {"ok": 1}
    finally:
        await s3.aclose()
    puts = [status for method, _, status in s3_faulty_proxy.requests if method == "PUT"]
    assert puts == [503, 503, 200]


async def test_a_server_error_that_persists_gives_up_after_max_attempts(
    s3_faulty_proxy: Any, s3_bucket: str
) -> None:
    s3_faulty_proxy.fail(status=500, code="InternalError", when=lambda r: r.method == "GET")
    s3 = S3IOManager(s3_bucket, endpoint_url=s3_faulty_proxy.endpoint_url, retry=FAST_RETRY)
    try:
        with pytest.raises(IOManagerError) as raised:
            await s3.load(ctx(s3, partition=DAY))
    finally:
        await s3.aclose()
    assert str(raised.value) == (
        f"cannot load asset 'events' partition '2025-01-15': S3 at "
        f"{s3_faulty_proxy.endpoint_url} kept answering InternalError (HTTP 500) for "
        f"s3://{s3_bucket}/events/2025-01-15.pkl; gave up after 3 attempts"
    )


async def test_client_errors_are_not_retried(s3_faulty_proxy: Any) -> None:
    s3 = S3IOManager("missing-bucket", endpoint_url=s3_faulty_proxy.endpoint_url)
    try:
        with pytest.raises(IOManagerError, match="does not exist"):
            await s3.store(ctx(s3), 1)
    finally:
        await s3.aclose()
    assert [status for _, _, status in s3_faulty_proxy.requests] == [404]


# -- multipart uploads ----------------------------------------------------------------------


async def test_a_failed_part_aborts_the_multipart_upload(
    s3_faulty_proxy: Any, s3_bucket: str, s3_server: Any
) -> None:
    s3_faulty_proxy.fail(
        status=500, code="InternalError", when=lambda r: r.query.get("partNumber") == "2"
    )
    s3 = S3IOManager(
        s3_bucket,
        endpoint_url=s3_faulty_proxy.endpoint_url,
        retry=S3Retry(max_attempts=2, base_delay=0.001),
        transfer=S3Transfer(multipart_threshold=5 * MiB, part_size=5 * MiB),
    )
    try:
        with pytest.raises(IOManagerError, match=r"gave up after 2 attempts$"):
            await s3.store(ctx(s3, io_options={"format": "bytes"}), b"x" * (12 * MiB))
    finally:
        await s3.aclose()

    client = s3_server.client()
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
    aborts = [p for m, p, _ in s3_faulty_proxy.requests if m == "DELETE" and "uploadId=" in p]
    assert len(aborts) == 1


@pytest.mark.slow
async def test_a_110_mb_object_round_trips_through_a_multipart_upload(
    manager: S3IOManager,
) -> None:
    block = os.urandom(MiB)
    data = b"".join(block[i:] + block[:i] for i in range(110))  # 110 distinct MiB, cheaply
    context = ctx(manager, io_options={"format": "bytes"})

    started = time.perf_counter()
    metadata = await manager.store(context, data)
    stored = time.perf_counter()
    loaded = await manager.load(context)
    print(
        f"110 MiB multipart: store {stored - started:.2f}s, "
        f"load {time.perf_counter() - stored:.2f}s"
    )

    assert metadata["size"] == len(data)
    assert metadata["etag"].endswith("-14")  # 14 parts of 8 MiB: a multipart ETag
    assert loaded == data
