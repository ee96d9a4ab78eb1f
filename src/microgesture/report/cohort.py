"""The cohort report: many recordings side by side — distributions, group comparisons with their test, links.

Why: a study asks questions across recordings (do losing players touch their face more? does the stress
condition raise the MG rate?), not of one report at a time. The page is self-contained like the per-recording
report (inline PNG plots from matplotlib, inline CSS and script, no URL), and every comparison states its test,
p-value, the Benjamini-Hochberg q-value across the metrics compared, an effect size and the group sizes, so a
reader sees how much the numbers can carry. When a speaker contributes several recordings, recordings are not
independent: the comparison then runs on one value per speaker (their mean) and says so.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from scipy import stats

from ..utils.io import _json_default, atomic_write
from .plots import PALETTE

ANALYSED = ("complete", "partial")
COMPARE_BY = ("group", "speaker", "setting")
UNMAPPED = "unmapped"  # the category of classes outside the MG class set (e.g. a synthetic model's)


@dataclass
class CohortColumns:
    """Which table columns hold the per-class and per-category rates (events per minute)."""

    classes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    class_columns: dict[str, str] = field(default_factory=dict)
    category_columns: dict[str, str] = field(default_factory=dict)
    class_categories: dict[str, str] = field(default_factory=dict)  # class -> body-part category


# ------------------------------------------------------------------------------------------------
# statistics


def choose_grouping(table: pd.DataFrame, compare: str | None) -> str | None:
    """``compare`` if it names a usable column; ``auto``: ``group``, else ``speaker``, else ``setting`` — the
    first with at least two levels holding at least two analysed recordings each."""
    if compare in (None, "none", ""):
        return None
    ok = table[table["status"].isin(ANALYSED)] if "status" in table.columns else table
    candidates = COMPARE_BY if compare == "auto" else (compare,)
    for col in candidates:
        if col not in ok.columns:
            continue
        sizes = ok[col].dropna().astype(str).value_counts()
        if (sizes >= 2).sum() >= 2:
            return col
    return None


def compare_groups(table: pd.DataFrame, by: str, metrics: dict[str, str]) -> dict[str, Any]:
    """Each metric (``label -> column``) across the levels of ``by``: Mann-Whitney U with the rank-biserial
    correlation for two groups, Kruskal-Wallis H with epsilon² for more; BH q-values across the metrics.

    Only analysed recordings count; levels with fewer than two values are left out. With a ``speaker`` column
    in which a speaker has several recordings (and ``by`` is not the speaker), each speaker contributes the
    mean of their recordings per level.
    """
    ok = table[table["status"].isin(ANALYSED)] if "status" in table.columns else table
    ok = ok[ok[by].notna()].assign(**{by: lambda d: d[by].astype(str)})
    unit, notes = "recording", []
    if by != "speaker" and "speaker" in ok.columns and ok["speaker"].notna().any():
        per = ok.dropna(subset=["speaker"]).groupby([by, "speaker"]).size()
        if (per > 1).any():
            unit = "speaker"
            spans = ok.dropna(subset=["speaker"]).groupby("speaker")[by].nunique()
            if (spans > 1).any():
                notes.append(f"{int((spans > 1).sum())} speaker(s) appear in more than one {by}: the groups are not "
                             "independent, so read the test as descriptive (a paired or mixed-model analysis is "
                             "needed for a claim).")
    rows = []
    for label, col in metrics.items():
        if col not in ok.columns:
            continue
        d = ok[[by, "speaker", col]] if unit == "speaker" else ok[[by, col]]
        d = d.dropna(subset=[col])
        if unit == "speaker":
            d = d.dropna(subset=["speaker"]).groupby([by, "speaker"], as_index=False)[col].mean()
        groups = {g: v[col].to_numpy(np.float64) for g, v in d.groupby(by, sort=True) if len(v) >= 2}
        row: dict[str, Any] = {"metric": label, "column": col, "groups": list(groups),
                               "n": [len(v) for v in groups.values()],
                               "median": [float(np.median(v)) for v in groups.values()],
                               "test": None, "statistic": None, "p": None, "q": None, "effect": None,
                               "effect_name": None, "note": None}
        pooled = np.concatenate(list(groups.values())) if groups else np.array([])
        if len(groups) < 2:
            row["note"] = "fewer than two groups with two values"
        elif np.ptp(pooled) == 0:
            row["note"] = "all values are equal"
        elif len(groups) == 2:
            a, b = groups.values()
            res = stats.mannwhitneyu(a, b, alternative="two-sided")
            row.update(test="Mann-Whitney U", statistic=float(res.statistic), p=float(res.pvalue),
                       effect=float(2 * res.statistic / (len(a) * len(b)) - 1), effect_name="rank-biserial r")
        else:
            res = stats.kruskal(*groups.values())
            n = len(pooled)
            row.update(test="Kruskal-Wallis H", statistic=float(res.statistic), p=float(res.pvalue),
                       effect=float(res.statistic * (n + 1) / (n * n - 1)), effect_name="epsilon²")
        rows.append(row)
    tested = [r for r in rows if r["p"] is not None]
    if tested:
        q = stats.false_discovery_control([r["p"] for r in tested], method="bh")
        for r, v in zip(tested, q, strict=True):
            r["q"] = float(v)
    return {"by": by, "unit": unit, "rows": rows, "notes": notes}


# ------------------------------------------------------------------------------------------------
# plots


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def primary_rate(ok: pd.DataFrame) -> tuple[str, str]:
    """``(label, column)`` of the headline rate: micro-gestures per minute (illustrative gestures, which are
    not MGs, left out) when the classes are the MG set, else every event of the timeline."""
    if "mg_events_per_min" in ok.columns and ok["mg_events_per_min"].notna().any():
        return "MG events per minute (illustrative excluded)", "mg_events_per_min"
    return "events per minute (all classes)", "events_per_min"


def overview_png(ok: pd.DataFrame) -> str | None:
    """Histograms across recordings: the headline rate, share of frames with the person, duration."""
    label, col = primary_rate(ok)
    panels = [(col, label, 1.0), ("visible_share", "share of frames with the person", 1.0),
              ("duration_s", "duration (min)", 1 / 60)]
    panels = [p for p in panels if p[0] in ok.columns and ok[p[0]].notna().any()]
    if not panels:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.6))
    for ax, (col, title, k) in zip(np.atleast_1d(axes), panels, strict=True):
        v = ok[col].dropna().to_numpy(np.float64) * k
        ax.hist(v, bins=min(30, max(5, len(v) // 3)), color=PALETTE[0], alpha=0.85)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("recordings", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


def _box(ax, values: list[np.ndarray], labels: list[str], rng: np.random.Generator) -> None:
    ax.boxplot(values, showfliers=False, widths=0.55)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30 if len(labels) > 3 else 0, ha="right"
                  if len(labels) > 3 else "center", fontsize=8)
    for i, v in enumerate(values, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=8, color=PALETTE[i % len(PALETTE)], alpha=0.6,
                   zorder=3)
    ax.tick_params(axis="y", labelsize=8)


def categories_png(ok: pd.DataFrame, cols: CohortColumns) -> str | None:
    """Per body-part category: MG events per minute across recordings (box and points)."""
    present = [(c, col) for c, col in cols.category_columns.items()
               if c != UNMAPPED and col in ok.columns and ok[col].notna().any()]
    if not present or ok.empty:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(present) + 2), 3.0))
    _box(ax, [ok[col].dropna().to_numpy(np.float64) for _, col in present], [c for c, _ in present],
         np.random.default_rng(0))
    ax.set_ylabel("events per minute", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def groups_png(ok: pd.DataFrame, by: str, metrics: dict[str, str]) -> str | None:
    """Each compared metric by group (box and points), one panel per metric (at most six)."""
    present = [(m, c) for m, c in metrics.items() if c in ok.columns and ok[c].notna().any()][:6]
    if not present:
        return None
    plt = _plt()
    levels = sorted(ok[by].dropna().astype(str).unique())
    ncol = min(3, len(present))
    nrow = int(np.ceil(len(present) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.8 * ncol, 2.7 * nrow), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (m, c) in zip(axes.ravel(), present, strict=False):
        _box(ax, [ok.loc[ok[by].astype(str) == g, c].dropna().to_numpy(np.float64) for g in levels], levels, rng)
        ax.set_title(m, fontsize=9)
    for ax in axes.ravel()[len(present):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def emotion_png(ok: pd.DataFrame, by: str | None) -> str | None:
    """The emotion readings: label counts (by group when comparing) and the probability's distribution."""
    if "emotion_label" not in ok.columns or not ok["emotion_label"].notna().any():
        return None
    plt = _plt()
    has_p = "emotion_probability" in ok.columns and ok["emotion_probability"].notna().any()
    fig, axes = plt.subplots(1, 2 if has_p else 1, figsize=(8 if has_p else 4.5, 2.8), squeeze=False)
    ax = axes[0, 0]
    d = ok.dropna(subset=["emotion_label"])
    tab = pd.crosstab(d[by].astype(str) if by else pd.Series("all", index=d.index), d["emotion_label"].astype(str))
    bottom = np.zeros(len(tab))
    for i, lab in enumerate(tab.columns):
        ax.bar(tab.index.astype(str), tab[lab].to_numpy(), bottom=bottom, label=lab, color=PALETTE[i % len(PALETTE)])
        bottom += tab[lab].to_numpy()
    ax.set_ylabel("recordings", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=8)
    if has_p:
        of = d["emotion_probability_of"].dropna().astype(str)
        axes[0, 1].hist(d["emotion_probability"].dropna(), bins=10, range=(0, 1), color=PALETTE[2])
        axes[0, 1].set_xlabel(f"probability of {of.iloc[0]!r}" if len(of) else "probability", fontsize=8)
        axes[0, 1].tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


# ------------------------------------------------------------------------------------------------
# the page


def _template():
    env = jinja2.Environment(loader=jinja2.PackageLoader("microgesture.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    env.filters["num"] = _num
    env.filters["tojson_text"] = lambda o: json.dumps(o, indent=2, default=_json_default)
    return env.get_template("cohort.html")


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.1e}"
    return f"{v:.{digits}g}" if abs(v) >= 1000 else f"{round(v, digits):g}"


def _metrics(ok: pd.DataFrame, cols: CohortColumns) -> dict[str, str]:
    label, col = primary_rate(ok)
    m = {label: col}
    m.update({f"{c} per minute": col for c, col in cols.category_columns.items() if c != UNMAPPED})
    m["share of frames with the person"] = "visible_share"
    if "emotion_probability" in ok.columns and ok["emotion_probability"].notna().any():
        of = ok["emotion_probability_of"].dropna().astype(str)
        m[f"emotion: probability of {of.iloc[0]!r}" if len(of) else "emotion probability"] = "emotion_probability"
    return {k: v for k, v in m.items() if v in ok.columns and ok[v].notna().any()}


def render_cohort_report(table: pd.DataFrame, cols: CohortColumns, out_dir: str | Path, *,
                         compare: str | None = "auto", title: str | None = None,
                         meta: dict[str, Any] | None = None, name: str = "cohort.html") -> Path:
    """Write ``out_dir/cohort.html`` from the cohort table (see ``pipeline.batch.cohort_table``)."""
    out_dir = Path(out_dir)
    status = table["status"] if "status" in table.columns else pd.Series(dtype=str)
    ok = table[status.isin(ANALYSED)] if len(table) else table
    metrics = _metrics(ok, cols) if len(ok) else {}
    by = choose_grouping(table, compare) if len(ok) else None
    comparison = compare_groups(table, by, metrics) if by else None
    class_medians = []
    if len(ok):
        for c in cols.classes:
            col = cols.class_columns[c]
            if col in ok.columns and ok[col].notna().any():
                class_medians.append({"class": c, "mean": float(ok[col].mean()), "median": float(ok[col].median()),
                                      "share": float((ok[col] > 0).mean()),
                                      "by": ({str(g): float(v) for g, v in ok.groupby(by)[col].mean().items()}
                                             if by else {})})
    rec_rows = []
    for r in table.to_dict(orient="records"):
        rec_rows.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()})
    failed = [r for r in rec_rows if r.get("status") not in ANALYSED]
    durations = ok["duration_s"].dropna() if "duration_s" in ok.columns else pd.Series(dtype=float)
    page = {
        "title": title or f"Micro-gesture cohort report — {len(table)} recordings",
        "n": len(table), "counts": {str(k): int(v) for k, v in status.value_counts().items()},
        "hours": float(durations.sum() / 3600) if len(durations) else 0.0,
        "by": by, "compare": compare, "comparison": comparison, "class_medians": class_medians,
        "has_speaker": "speaker" in table.columns and table["speaker"].notna().any(),
        "has_group": "group" in table.columns and table["group"].notna().any(),
        "has_emotion": "emotion_label" in table.columns and table["emotion_label"].notna().any(),
        "has_mg": "mg_events_per_min" in table.columns and table["mg_events_per_min"].notna().any(),
        "unmapped": [c for c, cat in cols.class_categories.items() if cat == UNMAPPED],
        "recordings": rec_rows, "failed": failed, "meta": meta or {},
        "plots": {k: v for k, v in {
            "overview": overview_png(ok) if len(ok) else None,
            "categories": categories_png(ok, cols) if len(ok) else None,
            "groups": groups_png(ok, by, metrics) if by else None,
            "emotion": emotion_png(ok, by) if len(ok) else None}.items() if v},
    }
    html = _template().render(**page)
    path = out_dir / name
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(html)
    return path
