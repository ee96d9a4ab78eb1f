"""The calibrated MG reasoner: a linear model over named MG-timeline features, with a probability, an interval
and the features that drove it — small enough to ship as JSON.

Why: ``analyze`` needs a reading a user can trust without any labels file. A logistic regression over
interpretable features (rates per minute of visible time, time shares, compositions; never the length of the
clip) is what ~100 training videos support, it can explain itself feature by feature against the training
population, and its whole state — feature definitions, scaling, coefficients, the calibration map, bootstrap
coefficients for the interval and the population's quantiles — is a few kB of JSON (no pickle).

Fitting (:func:`fit_linear_model`), on training timelines only:

1. the feature set and the regularisation strength are chosen together by a person-grouped inner CV
   (log-loss) among the pre-declared linear variants (docs/results/emotion_default_reasoner.md);
2. Platt scaling is fit on the inner-CV *out-of-fold* decision values of that choice (3 inner partitions);
3. the model is refit on all training videos; ``n_boot`` more fits on bootstrap resamples of the *people*
   give the spread behind the interval.

Reading one timeline: the calibrated probability of the setting's positive pole; a 90 % interval over the
bootstrap models, each applied to an event-bootstrap resample of the timeline (so an interval is wide when
the model is unsure *or* when the reading rests on a handful of events); and the features whose
standardised contributions moved it most, each compared with the training population.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import GridSearchCV, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ...errors import CheckpointError, ConfigError
from ..mg_features import (
    DURATION_FREE,
    FEATURES,
    feature_matrix,
    feature_names,
    human_value,
    resampled_features,
    timeline_features,
    unit_suffix,
)
from ..scenario import Scenario
from ..timeline import Timeline
from .base import Prediction, Reasoner
from .learned import _prediction, _targets, _timelines, inner_splits

FORMAT = "microgesture.calibrated_mg_reasoner"
FORMAT_VERSION = 1
# pre-declared linear variants (docs/results/emotion_default_reasoner.md): feature blocks and penalty
LINEAR_VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "V1": (("cat_frac", "global"), "l2"),
    "V2": (("cat_rate", "cat_share", "global"), "l2"),
    "V3": (("rate", "share", "global"), "l2"),
    "V4": (("frac", "cat_frac", "global"), "l2"),
    "V5": (DURATION_FREE, "l2"),
    "V6": (DURATION_FREE, "l1"),
}
C_GRIDS = {"l2": (0.01, 0.1, 1.0), "l1": (0.05, 0.2, 1.0)}
QUANTILES = np.linspace(0, 100, 21)


def linear_classifier(penalty: str, C: float) -> Any:
    """A class-balanced L1 or L2 logistic regression (liblinear, one thread), across scikit-learn versions."""

    if penalty not in ("l1", "l2"):
        raise ConfigError(f"unknown penalty {penalty!r} (l1, l2)")
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    how = {"l1_ratio": 1.0 if penalty == "l1" else 0.0} if (major, minor) >= (1, 8) else {"penalty": penalty}
    return LogisticRegression(C=C, solver="liblinear", class_weight="balanced", max_iter=5000, **how)


def logistic(penalty: str, C: float) -> Any:
    """Standardise, then :func:`linear_classifier`."""

    return make_pipeline(StandardScaler(), linear_classifier(penalty, C))


def _log_loss_scorer() -> Any:
    return make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1])


def select_variant(tls: Sequence[Timeline], y: np.ndarray, groups: np.ndarray, seed: int = 0,
                   variants: dict[str, tuple[tuple[str, ...], str]] | None = None,
                   inner_folds: int = 5) -> tuple[str, float, dict[str, float]]:
    """(variant id, C, inner log-loss per variant): the inner-CV choice among linear variants and C grids."""

    variants = variants or LINEAR_VARIANTS
    cv = inner_splits(y, groups, inner_folds, seed)
    scores: dict[str, float] = {}
    best: tuple[float, str, float] | None = None
    for vid, (blocks, penalty) in variants.items():
        x = feature_matrix(tls, blocks)
        gs = GridSearchCV(logistic(penalty, 1.0), {"logisticregression__C": list(C_GRIDS[penalty])}, cv=cv,
                          scoring=_log_loss_scorer())
        gs.fit(x, y)
        scores[vid] = float(gs.best_score_)
        if best is None or gs.best_score_ > best[0]:
            best = (float(gs.best_score_), vid, float(gs.best_params_["logisticregression__C"]))
    assert best is not None
    return best[1], best[2], scores


def platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of ``P(y=1) = sigmoid(a * decision + b)`` fitted by maximum likelihood (Platt scaling)."""

    lr = LogisticRegression(C=1e6, max_iter=1000).fit(decision.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


@dataclass
class LinearMGModel:
    """A fitted calibrated linear model; ``to_dict``/``from_dict`` are its JSON form."""

    variant: str
    blocks: tuple[str, ...]
    penalty: str
    C: float
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    platt_a: float
    platt_b: float
    boot: np.ndarray  # [B, d + 1]: coefficients then intercept of each bootstrap refit
    quantiles: np.ndarray  # [d, len(QUANTILES)] of the training population's feature values
    positive_label: str = "positive"
    info: dict[str, Any] = field(default_factory=dict)  # how it was fitted, how well it does (CV)

    @property
    def features(self) -> list:
        return feature_names(self.blocks)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale

    def decision(self, x: np.ndarray) -> np.ndarray:
        return self.standardise(x) @ self.coef + self.intercept

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(positive) of feature rows ``x``."""
        return 1.0 / (1.0 + np.exp(-(self.platt_a * self.decision(x) + self.platt_b)))

    def boot_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(positive) of bootstrap model ``i`` applied to row ``i`` of ``x`` (``[B, d]``)."""
        z = self.standardise(x)
        d = np.einsum("bd,bd->b", z, self.boot[:, :-1]) + self.boot[:, -1]
        return 1.0 / (1.0 + np.exp(-(self.platt_a * d + self.platt_b)))

    def percentile_rank(self, x: np.ndarray) -> np.ndarray:
        """Where each feature value of one row falls in the training population (0-100; ties: mid-rank).

        Why mid-rank: most videos show no "arms akimbo" at all, and a video without it is then at the middle
        of that tie, not "above 80 % of training videos".
        """
        out = []
        for v, q in zip(np.asarray(x, dtype=np.float64), self.quantiles, strict=True):
            lo, hi = np.searchsorted(q, v, "left"), np.searchsorted(q, v, "right")
            if hi > lo:  # v equals one or more stored quantiles
                out.append(float((QUANTILES[lo] + QUANTILES[hi - 1]) / 2))
            else:
                out.append(float(np.interp(v, q, QUANTILES)))
        return np.array(out)

    # -- JSON ----------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "variant": self.variant,
                "blocks": list(self.blocks), "features": [f.name for f in self.features], "penalty": self.penalty,
                "C": self.C, "standardise": {"mean": _r(self.mean), "scale": _r(self.scale)},
                "coef": _r(self.coef), "intercept": round(self.intercept, 6),
                "calibration": {"method": "platt", "a": round(self.platt_a, 6), "b": round(self.platt_b, 6)},
                "bootstrap": [_r(row) for row in self.boot],
                "population_quantiles": {"percentiles": QUANTILES.tolist(),
                                         "values": [_r(row) for row in self.quantiles]},
                "positive_label": self.positive_label, "info": self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "calibrated MG model") -> LinearMGModel:
        if d.get("format") != FORMAT or d.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{where}: not a {FORMAT} v{FORMAT_VERSION} file "
                                  f"(format {d.get('format')!r} v{d.get('format_version')!r})")
        try:
            blocks = tuple(d["blocks"])
            names = [f.name for f in feature_names(blocks)]
            if names != list(d["features"]):
                raise CheckpointError(f"{where}: its feature list does not match this version's feature "
                                      "definitions; rebuild it with `microgesture emotion fit-default`")
            m = cls(d["variant"], blocks, d["penalty"], float(d["C"]),
                    np.asarray(d["standardise"]["mean"], dtype=np.float64),
                    np.asarray(d["standardise"]["scale"], dtype=np.float64),
                    np.asarray(d["coef"], dtype=np.float64), float(d["intercept"]),
                    float(d["calibration"]["a"]), float(d["calibration"]["b"]),
                    np.asarray(d["bootstrap"], dtype=np.float64).reshape(-1, len(names) + 1),
                    np.asarray(d["population_quantiles"]["values"], dtype=np.float64),
                    str(d.get("positive_label", "positive")), dict(d.get("info", {})))
        except (KeyError, TypeError, ValueError, ConfigError) as e:
            raise CheckpointError(f"{where}: malformed ({type(e).__name__}: {e})") from None
        d_ = len(names)
        if m.mean.shape != (d_,) or m.scale.shape != (d_,) or m.coef.shape != (d_,) or \
                m.quantiles.shape != (d_, len(QUANTILES)) or not np.all(m.scale > 0):
            raise CheckpointError(f"{where}: array shapes do not match its {d_} features")
        return m


def _r(a: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in np.asarray(a).ravel()]


def fit_linear_model(tls: Sequence[Timeline], y: np.ndarray, groups: np.ndarray, seed: int = 0,
                     n_boot: int = 100, variants: dict[str, tuple[tuple[str, ...], str]] | None = None,
                     platt_repeats: int = 3) -> LinearMGModel:
    """Select, calibrate and fit on training timelines only (see the module docstring)."""

    y = np.asarray(y, dtype=np.int64)
    if np.bincount(y, minlength=2).min() < 2:
        raise ConfigError("the calibrated MG reasoner needs at least 2 training videos of each label")
    with threadpool_limits(1):
        variant, C, inner = select_variant(tls, y, groups, seed, variants)
        blocks, penalty = (variants or LINEAR_VARIANTS)[variant]
        x = feature_matrix(tls, blocks)
        dec = np.concatenate([cross_val_predict(logistic(penalty, C), x, y, method="decision_function",
                                                cv=inner_splits(y, groups, 5, seed + 101 * r))
                              for r in range(platt_repeats)])
        a, b = platt(dec, np.tile(y, platt_repeats))
        final = logistic(penalty, C).fit(x, y)
        scaler, lr = final[0], final[-1]
        mean, scale = scaler.mean_.astype(np.float64), np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        z = (x - mean) / scale
        boot = _bootstrap(z, y, groups, penalty, C, n_boot, seed)
    quant = np.percentile(x, QUANTILES, axis=0).T
    info = {"selected_by": "person-grouped inner CV (log-loss) among pre-declared linear variants",
            "inner_log_loss": inner, "n_train": int(len(y)), "n_positive": int(y.sum()),
            "n_people": int(len(np.unique(groups))), "n_boot": int(n_boot), "seed": int(seed),
            "train_span_s": np.percentile([t.duration_s for t in tls], [5, 50, 95]).round(1).tolist()}
    return LinearMGModel(variant, tuple(blocks), penalty, C, mean, scale, lr.coef_[0].astype(np.float64),
                         float(lr.intercept_[0]), a, b, boot, quant, info=info)


def _bootstrap(z: np.ndarray, y: np.ndarray, groups: np.ndarray, penalty: str, C: float, n: int,
               seed: int) -> np.ndarray:
    """Refits on resamples of the people (with replacement): ``[n, d + 1]`` coefficients + intercept."""
    rng = np.random.default_rng(seed)
    people = np.unique(groups)
    rows_of = {g: np.flatnonzero(groups == g) for g in people}
    out = np.empty((n, z.shape[1] + 1))
    i = 0
    while i < n:
        idx = np.concatenate([rows_of[g] for g in rng.choice(people, people.size, replace=True)])
        if np.unique(y[idx]).size < 2:
            continue
        lr = linear_classifier(penalty, C).fit(z[idx], y[idx])
        out[i, :-1], out[i, -1] = lr.coef_[0], lr.intercept_[0]
        i += 1
    return out


# -- reading one timeline ----------------------------------------------------------------------------------
def explain(model: LinearMGModel, x: np.ndarray, top: int = 5) -> list[dict[str, Any]]:
    """The features that moved this reading most (|standardised value × coefficient|), vs the population."""
    z = model.standardise(x)
    contrib = z * model.coef
    ranks = model.percentile_rank(x)
    feats = model.features
    out = []
    for j in np.argsort(-np.abs(contrib), kind="stable")[:top]:
        if abs(contrib[j]) < 1e-9:
            break
        f = feats[int(j)]
        value, median = human_value(f, x[j]), human_value(f, model.quantiles[j, len(QUANTILES) // 2])
        item = {"feature": f.name, "label": f.label, "value": round(value, 3), "unit": unit_suffix(f).strip(),
                "population_median": round(median, 3), "percentile": round(float(ranks[j]), 1),
                "contribution": round(float(contrib[j]), 4),
                "direction": model.positive_label if contrib[j] > 0 else "negative"}
        item["ratio_to_median"] = round(value / median, 2) if median > 1e-9 and f.unit != "ratio" else None
        item["text"] = _feature_sentence(f, value, median, item["ratio_to_median"], ranks[j])
        out.append(item)
    return out


def _feature_sentence(f: Any, value: float, median: float, ratio: float | None, pct: float) -> str:
    u = unit_suffix(f)
    fmt = (lambda v: f"{v:.1f}{u}") if u in ("/min", " s", "%") else (lambda v: f"{v:.2f}")
    if ratio is not None and value <= 1e-9:
        compare = f"none (training median {fmt(median)})"
    elif ratio is not None:
        compare = f"{fmt(value)}, {ratio:.1f}x the training median ({fmt(median)})"
    else:
        compare = f"{fmt(value)} (training median {fmt(median)})"
    where = "above every training video" if pct >= 99.5 else "below every training video" if pct <= 0.5 else \
        f"higher than {pct:.0f}% of training videos"
    return f"{f.label}: {compare}; {where}"


def read_timeline(model: LinearMGModel, tl: Timeline, seed: int = 0, top: int = 5) -> dict[str, Any]:
    """Calibrated probability, 90 % interval and top features for one timeline (JSON-able)."""
    x = timeline_features(tl, model.blocks)
    p = float(model.proba(x[None])[0])
    pb = model.boot_proba(resampled_features(tl, model.blocks, model.boot.shape[0], seed))
    lo, hi = np.percentile(pb, [5, 95]) if pb.size else (p, p)
    return {"probability": round(p, 4), "interval": [round(float(min(lo, p)), 4), round(float(max(hi, p)), 4)],
            "interval_level": 0.9, "features": explain(model, x, top)}


class CalibratedMGReasoner(Reasoner):
    """A trainable reasoner over MG timelines (32-class iMiGUE or the 14-class MG set: names are mapped)."""

    trainable = True
    reads_text = False

    def __init__(self, seed: int = 0, n_boot: int = 20, name: str = "mg_calibrated",
                 model: LinearMGModel | None = None):
        self.seed, self.n_boot, self.name = seed, n_boot, name
        self.model = model

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "n_boot": self.n_boot}
        if self.model is not None:
            d.update(variant=self.model.variant, C=self.model.C, platt=[self.model.platt_a, self.model.platt_b],
                     inner_log_loss=self.model.info.get("inner_log_loss"))
        return d

    def fit(self, scenarios: Sequence[Scenario]) -> CalibratedMGReasoner:
        tls = _timelines(scenarios)
        groups = np.array([str(t.group if t.group is not None else t.video_id) for t in tls])
        self.model = fit_linear_model(tls, _targets(scenarios), groups, self.seed, self.n_boot)
        return self

    def predict(self, scenarios: Sequence[Scenario]) -> list[Prediction]:
        if self.model is None:
            raise ConfigError(f"{self.name}: call fit() on training scenarios first")
        x = feature_matrix(_timelines(scenarios), self.model.blocks)
        p = self.model.proba(x)
        return [_prediction(s, float(pi)) for s, pi in zip(scenarios, p, strict=True)]


__all__ = ["FEATURES", "LINEAR_VARIANTS", "CalibratedMGReasoner", "LinearMGModel", "explain", "fit_linear_model",
           "read_timeline", "select_variant"]
