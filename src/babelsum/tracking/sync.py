"""`launch sync`: replay into MLflow what the task journals hold and the store lacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babelsum.errors import TrackingError
from babelsum.tracking.runs import RunSink
from babelsum.tracking.store import MlflowStore, Rejected, Unreachable
from babelsum.tracking.uri import shown_uri, tracking_uri

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Plan
    from babelsum.state import SweepFolder


def sync_sweep(folder: SweepFolder, config: SweepConfig, plan: Plan) -> dict[str, Any]:
    """Send every task journal's records that MLflow lacks; running it twice sends nothing new."""
    if not config.tracking.enabled:
        raise TrackingError(
            f"tracking is off in this sweep's config (tracking.enabled: false): there is no "
            f"MLflow run to sync; the journals stay in {folder.root / 'tasks'}"
        )
    uri = tracking_uri(folder.root, config)
    store = MlflowStore(uri)
    report: dict[str, Any] = {
        "tracking_uri": shown_uri(uri),
        "tasks": 0,
        "records_pushed": 0,
        "rejected": 0,
        "busy": [],
    }
    for task in plan.tasks():
        if not folder.journal_path(task.key).exists():
            continue
        sink = RunSink(folder, config, task.key, uri, store, ends_sweep=task.stage == "gather")
        try:
            pushed = sink.sync(wait_s=120.0, verify=True)
        except (Unreachable, Rejected) as exc:
            raise TrackingError(
                f"MLflow at {shown_uri(uri)} cannot be used ({exc}); start it "
                f"(mlflow/README.md) or set MLFLOW_TRACKING_URI, then `launch sync {folder.root}`"
            ) from None
        if pushed is None:
            report["busy"].append(task.key)
            continue
        report["tasks"] += 1
        report["records_pushed"] += pushed
        report["rejected"] += len(sink.state.load(shown_uri(uri)).rejected)
    return report
