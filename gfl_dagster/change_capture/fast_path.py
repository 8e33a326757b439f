"""The fast path under the change sensor: a resident listener that syncs a changed row within moments.

A source's trigger notifies the changed area on commit (LISTEN/NOTIFY; listings: schema.sql's
`listings_notify_change`), so the row is visible when its notification arrives. The listener runs the very
assets a sync run materializes, their bodies invoked directly (listings: `describe_area`, `embed_area`: the
same per-row versions, poison rows and area locks), and reports what they returned to Dagster as runless
materializations of the area's partition, so lineage and history in the UI hold every write with the same
metadata. The domain hands it what it listens for (`ListenedSource`; listings/fast_path.py).

It is a fast path, not the guarantee. An area whose lock a run holds is skipped (retried for a few
seconds, then left to the run and the sensor); a failure is logged and the listener carries on; a lost
connection is reopened. Whatever it misses, the sensor's watermark and pending sweep pick up, and when
both sync one change the version guards (`listing_sync`, the store's source_version, tombstones) make
the later write a no-op. Listings hand it their ads too, so a change it synced leaves the sensor nothing
pending, and no run.
"""

from __future__ import annotations

import inspect
import select
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import psycopg2
from dagster import AssetMaterialization, AssetsDefinition, DagsterInstance, build_asset_context
from sqlalchemy import Engine, TextClause

from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.db import queries
from gfl_dagster.db.engine import libpq_url
from gfl_dagster.change_capture.area_lock import lock_key
from gfl_dagster.spec import SourceSpec

BUSY_RETRY_FOR_S = 10.0  # a run holding an area usually covers the change; past this the sensor surely does
BUSY_RETRY_EVERY_S = 0.25
IDLE_WAKE_S = 1.0  # how often an idle listener looks up to see whether it should stop
LIVENESS_EVERY_S = 30.0
RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # then every 8 s for as long as Postgres is away
CONNECT_TIMEOUT_S = 5
# More pending rows than this in an area is a bulk change (a CSV load, an initial sync): a run does it,
# with its progress in the UI and its retries, while the listener stays free for single-row changes.
BULK_ROWS = 100
ASSET_RESOURCES = ("database", "model_client", "embedder", "vector_store")  # what the two assets take
FAST_PATH_NOTE = "Synced by the fast path (gfl listen) on a change notification, outside any run."


@dataclass(frozen=True)
class ListenedSource:
    """What the listener needs of a source, handed to it by the domain that owns the source."""

    channel: str  # the NOTIFY channel the source's trigger names a changed area on
    watched: tuple[SourceSpec, ...]  # the sources whose changes an area's sync carries (their watermark)
    assets: tuple[AssetsDefinition, ...]  # what a sync run of an area materializes, in its order
    stages: tuple[str, ...]  # the area-lock stages (change_capture/area_lock.py) those assets take
    pending_count: TextClause  # rows waiting in an area (:area, :poison_attempts)
    register_areas: Callable[[DagsterInstance, list[str]], None]  # an area's partition, before its first sync
    noun: str  # what a row is called in the log ("listings")


# --- pure pieces -----------------------------------------------------------------------------------------
def notified_areas(payloads: Iterable[str]) -> set[str]:
    """The areas a batch of notifications names, each once: a burst costs one sync per area."""
    return {payload for payload in payloads if payload}


def reconnect_delay(failures: int, delays: tuple[float, ...] = RECONNECT_DELAYS_S) -> float:
    return delays[min(max(failures, 1), len(delays)) - 1]


def error_line(error: BaseException, limit: int = 300) -> str:
    """The error's first line only: SQLAlchemy puts the statement and its parameters (row data) below it."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:limit]


@dataclass
class Backlog:
    """Areas skipped because a run held their lock, each with when it was first skipped."""

    since: dict[str, float] = field(default_factory=dict)

    def take(self, notified: set[str], now: float) -> tuple[list[str], list[str]]:
        """(areas to try now, areas given up on). An area waits at most BUSY_RETRY_FOR_S; a new
        notification for it after that starts afresh."""
        expired = {area for area, since in self.since.items() if now - since >= BUSY_RETRY_FOR_S}
        for area in expired:
            del self.since[area]
        return sorted(notified | set(self.since)), sorted(expired - notified)

    def skipped(self, area: str, now: float) -> None:
        self.since.setdefault(area, now)

    def settled(self, area: str) -> None:
        self.since.pop(area, None)


@dataclass(frozen=True)
class AreaSync:
    area: str
    metadata: dict[str, dict[str, Any]]  # per asset, what its materialization reported

    def worked(self, asset: str) -> bool:
        """Whether the asset found anything: one that found nothing records nothing (zeros as its latest
        materialization would hide its last real sync)."""
        metadata = self.metadata[asset]
        return bool(metadata.get("rows_seen") or metadata.get("deleted") or metadata.get("listings_seen"))

    @property
    def did_work(self) -> bool:
        """False when the sensor's run got there first: nothing to record."""
        return any(self.worked(asset) for asset in self.metadata)

    def summary(self) -> str:
        """What the first asset generated and the last one embedded, updated and deleted."""
        steps = list(self.metadata.values())
        described, vectors = steps[0], next((step for step in steps if "embedded" in step), steps[-1])
        return (f"{self.area}: {described.get('generated', 0)} described, {vectors.get('embedded', 0)} embedded, "
                f"{vectors.get('properties_updated', 0)} updated, {vectors.get('deleted', 0)} deleted, "
                f"{described.get('failed', 0) + vectors.get('failed', 0)} failed in "
                f"{described.get('duration_s', 0) + vectors.get('duration_s', 0):.2f}s "
                f"(oldest change {vectors.get('max_change_age_s', 0):.2f}s old)")


def materializations(sync: AreaSync) -> list[AssetMaterialization]:
    """What a run would have recorded, as runless events of the area's partition."""
    return [AssetMaterialization(asset, partition=sync.area, description=FAST_PATH_NOTE, metadata=metadata)
            for asset, metadata in sync.metadata.items() if sync.worked(asset)]


# --- what touches Postgres and Dagster -------------------------------------------------------------------
def run_holds(engine: Engine, source: ListenedSource, area: str) -> bool:
    """True when someone (a run, another listener) holds one of the area's stage locks right now."""
    with engine.connect() as connection:
        for stage in source.stages:
            key = lock_key(stage, area)
            if not connection.execute(queries.TRY_AREA_LOCK, {"key": key}).scalar():
                return True
            connection.execute(queries.AREA_UNLOCK, {"key": key})
        connection.commit()
    return False


def pending_in_area(engine: Engine, source: ListenedSource, area: str) -> int:
    with engine.connect() as connection:
        return connection.execute(source.pending_count,
                                  {"area": area, "poison_attempts": POISON_AFTER_ATTEMPTS}).scalar_one()


def sync_area(resources: dict[str, Any], instance: DagsterInstance, source: ListenedSource, area: str) -> AreaSync:
    """The area's pending changes through the very assets a sync run materializes (their bodies,
    invoked directly: under the area locks, with the same metadata)."""
    metadata = {}
    for asset in source.assets:  # in the run's order (listings: vectors embed descriptions)
        with build_asset_context(partition_key=area, instance=instance, resources=resources) as context:
            result = asset(context)
            if inspect.isgenerator(result):  # an asset that may record nothing yields its one result
                result = next(result, None)
            metadata[asset.key.to_user_string()] = dict(result.metadata or {}) if result is not None else {}
    return AreaSync(area, metadata)


def listen_connection(engine: Engine, channel: str):
    """A connection of its own (not from the pool: it lives as long as the listener) listening to `channel`."""
    connection = psycopg2.connect(libpq_url(engine.url.render_as_string(hide_password=False)),
                                  application_name=queries.LISTENER_APPLICATION_NAME,
                                  connect_timeout=CONNECT_TIMEOUT_S)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {channel}")
    return connection


def wait_for_notifications(connection, timeout_s: float) -> list[str]:
    """The payloads that arrived within `timeout_s` (none: an empty list). Raises when the connection is lost."""
    readable, _, _ = select.select([connection], [], [], timeout_s)
    if readable:
        connection.poll()
    payloads = [note.payload for note in connection.notifies]
    connection.notifies.clear()
    return payloads


@dataclass
class ListenerStats:
    synced: int = 0  # area syncs that had work
    recorded: int = 0  # runless materializations reported
    skipped_busy: int = 0
    left_bulk: int = 0
    failed: int = 0
    connections: int = 0


class ChangeListener:
    """`resources`: the code location's ASSET_RESOURCES by name, initialized."""

    def __init__(self, resources: dict[str, Any], instance: DagsterInstance, source: ListenedSource,
                 log: Callable[[str], None] = print):
        self.resources = resources
        self.instance = instance
        self.source = source
        self.log = log
        self.engine = resources["database"].engine()
        self.backlog = Backlog()
        self.stats = ListenerStats()
        self.known_areas: set[str] = set()  # partitions registered already: no Dagster query per change

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Listen and sync until `should_stop()`; reopens the connection whenever it is lost."""
        self._warm_up()
        failures = 0
        while not should_stop():
            try:
                connection = listen_connection(self.engine, self.source.channel)
            except psycopg2.Error as error:
                failures += 1
                delay = reconnect_delay(failures)
                self.log(f"cannot listen ({error_line(error)}); trying again in {delay:g}s")
                self._pause(delay, should_stop)
                continue
            failures = 0
            self.stats.connections += 1
            self.log(f"listening on {self.source.channel}")
            try:
                self._listen(connection, should_stop)
            except (psycopg2.Error, OSError) as error:
                self.log(f"lost the connection ({error_line(error)}); reconnecting, "
                         "the change sensor covers what arrives meanwhile")
            finally:
                try:
                    connection.close()
                except psycopg2.Error:
                    pass

    def handle(self, notified: set[str]) -> list[AreaSync]:
        """Sync the notified areas and those waiting for a run's lock, one at a time; never raises."""
        now = time.monotonic()
        due, given_up = self.backlog.take(notified, now)
        for area in given_up:
            self.log(f"{area}: a run held it for {BUSY_RETRY_FOR_S:g}s; left to the run and the change sensor")
        return [sync for sync in (self._sync_one(area, now) for area in due) if sync is not None]

    def _listen(self, connection, should_stop: Callable[[], bool]) -> None:
        quiet_since = time.monotonic()
        while not should_stop():
            payloads = wait_for_notifications(connection, BUSY_RETRY_EVERY_S if self.backlog.since else IDLE_WAKE_S)
            if payloads or self.backlog.since:
                self.handle(notified_areas(payloads))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= LIVENESS_EVERY_S:
                with connection.cursor() as cursor:
                    cursor.execute(queries.LISTENER_ALIVE)
                quiet_since = time.monotonic()

    def _sync_one(self, area: str, now: float) -> AreaSync | None:
        try:
            if run_holds(self.engine, self.source, area):
                self.backlog.skipped(area, now)
                self.stats.skipped_busy += 1
                return None
            self.backlog.settled(area)
            pending = pending_in_area(self.engine, self.source, area)
            if pending > BULK_ROWS:
                self.stats.left_bulk += 1
                self.log(f"{area}: {pending} {self.source.noun} pending, a bulk change: left to the change sensor's run")
                return None
            if area not in self.known_areas:  # an insert may have made the area: a partition first
                self.source.register_areas(self.instance, [area])
                self.known_areas.add(area)
            sync = sync_area(self.resources, self.instance, self.source, area)
        except Exception as error:  # a failure never stops the listener: the sensor is the guarantee
            self.backlog.settled(area)
            self.stats.failed += 1
            self.log(f"{area}: the fast path failed ({error_line(error)}); the change sensor will sync it")
            return None
        if sync.did_work:
            self.stats.synced += 1
            self.log(sync.summary())
            self._record(sync)
        return sync

    def _record(self, sync: AreaSync) -> None:
        try:
            for event in materializations(sync):
                self.instance.report_runless_asset_event(event)
                self.stats.recorded += 1
        except Exception as error:  # the rows are synced; only the UI's history misses this entry
            self.log(f"{sync.area}: synced, but recording it in Dagster failed ({error_line(error)})")

    def _warm_up(self) -> None:
        """Load the embedding model (or probe the service) now, not on the first change."""
        try:
            self.resources["embedder"].dimension()
        except Exception as error:
            self.log(f"the embedder did not answer yet ({error_line(error)}); trying again on the first change")

    @staticmethod
    def _pause(seconds: float, should_stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
