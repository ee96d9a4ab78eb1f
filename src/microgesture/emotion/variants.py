"""The pre-declared variant study behind the default emotion reasoner (docs/results/emotion_default_reasoner.md).

Why a module and a command (``microgesture emotion variants``): every row of that table must come from one
rerunnable command, and every variant must meet the same partitions. Outer folds are exactly
``emotion benchmark --split train``'s (person-grouped, stratified, CV seeds 0-4); hyper-parameters and the
nested selection "N" are chosen by an inner person-grouped CV on each training part only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..utils.io import atomic_write
from .benchmark import calibration_metrics, make_folds
from .mg_features import DURATION_FREE, feature_matrix
from .reasoners.calibrated import C_GRIDS, LINEAR_VARIANTS, _log_loss_scorer, fit_linear_model, logistic
from .reasoners.learned import inner_splits
from .timeline import Timeline

ALL_PLUS_DURATION = (*DURATION_FREE, "duration")


@dataclass(frozen=True)
class Variant:
    vid: str
    blocks: tuple[str, ...]
    model: str  # l2 | l1 | rf | hgb | mean:<a>+<b>
    note: str = ""


VARIANTS: tuple[Variant, ...] = (
    *(Variant(v, b, pen) for v, (b, pen) in LINEAR_VARIANTS.items()),
    Variant("V7", DURATION_FREE, "rf"),
    Variant("V8", DURATION_FREE, "hgb"),
    Variant("V9", LINEAR_VARIANTS["V2"][0], "mean:V2+V7", "mean of V2's and V7's probabilities"),
    Variant("V10", ("duration",), "l2", "the length confound alone"),
    Variant("V11", (*LINEAR_VARIANTS["V2"][0], "duration"), "l2"),
    Variant("V12", ALL_PLUS_DURATION, "rf"),
)
SELECTABLE = tuple(LINEAR_VARIANTS)  # what the nested selection N chooses among


def _fit_predict(v: Variant, x_tr: np.ndarray, y_tr: np.ndarray, x_ev: np.ndarray, cv: list,
                 seed: int) -> tuple[np.ndarray, float | None]:
    """Out-of-fold P(positive) of one variant and its inner-CV log-loss (linear variants only)."""

    if v.model in ("l1", "l2"):
        gs = GridSearchCV(logistic(v.model, 1.0), {"logisticregression__C": list(C_GRIDS[v.model])}, cv=cv,
                          scoring=_log_loss_scorer()).fit(x_tr, y_tr)
        return gs.predict_proba(x_ev)[:, 1], float(gs.best_score_)
    if v.model == "rf":
        rf = RandomForestClassifier(n_estimators=300, min_samples_leaf=3, max_features="sqrt",
                                    class_weight="balanced_subsample", random_state=seed, n_jobs=1)
        return rf.fit(x_tr, y_tr).predict_proba(x_ev)[:, 1], None
    if v.model == "hgb":
        hgb = HistGradientBoostingClassifier(max_iter=200, min_samples_leaf=10, early_stopping=False,
                                             class_weight="balanced", random_state=seed)
        gs = GridSearchCV(hgb, {"learning_rate": [0.02, 0.1], "max_depth": [2, 3]}, cv=cv,
                          scoring=_log_loss_scorer()).fit(x_tr, y_tr)
        return gs.predict_proba(x_ev)[:, 1], None
    raise ValueError(v.model)


def run_variants(timelines: dict[str, Timeline], seeds: Sequence[int] = (0, 1, 2, 3, 4), n_folds: int = 5,
                 calibrated: bool = True, progress: bool = True) -> pd.DataFrame:
    """Out-of-fold predictions (one row per seed × variant × video) for every variant, N and N+Platt."""

    rows: list[dict[str, Any]] = []
    span = {v: float(np.log(max(t.duration_s, 1.0))) for v, t in timelines.items()}
    with threadpool_limits(1):
        for seed in seeds:
            for fold in tqdm(make_folds(timelines, "train", n_folds, seed), desc=f"seed {seed}",
                             disable=not progress, leave=False):
                tr = [timelines[v] for v in fold.train]
                ev = [timelines[v] for v in fold.eval]
                y_tr = np.array([t.target == "positive" for t in tr], dtype=np.int64)
                g_tr = np.array([str(t.group) for t in tr])
                cv = inner_splits(y_tr, g_tr, 5, seed)
                probs: dict[str, np.ndarray] = {}
                inner: dict[str, float] = {}
                for v in VARIANTS:
                    if v.model.startswith("mean:"):
                        a, b = v.model[5:].split("+")
                        probs[v.vid] = (probs[a] + probs[b]) / 2
                        continue
                    p, s = _fit_predict(v, feature_matrix(tr, v.blocks), y_tr, feature_matrix(ev, v.blocks),
                                        cv, seed)
                    probs[v.vid] = p
                    if s is not None:
                        inner[v.vid] = s
                chosen = max(SELECTABLE, key=lambda k: inner[k])
                probs["N"] = probs[chosen]
                if calibrated:
                    m = fit_linear_model(tr, y_tr, g_tr, seed, n_boot=0)
                    probs["N+Platt"] = m.proba(feature_matrix(ev, m.blocks))
                for vid, p in probs.items():
                    for t, pi in zip(ev, p, strict=True):
                        rows.append({"seed": seed, "fold": fold.name, "variant": vid, "video_id": t.video_id,
                                     "target": int(t.target == "positive"), "p": float(pi),
                                     "log_span": span[t.video_id],
                                     "chosen": chosen if vid in ("N", "N+Platt") else ""})
    return pd.DataFrame(rows)


def summarise_variants(oof: pd.DataFrame) -> pd.DataFrame:
    """Per variant: mean ± sd over seeds of accuracy, AUC, Brier, ECE and Spearman(score, log span)."""

    per_seed = []
    for (vid, seed), d in oof.groupby(["variant", "seed"], sort=False):
        y, p = d["target"].to_numpy(), d["p"].to_numpy()
        cal = calibration_metrics(y, p)
        per_seed.append({"variant": vid, "seed": seed, "accuracy": float(((p >= 0.5) == y).mean()),
                         "auc": float(roc_auc_score(y, p)), "brier": cal["brier"], "ece": cal["ece"],
                         "rho_span": float(spearmanr(p, d["log_span"]).statistic)})
    ps = pd.DataFrame(per_seed)
    order = list(dict.fromkeys(oof["variant"]))
    rows = []
    for vid in order:
        d = ps[ps["variant"] == vid]
        row: dict[str, Any] = {"variant": vid}
        for k in ("accuracy", "auc", "brier", "ece", "rho_span"):
            row[k], row[f"{k}_sd"] = float(d[k].mean()), float(d[k].std(ddof=1)) if len(d) > 1 else 0.0
        row["per_seed_accuracy"] = " ".join(f"{a:.3f}" for a in d["accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def variants_markdown(summary: pd.DataFrame, oof: pd.DataFrame) -> str:
    desc = {v.vid: f"{' + '.join(v.blocks) if len(v.blocks) < 6 else 'all' + (' + duration' if 'duration' in v.blocks else '')}"
                   f" / {v.model}" for v in VARIANTS}
    desc["N"] = "nested: inner CV picks among V1-V6 (raw probabilities)"
    desc["N+Platt"] = "N + Platt calibration (the shipped procedure, `mg_calibrated`)"
    lines = ["| id | features / model | accuracy | AUC | Brier | ECE | ρ(score, log span) | per-seed accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| {r.variant} | {desc.get(r.variant, '')} | {r.accuracy:.3f} ± {r.accuracy_sd:.3f} | "
                     f"{r.auc:.3f} ± {r.auc_sd:.3f} | {r.brier:.3f} ± {r.brier_sd:.3f} | {r.ece:.3f} ± {r.ece_sd:.3f} | "
                     f"{r.rho_span:+.2f} | {r.per_seed_accuracy} |")
    chosen = oof[oof["variant"] == "N"].drop_duplicates(["seed", "fold"])["chosen"].value_counts()
    lines += ["", "Variants chosen by N's inner CV over the 25 outer training folds: "
              + ", ".join(f"{k} ×{v}" for k, v in chosen.items()) + "."]
    return "\n".join(lines) + "\n"


def write_variants(oof: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise_variants(oof)
    paths = {"oof": out / "variants_oof.csv", "summary": out / "variants_summary.csv",
             "markdown": out / "variants.md"}
    with atomic_write(paths["oof"]) as fh:
        oof.to_csv(fh, index=False)
    with atomic_write(paths["summary"]) as fh:
        summary.to_csv(fh, index=False)
    with atomic_write(paths["markdown"], encoding="utf-8") as fh:
        fh.write(variants_markdown(summary, oof))
    return paths
