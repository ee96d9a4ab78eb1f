"""The toolkit's micro-gesture class set: what a skeleton can tell apart, and how dataset classes map onto it.

Why a coarser set: iMiGUE's 32 and SMG's 17 classes were labelled from RGB video. Some pairs differ only in
what the joints cannot see (biting the lip vs touching the mouth, rubbing the eyes vs touching the face when
there are no face points, adjusting a tie vs touching the neck). Timelines, detectors, evaluation and the
emotion stage all speak this one vocabulary, so a number measured "at the class level" always means the same
thing. Each class belongs to a body-part *category*, the level the emotion features aggregate at.

``IMIGUE_TO_MG`` and ``SMG_TO_MG`` map dataset label indices (0-based, in the readers' class order) to these
classes; ``None`` marks a dataset class with no skeleton definition (moving or crossing legs in SMG, where
the upper-body layouts have no legs).

What the one real iMiGUE stream here (video 298, OpenPose with face and hands) shows about two mappings:
"bite lip" (5 instances) has no hand near the mouth (both hands stay 0.3 shoulder widths or more from the
head), but the outer-lip height drops to 0.2-0.6 of the person's usual in 4 of the 5, so with face points it
is a mouth self-touch the detectors can see (it stays "touch face"); and the 7 "touch face" instances have the hand
at the side and top of the head, fingertips 0.3-0.6 shoulder widths above the nose — above the brows, i.e.
"touch head" by the definitions below. The mapping keeps "touch face" (one subject is no definition); the
detectors' face/head boundary (``head_model.brow_above_eyes``) is a threshold that fitting can move.
"""

from __future__ import annotations

from dataclasses import dataclass

from .readers.imigue import IMIGUE_CLASS_NAMES
from .readers.smg import SMG_CLASS_NAMES


@dataclass(frozen=True)
class MGClass:
    name: str
    category: str  # body-part category: head_face, neck_chest, hands, arms, shoulders_torso, head, illustrative
    description: str  # what the body does, in body terms (the detectors' definition)


MG_CLASSES: tuple[MGClass, ...] = (
    MGClass("touch head", "head_face", "a hand at the top or back of the head, above the brows (hat, hair, forehead)"),
    MGClass("touch face", "head_face", "a hand on the face between brows and chin (eyes, nose, mouth, cheeks, chin); "
                                       "with face points also the lips pressed or bitten (a self-touch of the mouth)"),
    MGClass("touch ear", "head_face", "a hand at the side of the head, by an ear"),
    MGClass("touch neck", "neck_chest", "a hand on the neck or collar, below the chin and above the chest"),
    MGClass("touch chest", "neck_chest", "a hand resting on or rubbing the chest"),
    MGClass("hands together", "hands", "the hands touching each other: rubbing, crossing fingers, steepling"),
    MGClass("fold arms", "arms", "the forearms crossed in front of the body, each wrist near the other elbow"),
    MGClass("touch arm", "arms", "a hand on the other arm (scratching the arm, tidying a sleeve)"),
    MGClass("arms akimbo", "arms", "hands on the hips with the elbows out"),
    MGClass("arms behind", "arms", "the arms behind the back or withdrawn from view"),
    MGClass("shake shoulders", "shoulders_torso", "the shoulders rise, roll or shake (also turtling, deep breaths)"),
    MGClass("move torso", "shoulders_torso", "the trunk leans, shifts or straightens"),
    MGClass("head up", "head", "the head tilts back, the face up"),
    MGClass("illustrative", "illustrative", "hand movement away from the body that is not a micro-gesture"),
)

MG_CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in MG_CLASSES)
MG_INDEX: dict[str, int] = {n: i for i, n in enumerate(MG_CLASS_NAMES)}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(c.category for c in MG_CLASSES))


def _table(pairs: dict[int, str | None]) -> dict[int, int | None]:
    return {k: (MG_INDEX[v] if v is not None else None) for k, v in pairs.items()}


# iMiGUE indices (data.readers.imigue.IMIGUE_CLASS_NAMES) -> MG class.
IMIGUE_TO_MG: dict[int, int | None] = _table({
    0: "shake shoulders",  # turtle neck: the shoulders rise around the neck
    1: "shake shoulders",  # deep breath: shoulders and chest rise and fall
    2: "touch head",  # touch hat
    3: "touch face",
    4: "touch head",  # touch forehead: above the brows
    5: "touch face",  # cover face
    6: "touch face",  # rub eyes
    7: "touch face",  # touch other face part
    8: "touch ear",
    9: "touch face",  # bite nails: the hand at the mouth
    10: "touch face",  # touch chin
    11: "touch neck",
    12: "touch head",  # play hair
    13: "touch neck",  # adjust tie: at the collar
    14: "touch chest",
    15: "arms behind",  # scratch back
    16: "fold arms",
    17: "touch arm",  # tidy sleeve
    18: "arms behind",  # put arm back
    19: "move torso",
    20: "move torso",  # sit straight
    21: "touch arm",  # scratch arm
    22: "hands together",  # rub hand
    23: "hands together",  # cross finger
    24: "hands together",  # minaret hand
    25: "hands together",  # play things: objects handled in front of the body
    26: "arms behind",  # withdraw arms
    27: "head up",
    28: "touch face",  # bite lip: a mouth self-touch; face points show it (lips pressed), body joints alone cannot
    29: "arms akimbo",
    30: "shake shoulders",
    31: "illustrative",
})

# SMG indices (data.readers.smg.SMG_CLASS_NAMES) -> MG class.
SMG_TO_MG: dict[int, int | None] = _table({
    0: "shake shoulders",  # turtling neck and shoulder
    1: "touch face",  # rubbing eyes and forehead
    2: "fold arms",
    3: "touch neck",  # touching or covering the suprasternal notch
    4: None,  # moving legs: no legs in the upper-body definition
    5: "touch neck",
    6: "arms behind",  # folding arms behind body
    7: "hands together",  # rubbing hands and crossing fingers
    8: "arms akimbo",
    9: None,  # crossing legs
    10: "touch arm",  # scratching some part of the body
    11: "touch face",  # facial parts other than the eyes
    12: "touch head",  # playing or adjusting hair
    13: "fold arms",  # holding arms
    14: "touch neck",  # pulling the shirt collar
    15: "hands together",  # jewellery and objects handled in front of the body
    16: "illustrative",
})

# The synthetic generator's classes (data.synthetic.CLASS_NAMES) -> MG class: its skeletons act these out.
SYNTHETIC_TO_MG: dict[int, int | None] = _table({
    0: "touch face", 1: "touch head", 2: "fold arms", 3: "hands together", 4: "shake shoulders", 5: "touch face",
    6: "touch neck", 7: "hands together", 8: "illustrative",
})

LABEL_SPACES = {"imigue": IMIGUE_TO_MG, "smg": SMG_TO_MG, "synthetic": SYNTHETIC_TO_MG}


def to_mg_class(label_space: str, label: int) -> int | None:
    """The MG class index of dataset ``label`` in ``label_space`` (``imigue`` / ``smg`` / ``mg``), or None."""
    if label_space == "mg":
        return int(label) if 0 <= int(label) < len(MG_CLASSES) else None
    try:
        return LABEL_SPACES[label_space].get(int(label))
    except KeyError:
        raise KeyError(f"unknown label space {label_space!r}; known: mg, {', '.join(LABEL_SPACES)}") from None


def category_of(name: str) -> str:
    """The body-part category of an MG class name (``illustrative`` for unknown names)."""
    i = MG_INDEX.get(name)
    return MG_CLASSES[i].category if i is not None else "illustrative"


def mapping_table() -> list[dict[str, str]]:
    """Rows ``{dataset, index, dataset_class, mg_class}`` for the documentation and ``data info``."""
    rows = []
    for ds, names, table in (("imigue", IMIGUE_CLASS_NAMES, IMIGUE_TO_MG), ("smg", SMG_CLASS_NAMES, SMG_TO_MG)):
        for i, n in enumerate(names):
            m = table[i]
            rows.append({"dataset": ds, "index": str(i), "dataset_class": n,
                         "mg_class": MG_CLASS_NAMES[m] if m is not None else "(none)"})
    return rows
