"""One rule-based detector per micro-gesture class, over named joints in body units.

Why rules: real MG skeleton sets at scale are licence-gated, so the toolkit has to get real recordings right
from what each micro-gesture *is*: a hand at a body region (contact), a relative arrangement of the arms
(posture), or a movement of the trunk or head (motion). Every detector states the joints it needs; a
layout or stream without them gets "cannot tell" (with the reason), never an event. Every event carries
its evidence: which joints, what was measured, the value, the threshold, and a sentence for the report.

Contacts with the head share one decoding (``contact`` section): a hand's closest approach to the head
model (skull ellipse from eyes/nose/ears, plus face points where present) or the neck column, labelled by
where on the head the touching part of the hand is (above the brows: head; at the side: ear; below the
chin: neck; else: face). One contact is one event, whatever it is labelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...data.mg_classes import MG_INDEX
from .body import SIDES, Body, _quiet
from .events import decode, ramp
from .signals import band_amplitude, point_segment_distance, rolling_median, smooth, speed

HEAD_FAMILY = ("touch face", "touch head", "touch ear", "touch neck")
_CHUNK = 4096


@dataclass
class Event:
    start: int  # clip frame (inclusive)
    end: int
    label: str
    score: float
    evidence: dict[str, Any]


@dataclass
class ClassOutput:
    strength: np.ndarray  # [T] float32 in [0, 1]
    events: list[Event] = field(default_factory=list)


def _side_word(s: str) -> str:
    return s.lower()


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def evidence(joints: list[str], measure: str, value: float, unit: str, threshold: float, duration_s: float,
             text: str) -> dict[str, Any]:
    return {"joints": [j for j in joints if j], "measure": measure, "value": round(float(value), 4),
            "unit": unit, "threshold": round(float(threshold), 4), "duration_s": round(float(duration_s), 3),
            "text": text}


class Context:
    """Shared, cached measures for one stream (several detectors use the same hand speeds, distances …)."""

    def __init__(self, body: Body, cfg) -> None:
        self.body, self.cfg, self.fps = body, cfg, body.fps
        self.T = body.num_frames
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, fn: Callable[[], Any]) -> Any:
        """Memoise ``fn`` under ``key``; keys name every config value the result depends on, so one context
        serves many configs (threshold fitting re-runs the cheap decisions, not the geometry)."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def key(self, name: str, *dotted: str) -> tuple:
        """Cache key: ``name`` plus the current values of config keys ``section.key`` (or whole sections)."""
        vals = []
        for d in dotted:
            sec, _, k = d.partition(".")
            vals.append(repr(sorted(self.cfg[sec].items()) if not k else self.cfg[sec][k]))
        return (name, *vals)

    # -- common signals --------------------------------------------------------------------------------
    @property
    def sc(self) -> np.ndarray:
        return self.cached("sc", lambda: self.body.shoulder_centre)

    def hand_points(self, side: str) -> np.ndarray:
        """``[T, P, C]`` this hand's points. Layouts with only a wrist (BODY_25, COCO) get virtual points along
        the forearm's direction (``body.virtual_hand`` × forearm length): the fingers reach past the wrist,
        and a wrist alone would never get close enough to the face to count as touching it."""
        def f():
            b = self.body
            pts = b.pts(b.jm.hands[side])
            el = b.jm.get(f"{side}.elbow")
            if pts.shape[1] > 2 or el is None or b.jm.get(f"{side}.wrist") is None:
                return pts
            w, e = b.role(f"{side}.wrist"), b.pos(el)
            virtual = [w + np.float32(k) * (w - e) for k in self.cfg.body.virtual_hand]
            return np.concatenate([pts, np.stack(virtual, 1)], axis=1)
        return self.cached(self.key(f"hand_{side}", "body.virtual_hand"), f)

    def hand_centre(self, side: str) -> np.ndarray:
        def f():
            with _quiet():
                c = np.nanmean(self.body.pts(self.body.jm.hands[side]), axis=1)
            w = self.body.role(f"{side}.wrist")
            return np.where(np.isfinite(c), c, w)
        return self.cached(("hand_centre", side), f)

    def hand_speed(self, side: str) -> np.ndarray:
        """Hand-centre speed relative to the shoulders (sw/s), smoothed over 0.2 s."""
        return self.cached(("hand_speed", side), lambda: smooth(
            speed(self.hand_centre(side) - self.sc, self.fps), max(1, round(0.2 * self.fps))))

    def eye_centre(self) -> np.ndarray:
        return self.cached("eyes", self.body.eye_centre)

    def seen(self, name: str | None) -> float:
        return self.body.presence(name)

    def sec(self, k: float) -> int:
        return max(1, int(round(k * self.fps)))


# ---------------------------------------------------------------------------------------------------------
# Requirements ("cannot tell" reasons)

def _need(ctx: Context, what: str, names: list[str | None]) -> str | None:
    """Reason string if none of ``names`` exists in the layout or none is observed often enough."""
    have = [n for n in names if n]
    if not have:
        return f"layout {ctx.body.layout.name} has no {what}"
    best = max(have, key=ctx.seen)
    frac = ctx.seen(best)
    if frac < ctx.cfg.body.min_present:
        return (f"{what} ({best}) observed in {frac:.0%} of frames, fewer than body.min_present = "
                f"{ctx.cfg.body.min_present:.0%}")
    return None


def _first(*reasons: str | None) -> str | None:
    return next((r for r in reasons if r), None)


def _head_reason(ctx: Context) -> str | None:
    jm = ctx.body.jm
    return _need(ctx, "head joints (eyes, nose or head)",
                 [jm.get("Right.eye"), jm.get("Left.eye"), jm.get("nose"), jm.get("head")])


def _hand_reason(ctx: Context) -> str | None:
    jm = ctx.body.jm
    return _need(ctx, "wrist or hand joints", [jm.get("Right.wrist"), jm.get("Left.wrist")])


def _ear_reason(ctx: Context) -> str | None:
    jm = ctx.body.jm
    return _need(ctx, "ear joints or face points",
                 [jm.get("Right.ear"), jm.get("Left.ear"), *(jm.jaw[:1] + jm.jaw[-1:])])


def _elbows_reason(ctx: Context) -> str | None:
    jm = ctx.body.jm
    return _first(*[_need(ctx, f"{s.lower()} {r}", [jm.get(f"{s}.{r}")]) for s in SIDES for r in ("elbow", "wrist")])


REQUIREMENTS: dict[str, Callable[[Context], str | None]] = {
    "touch head": lambda c: _first(_head_reason(c), _hand_reason(c)),
    "touch face": lambda c: _first(_head_reason(c), _hand_reason(c)),
    "touch ear": lambda c: _first(_head_reason(c), _hand_reason(c), _ear_reason(c)),
    "touch neck": lambda c: _first(_head_reason(c), _hand_reason(c)),
    "touch chest": lambda c: _first(_hand_reason(c), _need(c, "elbows", [c.body.jm.get("Right.elbow"),
                                                                           c.body.jm.get("Left.elbow")])),
    "hands together": lambda c: _first(*[_need(c, f"{s.lower()} wrist", [c.body.jm.get(f"{s}.wrist")])
                                         for s in SIDES]),
    "fold arms": _elbows_reason,
    "touch arm": _elbows_reason,
    "arms akimbo": lambda c: _first(_elbows_reason(c), _need(c, "hip joints", [
        c.body.jm.get("Right.hip"), c.body.jm.get("Left.hip")])),
    "arms behind": _elbows_reason,
    "shake shoulders": lambda c: None,  # shoulders are checked for every class (the body unit)
    "move torso": lambda c: None,
    "head up": lambda c: _first(_need(c, "nose", [c.body.jm.get("nose")]), _need(c, "ears or eyes", [
        c.body.jm.get("Right.ear"), c.body.jm.get("Left.ear"), c.body.jm.get("Right.eye"),
        c.body.jm.get("Left.eye")])),
    "illustrative": _hand_reason,
}


# ---------------------------------------------------------------------------------------------------------
# Hand-to-head contacts (touch face / head / ear / neck)

def _chunked_min(points: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``[T, P, C]`` × ``[T, A, C]`` → ``[T, P]`` distance of every point to its nearest anchor."""
    t = points.shape[0]
    out = np.full(points.shape[:2], np.inf, np.float32)
    if anchors.shape[1] == 0 or points.shape[1] == 0:
        return out
    pts = np.where(np.isfinite(points), points, np.float32(1e6))  # a missing point is far from everything
    anc = np.where(np.isfinite(anchors), anchors, np.float32(-1e6))
    for a in range(0, t, _CHUNK):  # chunks bound memory; each chunk is one vectorised call
        d2 = sum((pts[a:a + _CHUNK, :, None, c] - anc[a:a + _CHUNK, None, :, c]) ** 2 for c in range(pts.shape[-1]))
        out[a:a + _CHUNK] = d2.min(axis=2)
    out = np.sqrt(out)
    return np.where(out < 1e5, out, np.inf).astype(np.float32)


def _face_anchors(body: Body) -> tuple[str, ...]:
    jm = body.jm
    keep = [n for n in jm.jaw[::2]] + [b for b in jm.brows[::2]]
    keep += [n for n in ("FaceNoseTip", "FaceLipOuterRight1", "FaceLipOuterLeft1", "FaceChin") if n in body.layout.index]
    return tuple(dict.fromkeys(keep))


def head_geometry(ctx: Context) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Per hand: ``[T]`` distance to the head family (sw) and ``[T]`` region label (0 face, 1 head, 2 ear,
    3 neck), from the closest hand points."""
    def compute():
        cfg, body, hm = ctx.cfg, ctx.body, ctx.cfg.head_model
        h = body.head_size
        e = ctx.eye_centre()
        c = e.shape[1]
        up = np.zeros(c, np.float32)
        up[1] = 1.0
        k = e + up * np.float32(hm.centre_up * h)
        semi = np.full(c, hm.half_width * h, np.float32)
        semi[1] = hm.half_height * h
        chin = e - up * np.float32(hm.chin_below_eyes * h)
        if body.jm.get("chin"):
            chin_pt = body.role("chin")
            chin = np.where(np.isfinite(chin_pt), chin_pt, chin)
        face = body.pts(_face_anchors(body))
        ear_ok = REQUIREMENTS["touch ear"](ctx) is None
        per_side = {}
        for s in SIDES:
            p = ctx.hand_points(s)  # [T, P, C]
            if p.shape[1] == 0:
                continue
            rel = p - k[:, None]
            rho = np.linalg.norm(rel / semi, axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                d_skull = np.linalg.norm(rel, axis=-1) * np.clip(1.0 - 1.0 / rho, 0.0, None)
            d_skull = np.where(np.isfinite(d_skull), d_skull, np.inf)
            d_head = np.minimum(d_skull, _chunked_min(p, face)) if face.shape[1] else d_skull
            d_neck = point_segment_distance(p, chin[:, None], ctx.sc[:, None]) - cfg.touch_neck.radius
            below_chin = p[..., 1] < chin[:, None, 1]
            d_neck = np.where(below_chin & np.isfinite(d_neck), np.maximum(d_neck, 0.0), np.inf)
            dmin_head = d_head.min(axis=1)
            near = d_head <= dmin_head[:, None] + cfg.contact.contact_band
            with _quiet():
                loc = np.nanmean(np.where(near[..., None], p, np.nan), axis=1)
            dy = (loc[:, 1] - e[:, 1]) / h
            dx = np.abs(loc[:, 0] - e[:, 0]) / h
            lab = np.zeros(ctx.T, np.int64)  # face
            lab[dy > hm.brow_above_eyes] = 1  # head
            if ear_ok:
                lab[(dx > hm.ear_lateral) & (dy <= hm.brow_above_eyes) & (dy >= hm.ear_low)] = 2
            dmin_neck = d_neck.min(axis=1)
            is_neck = dmin_neck < dmin_head
            lab[is_neck] = 3
            d = np.where(is_neck, dmin_neck, dmin_head)
            per_side[s] = (np.where(np.isfinite(d), d, np.nan).astype(np.float32), lab)
        return per_side or None
    return ctx.cached(ctx.key("head_geometry", "head_model", "touch_neck.radius", "contact.contact_band",
                              "body.min_present"), compute)


def head_contacts(ctx: Context) -> dict[str, Any] | None:
    """Both hands combined: per frame the hand nearest (relative to each class's ``enter``) and its label."""
    def compute():
        geo = head_geometry(ctx)
        if geo is None:
            return None
        cfg = ctx.cfg
        labels = HEAD_FAMILY
        enter = np.array([cfg[n.replace(" ", "_")].enter for n in labels], np.float32)
        exit_ = np.array([cfg[n.replace(" ", "_")].exit for n in labels], np.float32)
        use = np.array([cfg[n.replace(" ", "_")].enabled for n in labels])
        sides = list(geo)
        dist = np.stack([geo[s][0] for s in sides], 1)
        lab = np.stack([geo[s][1] for s in sides], 1)
        if not use[3]:  # neck off: those frames are read as their head/face label would be (no neck label)
            dist = np.where(lab == 3, np.nan, dist)
        norm = np.where(use[lab], dist / enter[lab], np.nan)
        best = np.where(np.isfinite(norm), norm, np.inf).argmin(axis=1)
        rows = np.arange(ctx.T)
        ratio = exit_ / enter
        return {"dist": dist[rows, best], "label": lab[rows, best], "norm": norm[rows, best],
                "side": np.array(sides)[best], "labels": labels, "enter": enter, "exit": exit_,
                "exit_ratio": ratio[lab[rows, best]],
                "near_by_side": {s: np.isfinite(norm[:, i]) & (norm[:, i] <= ratio[lab[:, i]])
                                 for i, s in enumerate(sides)}}
    keys = [f"{n.replace(' ', '_')}.{k}" for n in HEAD_FAMILY for k in ("enter", "exit", "enabled")]
    return ctx.cached(ctx.key("head_contacts", "head_model", "touch_neck.radius", "contact.contact_band",
                              "body.min_present", *keys), compute)


def in_head_contact(ctx: Context, side: str) -> np.ndarray:
    """``[T]`` bool: this hand is within its head-family exit distance (so other contacts yield to it)."""
    hc = head_contacts(ctx)
    if hc is None or side not in hc["near_by_side"]:
        return np.zeros(ctx.T, bool)
    return hc["near_by_side"][side]


_PLACE = {"touch face": "the face", "touch head": "the head (above the brows)", "touch ear": "the ear",
          "touch neck": "the neck"}


def detect_head_family(ctx: Context, active: set[str]) -> dict[str, ClassOutput]:
    hc = head_contacts(ctx)
    out = {n: ClassOutput(np.zeros(ctx.T, np.float32)) for n in HEAD_FAMILY if n in active}
    if hc is None or not out:
        return out
    cfg, labels = ctx.cfg, hc["labels"]
    allowed = np.array([labels[i] in active for i in range(4)])
    ok = allowed[hc["label"]] & np.isfinite(hc["norm"])
    norm = np.where(ok, hc["norm"], np.nan)
    for i, name in enumerate(labels):
        if name in out:
            out[name].strength = np.where(hc["label"] == i, ramp(norm, 1.0, higher=False), 0).astype(np.float32)
    r = decode(norm, enter=1.0, exit=hc["exit_ratio"], higher=False, fps=ctx.fps, min_duration_s=0.0,
               merge_gap_s=cfg.contact.merge_gap_s)
    for a, b in r:
        seg = slice(a, b + 1)
        lab_seg = hc["label"][seg][np.isfinite(norm[seg])]
        if not len(lab_seg):
            continue
        li = int(np.bincount(lab_seg, minlength=4).argmax())
        name = labels[li]
        if name not in out:
            continue
        dur = (b - a + 1) / ctx.fps
        if dur < cfg[name.replace(" ", "_")].min_duration_s:
            continue
        sides = hc["side"][seg]
        side = "Right" if (sides == "Right").sum() >= (sides == "Left").sum() else "Left"
        with _quiet():
            spd = float(np.nanmedian(ctx.hand_speed(side)[seg]))
        if np.isfinite(spd) and spd > cfg.contact.max_speed:
            continue  # the hand swept past the head: a gesture, not a touch
        with _quiet():
            dval = float(np.nanmedian(hc["dist"][seg]))
        score = float(np.mean(out[name].strength[seg]))
        jm = ctx.body.jm
        anchors = ([jm.get("nose"), jm.get("Right.eye"), jm.get("Left.eye")] if name != "touch neck"
                   else [jm.get("chin"), jm.get("neck")])
        if name == "touch ear":
            anchors = [jm.get(f"{s}.ear") for s in SIDES]
        thr = float(hc["enter"][li])
        out[name].events.append(Event(int(a), int(b), name, score, evidence(
            [jm.get(f"{side}.wrist")] + [n for n in anchors if n], "hand-to-" + name.split()[1] + " distance",
            dval, "shoulder widths", thr, dur,
            f"{_side_word(side)} hand " + (f"on {_PLACE[name]}" if dval < 0.01 else
                                             f"within {_fmt(dval)} shoulder widths of {_PLACE[name]}")
            + f" for {dur:.1f} s")))
    return out


def detect_lips(ctx: Context) -> ClassOutput:
    """Lips pressed or bitten (face points): the outer-lip height drops below this person's usual while the
    mouth is not talking. Emitted as "touch face" (a self-touch of the mouth)."""
    cfg, body = ctx.cfg.lips, ctx.body
    out = ClassOutput(np.zeros(ctx.T, np.float32))
    jm = body.jm
    if not cfg.enabled or jm.lips_outer is None or jm.lips_inner is None:
        return out

    def measure():
        top, bot = body.pos(jm.lips_outer[0]), body.pos(jm.lips_outer[1])
        itop, ibot = body.pos(jm.lips_inner[0]), body.pos(jm.lips_inner[1])
        outer = np.linalg.norm(top - bot, axis=-1) / body.head_size
        inner = np.linalg.norm(itop - ibot, axis=-1) / body.head_size
        ratio = outer / rolling_median(outer, ctx.sec(cfg.baseline_s))
        talk = np.sqrt(np.maximum(smooth(inner ** 2, ctx.sec(1.0)) - smooth(inner, ctx.sec(1.0)) ** 2, 0.0))
        return ratio, talk
    ratio, talk = ctx.cached(ctx.key("lips", "lips.baseline_s"), measure)
    gate = np.isfinite(talk) & (talk <= cfg.max_talk)
    for s in SIDES:  # a hand at the mouth is a hand contact, decided by the head family
        gate &= ~in_head_contact(ctx, s)
    out.strength = np.where(gate, ramp(ratio, cfg.enter, higher=False), 0).astype(np.float32)
    for a, b in decode(ratio, enter=cfg.enter, exit=cfg.exit, higher=False, fps=ctx.fps, gate=gate,
                       min_duration_s=cfg.min_duration_s, merge_gap_s=cfg.merge_gap_s):
        seg = slice(a, b + 1)
        dur = (b - a + 1) / ctx.fps
        v = float(np.nanmedian(ratio[seg]))
        out.events.append(Event(int(a), int(b), "touch face", float(out.strength[seg].mean()), evidence(
            list(jm.lips_outer + jm.lips_inner), "outer-lip height / usual", v, "ratio", cfg.enter, dur,
            f"lips pressed together or bitten (outer-lip height {v:.0%} of usual, not talking) for {dur:.1f} s")))
    return out


# ---------------------------------------------------------------------------------------------------------
# Generic single-measure detector

def _simple(ctx: Context, name: str, value: np.ndarray, *, higher: bool, gate: np.ndarray | None,
            joints: list[str | None], measure: str, unit: str, text: Callable[[float, float], str],
            event_ok: Callable[[slice], bool] | None = None) -> ClassOutput:
    """Decode one per-frame measure with the class's enter/exit/duration settings into events with evidence;
    ``event_ok`` may veto a decoded event (e.g. a contact the hand only swept through)."""
    cfg = ctx.cfg[name.replace(" ", "_")]
    enter = cfg.enter
    g = np.ones(ctx.T, bool) if gate is None else gate
    strength = np.where(g, ramp(value, enter, higher), 0).astype(np.float32)
    out = ClassOutput(strength)
    for a, b in decode(value, enter=enter, exit=cfg.exit, higher=higher, fps=ctx.fps, gate=g, min_duration_s=cfg.min_duration_s,
                       merge_gap_s=cfg.merge_gap_s, max_duration_s=cfg.get("max_duration_s")):
        seg = slice(a, b + 1)
        if event_ok is not None and not event_ok(seg):
            continue
        with _quiet():
            v = float(np.nanmedian(value[seg]))
        dur = (b - a + 1) / ctx.fps
        out.events.append(Event(int(a), int(b), name, float(strength[seg].mean()), evidence(
            [j for j in joints if j], measure, v, unit, enter, dur, text(v, dur))))
    return out


def _both_sides(ctx: Context, per_side: dict[str, np.ndarray], higher: bool) -> tuple[np.ndarray, np.ndarray]:
    """Combine per-hand measures: the stronger hand per frame; returns (value, side index)."""
    sides = list(per_side)
    v = np.stack([per_side[s] for s in sides], 1)
    fill = -np.inf if higher else np.inf
    vv = np.where(np.isfinite(v), v, fill)
    idx = vv.argmax(1) if higher else vv.argmin(1)
    best = v[np.arange(len(v)), idx]
    return best.astype(np.float32), np.array(sides)[idx]


def _dominant(side_arr: np.ndarray, seg: slice) -> str:
    s = side_arr[seg]
    return "Right" if (s == "Right").sum() >= (s == "Left").sum() else "Left"


# ---------------------------------------------------------------------------------------------------------
# Contacts with the body

def detect_touch_chest(ctx: Context) -> ClassOutput:
    cfg, body = ctx.cfg.touch_chest, ctx.body
    per, gates = {}, {}
    for s in SIDES:
        p = ctx.hand_points(s)
        if p.shape[1] == 0:
            continue
        rel = p - ctx.sc[:, None]
        dx = np.maximum(np.abs(rel[..., 0]) - cfg.half_width, 0.0)
        dy = np.maximum(np.maximum(rel[..., 1] - (-cfg.top), -cfg.bottom - rel[..., 1]), 0.0)
        d = np.sqrt(dx ** 2 + dy ** 2)
        per[s] = np.where(np.isfinite(d), d, np.inf).min(1)
        per[s] = np.where(np.isfinite(per[s]), per[s], np.nan)
        rise = body.role(f"{s}.wrist")[:, 1] - body.role(f"{s}.elbow")[:, 1]
        # in the image a hand reaching for the other arm, or clasping the other hand, passes over the chest:
        # those contacts (and the head) come first
        other = (arm_distance(ctx, s) <= ctx.cfg.touch_arm.exit) | (hand_gap(ctx) <= ctx.cfg.hands_together.exit)
        gates[s] = (rise >= cfg.min_forearm_rise) & ~in_head_contact(ctx, s) & ~other
        per[s] = np.where(gates[s], per[s], np.nan)
    if not per:
        return ClassOutput(np.zeros(ctx.T, np.float32))
    value, side = _both_sides(ctx, per, higher=False)
    jm = body.jm
    return _simple(ctx, "touch chest", value, higher=False, gate=np.isfinite(value),
                   joints=[jm.get("Right.wrist"), jm.get("Left.wrist"), jm.get("Right.shoulder"), jm.get("Left.shoulder")],
                   measure="hand-to-chest distance", unit="shoulder widths",
                   text=lambda v, d: f"a hand lifted onto the chest (within {_fmt(v)} shoulder widths) for {d:.1f} s")


def hand_gap(ctx: Context) -> np.ndarray:
    """``[T]`` smallest distance between the two hands' points (sw)."""
    def f():
        r, left = ctx.hand_points("Right"), ctx.hand_points("Left")
        d = _chunked_min(r, left).min(axis=1) if r.shape[1] and left.shape[1] else np.full(ctx.T, np.inf)
        return np.where(np.isfinite(d), d, np.nan).astype(np.float32)
    return ctx.cached("hand_gap", f)


def detect_hands_together(ctx: Context) -> ClassOutput:
    cfg, body = ctx.cfg.hands_together, ctx.body
    gap = hand_gap(ctx)
    rub = ctx.cached(ctx.key("rub", "hands_together.rub_band_hz", "hands_together.window_s"), lambda: band_amplitude(
        ctx.hand_centre("Right") - ctx.hand_centre("Left"), ctx.fps, cfg.rub_band_hz[0], cfg.rub_band_hz[1],
        ctx.sec(cfg.window_s)))
    rise = np.minimum(body.role("Right.wrist")[:, 1] - body.role("Right.elbow")[:, 1],
                      body.role("Left.wrist")[:, 1] - body.role("Left.elbow")[:, 1])
    rubbing = rub >= cfg.min_rub
    raised = rise >= cfg.min_forearm_rise
    gate = (rubbing | raised) & ~in_head_contact(ctx, "Right") & ~in_head_contact(ctx, "Left")
    jm = body.jm

    def text(v: float, d: float) -> str:
        return f"hands within {_fmt(v)} shoulder widths of each other, rubbing or raised, for {d:.1f} s"
    return _simple(ctx, "hands together", gap, higher=False, gate=gate,
                   joints=[jm.get("Right.wrist"), jm.get("Left.wrist")], measure="hand-to-hand distance",
                   unit="shoulder widths", text=text)


def fold_value(ctx: Context) -> np.ndarray:
    def f():
        b = ctx.body
        rw, lw = b.role("Right.wrist"), b.role("Left.wrist")
        re, le = b.role("Right.elbow"), b.role("Left.elbow")
        v = np.maximum(np.linalg.norm(rw - le, axis=-1), np.linalg.norm(lw - re, axis=-1))
        mid = ctx.sc[:, 0]
        cross = ctx.cfg.fold_arms.min_cross
        crossed = (rw[:, 0] - mid >= cross) & (mid - lw[:, 0] >= cross)
        return np.where(crossed, v, np.nan).astype(np.float32)
    return ctx.cached("fold", f)


def detect_fold_arms(ctx: Context) -> ClassOutput:
    v = fold_value(ctx)
    jm = ctx.body.jm
    return _simple(ctx, "fold arms", v, higher=False, gate=np.isfinite(v),
                   joints=[jm.get(f"{s}.{r}") for s in SIDES for r in ("wrist", "elbow")],
                   measure="wrist-to-other-elbow distance (larger side)", unit="shoulder widths",
                   text=lambda v, d: f"forearms crossed, each wrist within {_fmt(v)} shoulder widths of the other "
                                     f"elbow, for {d:.1f} s")


def arm_distance(ctx: Context, side: str) -> np.ndarray:
    """``[T]`` distance (sw) of this hand's points to the other arm (upper arm, and the forearm up to
    ``touch_arm.forearm_reach`` from the elbow); inf where it cannot be measured."""
    def f():
        o = "Left" if side == "Right" else "Right"
        p, body = ctx.hand_points(side), ctx.body
        sh, el, wr = (body.role(f"{o}.{r}")[:, None] for r in ("shoulder", "elbow", "wrist"))
        d = np.minimum(point_segment_distance(p, sh, el),
                       point_segment_distance(p, el, wr, t_max=ctx.cfg.touch_arm.forearm_reach))
        return np.where(np.isfinite(d), d, np.inf).min(1)
    return ctx.cached(ctx.key(f"arm_distance_{side}", "touch_arm.forearm_reach"), f)


def detect_touch_arm(ctx: Context) -> ClassOutput:
    cfg, body = ctx.cfg.touch_arm, ctx.body
    per = {}
    for s in SIDES:
        if ctx.hand_points(s).shape[1] == 0:
            continue
        d = arm_distance(ctx, s)
        per[s] = np.where(np.isfinite(d) & ~in_head_contact(ctx, s), d, np.nan)
    if not per:
        return ClassOutput(np.zeros(ctx.T, np.float32))
    value, side = _both_sides(ctx, per, higher=False)
    fold = fold_value(ctx)
    gate = np.isfinite(value) & (hand_gap(ctx) >= cfg.min_hand_gap) & ~(fold <= ctx.cfg.fold_arms.exit)

    def slow(seg: slice) -> bool:
        with _quiet():
            spd = float(np.nanmedian(ctx.hand_speed(_dominant(side, seg))[seg]))
        return not (np.isfinite(spd) and spd > cfg.max_speed)
    jm = body.jm
    out = _simple(ctx, "touch arm", value, higher=False, gate=gate,
                  joints=[jm.get("Right.wrist"), jm.get("Left.wrist"), jm.get("Right.elbow"), jm.get("Left.elbow")],
                  measure="hand-to-other-arm distance", unit="shoulder widths", event_ok=slow,
                  text=lambda v, d: f"a hand on the other arm (within {_fmt(v)} shoulder widths) for {d:.1f} s")
    for ev in out.events:
        s = _dominant(side, slice(ev.start, ev.end + 1))
        o = "left" if s == "Right" else "right"
        ev.evidence["text"] = (f"{_side_word(s)} hand on the {o} arm (within {_fmt(ev.evidence['value'])} shoulder "
                               f"widths) for {ev.evidence['duration_s']:.1f} s")
    return out


def detect_arms_akimbo(ctx: Context) -> ClassOutput:
    cfg, b = ctx.cfg.arms_akimbo, ctx.body
    per = {}
    for s, sign in (("Right", -1.0), ("Left", 1.0)):
        w, hip, el, sh = (b.role(f"{s}.{r}") for r in ("wrist", "hip", "elbow", "shoulder"))
        d = np.linalg.norm(w - hip, axis=-1)
        elbow_out = sign * (el[:, 0] - sh[:, 0])  # elbow outside its shoulder
        elbow_wide = sign * (el[:, 0] - w[:, 0])  # and outside its wrist: the arm is bent out to the side
        at_waist = w[:, 1] - hip[:, 1]  # the waist is above the hip joint; a hand on the lap or thigh is not
        ok = (elbow_out >= cfg.min_elbow_out) & (elbow_wide >= cfg.min_elbow_out) & (at_waist >= cfg.min_wrist_above_hip)
        per[s] = np.where(ok, d, np.nan)
    value, side = _both_sides(ctx, per, higher=False)
    jm = b.jm
    return _simple(ctx, "arms akimbo", value, higher=False, gate=np.isfinite(value),
                   joints=[jm.get(f"{s}.{r}") for s in SIDES for r in ("wrist", "hip", "elbow")],
                   measure="wrist-to-hip distance with the elbow out", unit="shoulder widths",
                   text=lambda v, d: f"hand on the hip (within {_fmt(v)} shoulder widths), elbow out, for {d:.1f} s")


def detect_arms_behind(ctx: Context) -> ClassOutput:
    cfg, b = ctx.cfg.arms_behind, ctx.body
    per = {}
    ix = b.layout.index
    for s in SIDES:
        names = b.jm.hands[s]
        if not names or ctx.seen(b.jm.get(f"{s}.wrist")) < cfg.min_hand_presence:
            continue
        hidden = ~b.raw_present[:, [ix[n] for n in names]].any(axis=1)
        sh, el = b.jm.get(f"{s}.shoulder"), b.jm.get(f"{s}.elbow")
        arm_seen = b.raw_present[:, ix[sh]] & b.raw_present[:, ix[el]]
        drop = b.role(f"{s}.shoulder")[:, 1] - b.role(f"{s}.elbow")[:, 1]
        sign = -1.0 if s == "Right" else 1.0
        out_by = sign * (b.role(f"{s}.elbow")[:, 0] - b.role(f"{s}.shoulder")[:, 0])
        down = (drop >= cfg.elbow_drop) & (out_by <= cfg.max_elbow_out)  # hanging by the side, not on a table
        ind = (hidden & arm_seen & down).astype(np.float32)
        per[s] = smooth(ind, ctx.sec(0.5))
    if not per:
        return ClassOutput(np.zeros(ctx.T, np.float32))
    value, side = _both_sides(ctx, per, higher=True)
    jm = b.jm
    return _simple(ctx, "arms behind", value, higher=True, gate=None,
                   joints=[jm.get(f"{s}.{r}") for s in SIDES for r in ("shoulder", "elbow", "wrist")],
                   measure="share of frames with the hand out of view, arm down", unit="fraction",
                   text=lambda v, d: f"a hand out of view behind the body while its arm hangs down for {d:.1f} s")


# ---------------------------------------------------------------------------------------------------------
# Movements of the trunk and head

def shoulder_excursion(ctx: Context) -> np.ndarray:
    """``[T]`` RMS vertical excursion (sw) of both shoulders and the neck from their own rolling median over
    ``baseline_s``, smoothed over ``window_s``. A shrug, a tilt-and-return or a shake all leave the
    shoulders' recent resting height for a moment; slow posture drift moves the median with it."""
    cfg, b = ctx.cfg.shake_shoulders, ctx.body

    def compute():
        names = [b.jm.get("Right.shoulder"), b.jm.get("Left.shoulder")]
        if b.jm.get("neck") and b.jm.get("neck") != b.jm.get("Right.shoulder"):
            names.append(b.jm.get("neck"))
        y = np.stack([b.pos(n)[:, 1] for n in names], 1)
        dev = y - rolling_median(y, ctx.sec(cfg.baseline_s))
        ok = np.isfinite(dev).all(axis=1)
        return np.where(ok, np.sqrt(smooth(np.where(ok, (dev ** 2).mean(axis=1), np.nan), ctx.sec(cfg.window_s))),
                        np.nan).astype(np.float32)
    return ctx.cached(ctx.key("shoulder_excursion", "shake_shoulders.baseline_s", "shake_shoulders.window_s"), compute)


def detect_shake_shoulders(ctx: Context) -> ClassOutput:
    cfg, b = ctx.cfg.shake_shoulders, ctx.body
    amp = shoulder_excursion(ctx)
    with _quiet():
        floor = float(np.nanmedian(amp))
    if not np.isfinite(floor) or floor <= 0:
        return ClassOutput(np.zeros(ctx.T, np.float32))
    rel = amp / floor
    still = np.ones(ctx.T, bool)
    for s in SIDES:  # a moving or raised arm drags the shoulder keypoints: only shoulders moving on their own
        if b.jm.get(f"{s}.wrist"):
            still &= ~(ctx.hand_speed(s) > cfg.max_hand_speed) & ~in_head_contact(ctx, s)  # unseen hand: no veto
    head = ctx.cached("head_speed", lambda: smooth(speed(ctx.eye_centre() - ctx.sc, ctx.fps), ctx.sec(0.3)))

    def big_enough(seg: slice) -> bool:  # a real excursion, with the head riding along rather than leading
        with _quiet():
            peak, head_peak = np.nanmax(amp[seg]), np.nanmax(head[seg])
        return bool(peak >= cfg.min_amplitude and not head_peak > cfg.max_head_speed)
    jm = b.jm
    return _simple(ctx, "shake shoulders", rel, higher=True, gate=still, event_ok=big_enough,
                   joints=[jm.get("Right.shoulder"), jm.get("Left.shoulder"), jm.get("neck")],
                   measure="shoulder height excursion from the last seconds' level / stream median",
                   unit="x noise floor",
                   text=lambda v, d: f"shoulders rising, dropping or tilting ({v:.1f}x this person's usual jitter, "
                                     f"about {v * floor:.3f} shoulder widths) with the hands still, for {d:.1f} s")


def detect_move_torso(ctx: Context) -> ClassOutput:
    cfg, b = ctx.cfg.move_torso, ctx.body
    k = ctx.sec(cfg.smooth_s)
    v = ctx.cached(ctx.key("trunk_speed", "move_torso.smooth_s"), lambda: np.minimum(
        smooth(speed(b.role("Right.shoulder"), ctx.fps), k), smooth(speed(b.role("Left.shoulder"), ctx.fps), k)))
    # raising an arm drags both shoulder keypoints: frames with a fast hand are not read as trunk motion
    calm = np.ones(ctx.T, bool)
    for s in SIDES:
        if b.jm.get(f"{s}.wrist"):
            calm &= ~(ctx.hand_speed(s) > cfg.max_hand_speed)
    jm = b.jm
    return _simple(ctx, "move torso", v, higher=True, gate=calm,
                   joints=[jm.get("Right.shoulder"), jm.get("Left.shoulder")],
                   measure="speed of the slower shoulder", unit="shoulder widths per second",
                   text=lambda v, d: f"trunk shifting (both shoulders moving at {_fmt(v)} shoulder widths per "
                                     f"second) for {d:.1f} s")


def detect_head_up(ctx: Context) -> ClassOutput:
    cfg, b = ctx.cfg.head_up, ctx.body
    refs = [r for r in ("Right.ear", "Left.ear") if b.jm.get(r)] or [r for r in ("Right.eye", "Left.eye") if b.jm.get(r)]
    nose = b.role("nose")[:, 1]
    win = ctx.sec(cfg.baseline_s)
    # each reference joint against its own usual offset, so one ear dropping out does not make a jump
    rel = np.stack([(nose - b.role(r)[:, 1]) / b.head_size for r in refs], 1)

    def measure():
        with _quiet():
            return np.nanmean(rel - rolling_median(rel, win), axis=1)
    value = ctx.cached(ctx.key("head_pitch", "head_up.baseline_s"), measure)
    jm = b.jm
    return _simple(ctx, "head up", value.astype(np.float32), higher=True, gate=None,
                   joints=[jm.get("nose")] + [jm.get(r) for r in refs],
                   measure="nose height over the ear (or eye) line, above usual", unit="head sizes",
                   text=lambda v, d: f"head tilted back (nose {_fmt(v)} head sizes higher than usual) for {d:.1f} s")


def detect_illustrative(ctx: Context) -> ClassOutput:
    """A hand lifted away from its resting place and moved (a gesture that is not a self-touch)."""
    cfg = ctx.cfg.illustrative
    per, speeds = {}, {}
    # while one hand is at the head the other one's motion is read against shoulders that the raised arm
    # drags along; and the rising/lowering hand is an approach, not a gesture
    touching = in_head_contact(ctx, "Right") | in_head_contact(ctx, "Left")
    for s in SIDES:
        if not ctx.body.jm.get(f"{s}.wrist"):
            continue
        rel = ctx.hand_centre(s) - ctx.sc
        off = ctx.cached(ctx.key(f"hand_off_rest_{s}", "illustrative.rest_window_s"), lambda rel=rel: np.linalg.norm(
            rel - rolling_median(rel, ctx.sec(cfg.rest_window_s)), axis=-1))
        on_arm = arm_distance(ctx, s) <= ctx.cfg.touch_arm.exit  # a hand on the other arm is a touch, not a gesture
        per[s] = np.where(~touching & ~on_arm, off, np.nan)
        speeds[s] = ctx.hand_speed(s)
    if not per:
        return ClassOutput(np.zeros(ctx.T, np.float32))
    value, side = _both_sides(ctx, per, higher=True)

    def moved(seg: slice) -> bool:
        with _quiet():
            peak = np.nanmax(speeds[_dominant(side, seg)][seg])
        return bool(np.isfinite(peak) and peak >= cfg.min_peak_speed)
    jm = ctx.body.jm
    out = _simple(ctx, "illustrative", value, higher=True, gate=np.isfinite(value), event_ok=moved,
                  joints=[jm.get("Right.wrist"), jm.get("Left.wrist")], measure="hand distance from its resting place",
                  unit="shoulder widths",
                  text=lambda v, d: f"hand moved {_fmt(v)} shoulder widths away from where it rests for {d:.1f} s")
    for ev in out.events:
        s = _dominant(side, slice(ev.start, ev.end + 1))
        ev.evidence["text"] = (f"{_side_word(s)} hand moved {_fmt(ev.evidence['value'])} shoulder widths away from where "
                               f"it rests, not to the head, for {ev.evidence['duration_s']:.1f} s")
    return out


SINGLE: dict[str, Callable[[Context], ClassOutput]] = {
    "touch chest": detect_touch_chest,
    "hands together": detect_hands_together,
    "fold arms": detect_fold_arms,
    "touch arm": detect_touch_arm,
    "arms akimbo": detect_arms_akimbo,
    "arms behind": detect_arms_behind,
    "shake shoulders": detect_shake_shoulders,
    "move torso": detect_move_torso,
    "head up": detect_head_up,
    "illustrative": detect_illustrative,
}
assert set(SINGLE) | set(HEAD_FAMILY) == set(MG_INDEX), "every MG class needs a detector"

# Which classes' events a config section can change (threshold fitting re-runs only those). Head contacts
# gate every detector that yields to a hand at the head.
_YIELDS_TO_HEAD = ("touch chest", "hands together", "touch arm", "shake shoulders", "illustrative")
AFFECTS: dict[str, tuple[str, ...]] = {
    **{n.replace(" ", "_"): (n,) for n in MG_INDEX},
    **{s: HEAD_FAMILY + _YIELDS_TO_HEAD for s in ("head_model", "contact", "touch_face", "touch_head", "touch_ear",
                                                  "touch_neck")},
    "fold_arms": ("fold arms", "touch arm"),
    "touch_arm": ("touch arm", "touch chest", "illustrative"),
    "hands_together": ("hands together", "touch chest"),
    "lips": ("touch face",),
    "body": tuple(MG_INDEX),
}
