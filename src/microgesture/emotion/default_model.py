"""The default emotion reasoner as a shipped artefact: load it, use it, rebuild it from the labels.

Why: ``analyze`` must give a reading without a labels file, so the fitted model travels with the package as
``default_mg_reasoner.json`` (feature definitions by name, scaling, coefficients, the Platt map, bootstrap
coefficients for the interval, the training population's quantiles, and its own CV scores). It is plain
JSON — nothing is unpickled. ``microgesture emotion fit-default --labels labels_20200831.csv`` rebuilds it:
person-grouped 5-fold CV of the whole procedure (selection, calibration) over CV seeds 0-4 for the scores
it reports, then one fit on all 102 emotion-training videos.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import CheckpointError, ConfigError
from ..utils.io import atomic_write
from .benchmark import calibration_metrics, run_benchmark
from .mg_features import feature_matrix
from .reasoners.base import Prediction, Reasoner
from .reasoners.calibrated import CalibratedMGReasoner, LinearMGModel, fit_linear_model
from .reasoners.learned import _prediction, _timelines
from .scenario import Scenario
from .timeline import Timeline

ARTEFACT = Path(__file__).with_name("default_mg_reasoner.json")
LABEL_MEANING = ("iMiGUE's video-level emotion label: the player's match outcome (won = positive, lost = "
                 "negative), used as a proxy for the valence a person shows")


@functools.lru_cache(maxsize=4)
def load_default(path: str | Path | None = None) -> LinearMGModel:
    """The shipped (or a rebuilt) default model; a missing or malformed file is a :class:`CheckpointError`."""
    p = Path(path) if path else ARTEFACT
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{p}: the default emotion model is missing; rebuild it with "
                              "`microgesture emotion fit-default --labels labels_20200831.csv`") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{p}: not readable JSON ({e})") from None
    return LinearMGModel.from_dict(d, str(p))


def write_model_json(path: str | Path, d: dict[str, Any]) -> None:
    """One top-level key per line, each value compact: small, and a rebuild shows as a readable diff."""
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in d.items())
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write("{\n" + body + "\n}\n")


def describe_model(m: LinearMGModel) -> str:
    """One paragraph a user can read: what the label means, what goes in, how well it does."""
    cv = m.info.get("cv") or {}
    how = (f"Person-grouped 5-fold CV on those videos ({len(cv.get('seeds', []))} partitions): accuracy "
           f"{cv['accuracy']:.2f} ± {cv['accuracy_sd']:.2f}, AUC {cv['auc']:.2f} ± {cv['auc_sd']:.2f}, Brier "
           f"{cv['brier']:.3f}, ECE {cv['ece']:.3f} (chance: accuracy 0.50, AUC 0.50, Brier 0.25)."
           if cv else "Its cross-validated scores were not recorded.")
    return (f"Logistic model over {len(m.features)} micro-gesture features ({', '.join(m.blocks)}; rates per "
            f"minute of visible time, never the clip length), fitted on {m.info.get('n_train', '?')} iMiGUE "
            f"emotion-training videos of {m.info.get('n_people', '?')} players. Its label is {LABEL_MEANING}. "
            f"{how} Only the MG timeline goes in; nothing about who the person is.")


def how_sure(m: LinearMGModel) -> dict[str, Any]:
    cv = m.info.get("cv") or {}
    auc = cv.get("auc")
    level = "unknown" if auc is None else "no better than chance" if auc < 0.55 else "weak" if auc < 0.65 \
        else "moderate" if auc < 0.75 else "good"
    return {"level": level, **{k: cv.get(k) for k in ("accuracy", "accuracy_sd", "auc", "auc_sd", "brier", "ece")},
            "text": f"{level} (CV AUC {auc:.2f})" if auc is not None else level}


class PackagedMGReasoner(Reasoner):
    """The shipped model as a reasoner (not refit: score it on dev/test videos, never on the training split)."""

    name = "default"
    trainable = False
    reads_text = False
    fitted_on_split = "train"  # the benchmark refuses to score it on the videos it was fitted on

    def __init__(self, path: str | Path | None = None):
        self.model = load_default(path)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "variant": self.model.variant, "artefact": str(ARTEFACT.name),
                "description": describe_model(self.model), "how_sure": how_sure(self.model)}

    def predict(self, scenarios: Sequence[Scenario]) -> list[Prediction]:
        p = self.model.proba(feature_matrix(_timelines(scenarios), self.model.blocks))
        return [_prediction(s, float(pi)) for s, pi in zip(scenarios, p, strict=True)]


def fit_default(timelines: dict[str, Timeline], out: str | Path = ARTEFACT, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                n_boot: int = 100, seed: int = 0) -> tuple[LinearMGModel, dict[str, Any]]:
    """CV-score the procedure on the emotion-training videos, fit it on all of them, write the JSON."""

    train = {v: t for v, t in timelines.items() if t.meta.get("split") == "train"}
    if len(train) < 20:
        raise ConfigError(f"only {len(train)} emotion-training videos in the labels; fit-default needs the "
                          "official training split (iMiGUE labels_20200831.csv)")

    per_seed = []
    for s in seeds:
        res = run_benchmark(train, "train", {"mg_calibrated": lambda s=s: CalibratedMGReasoner(seed=s)},
                            ["mg_only"], seed=s, n_boot=200)
        y = np.array([p["target"] == "positive" for p in res.predictions], dtype=np.int64)
        p = np.array([p["score"] for p in res.predictions], dtype=np.float64)
        cal = calibration_metrics(y, p)
        per_seed.append({"seed": s, "accuracy": float(((p >= 0.5) == y).mean()), "auc": float(roc_auc_score(y, p)),
                         "brier": cal["brier"], "ece": cal["ece"]})
    cv: dict[str, Any] = {"seeds": list(seeds), "per_seed": per_seed,
                          "protocol": "5-fold CV, stratified by label, grouped by player; selection and "
                                      "calibration inside each training fold"}
    for k in ("accuracy", "auc", "brier", "ece"):
        vals = np.array([r[k] for r in per_seed])
        cv[k], cv[f"{k}_sd"] = float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    tls = list(train.values())
    y = np.array([t.target == "positive" for t in tls], dtype=np.int64)
    groups = np.array([str(t.group) for t in tls])
    model = fit_linear_model(tls, y, groups, seed, n_boot)
    model.info.update(cv=cv, label_meaning=LABEL_MEANING, trained_on="iMiGUE emotion-training split (102 videos)",
                      rebuild="microgesture emotion fit-default --labels labels_20200831.csv")
    write_model_json(out, model.to_dict())
    load_default.cache_clear()
    return model, cv
