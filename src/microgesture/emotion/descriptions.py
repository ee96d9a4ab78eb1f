"""Plain-language descriptions of micro-gesture classes, for prompts and reports.

Why: a class name such as "minaret hand" means little to a language model (or a reader) without a short
description of the movement and of what the nonverbal-behaviour literature *tends* to associate with it.
The readings are deliberately hedged: micro-gestures are weak, context-dependent cues, never diagnoses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GestureDescription:
    name: str
    movement: str
    reading: str
    is_micro_gesture: bool = True

    def text(self) -> str:
        return f"{self.movement} {self.reading}"


def _d(name: str, movement: str, reading: str, mg: bool = True) -> GestureDescription:
    return GestureDescription(name, movement, reading, mg)


# Index order = iMiGUE class index (0-31), see data.readers.imigue / SOURCE.md.
IMIGUE_DESCRIPTIONS: tuple[GestureDescription, ...] = (
    _d("turtle neck", "Pulls the head down between raised shoulders.",
       "Often read as a protective, self-shielding reaction; may accompany embarrassment or feeling exposed."),
    _d("deep breath", "Takes a visible deep breath, chest and shoulders rising.",
       "Commonly linked to self-regulation under stress or to gathering oneself; can also signal relief."),
    _d("touch hat", "Touches or adjusts a cap or hat.",
       "A self-adjusting gesture; sometimes read as mild nervousness or a way to buy time."),
    _d("touch face", "Touches the cheek or face with the hand.",
       "A self-touch (pacifying) gesture frequently associated with discomfort, uncertainty or stress."),
    _d("touch forehead", "Touches or rubs the forehead.",
       "Sometimes associated with cognitive effort, frustration or worry."),
    _d("cover face", "Covers part or all of the face with one or both hands.",
       "Often read as shame, disappointment or wanting to hide; occasionally as amused embarrassment."),
    _d("rub eyes", "Rubs one or both eyes.",
       "May reflect fatigue, or is read as a blocking gesture linked to disbelief or distress."),
    _d("touch other face part", "Touches the nose, lips or another facial area.",
       "A self-touch often associated with anxiety, doubt or suppressing speech."),
    _d("touch ears", "Touches or pulls an ear.",
       "Sometimes read as uncertainty or a wish to block out what is being said."),
    _d("bite nails", "Brings fingers to the mouth, biting the nails.",
       "Widely associated with nervousness, tension or anxiety."),
    _d("touch chin", "Touches or strokes the chin.",
       "Commonly read as evaluation or thinking; can also be a mild self-soothing gesture."),
    _d("touch neck", "Touches or rubs the neck.",
       "A pacifying gesture frequently linked to discomfort, stress or insecurity."),
    _d("play hair", "Touches, twirls or arranges the hair.",
       "Often a self-grooming or self-soothing gesture; may signal nervousness or self-consciousness."),
    _d("adjust tie", "Adjusts the collar, necklace or tie.",
       "A self-adjusting gesture sometimes read as tension or a wish to appear composed."),
    _d("touch chest", "Places a hand on the chest.",
       "Can signal sincerity or emphasis; in some contexts read as self-soothing."),
    _d("scratch back", "Reaches back to scratch the back or shoulder.",
       "A self-touch gesture; weakly associated with restlessness or discomfort."),
    _d("fold arm", "Folds the arms across the chest.",
       "Often read as defensive or closed, but also simply comfortable; context matters."),
    _d("tidy sleeve", "Pulls or arranges a sleeve or clothing.",
       "A grooming or displacement gesture; may reflect nervousness or self-presentation."),
    _d("put arm back", "Moves the arms back, e.g. behind the chair or head.",
       "Expansive postures are often read as relaxed confidence or dominance."),
    _d("move torso", "Shifts or sways the upper body.",
       "Postural shifts can signal restlessness, discomfort or a wish to leave."),
    _d("sit straight", "Straightens up in the seat.",
       "May signal attentiveness or composure; sometimes a reset after a difficult question."),
    _d("scratch arm", "Scratches the arm.",
       "A self-touch gesture weakly associated with restlessness or stress."),
    _d("rub hand", "Rubs the hands together.",
       "Can indicate anticipation or positive expectancy, or self-soothing under tension."),
    _d("cross finger", "Interlaces the fingers.",
       "Often read as restraint or self-control; sometimes as frustration when held tightly."),
    _d("minaret hand", "Touches fingertips of both hands together (steepling).",
       "Classically associated with confidence and self-assurance."),
    _d("play things", "Fiddles with an object (bottle, cap, microphone).",
       "Object manipulation is often read as nervous energy, boredom or displacement activity."),
    _d("withdraw arms", "Pulls the arms in towards the body or under the table.",
       "A withdrawing movement sometimes associated with insecurity or disengagement."),
    _d("head up", "Raises the head and chin.",
       "A lifted head is often read as pride, confidence or defiance."),
    _d("bite lip", "Bites or presses the lips.",
       "Commonly associated with holding back words, anxiety or suppressed emotion."),
    _d("arm akimbo", "Hands on hips or elbows out to the sides.",
       "Expansive posture often read as confidence or readiness; sometimes as irritation."),
    _d("shake shoulder", "Shrugs or shakes the shoulders.",
       "A shrug is commonly read as uncertainty, resignation or indifference."),
    _d("illustrative", "A deliberate gesture that accompanies speech (not a micro-gesture).",
       "Illustrators mostly reflect speaking style and engagement rather than hidden emotion.", mg=False),
)

# Classes of the synthetic demo data (data.synthetic.CLASS_NAMES) without an iMiGUE counterpart; the others
# are aliases of iMiGUE classes below, so they share descriptions and functional categories.
DEMO_DESCRIPTIONS: tuple[GestureDescription, ...] = (
    _d("scratching head", "Scratches the head with the fingertips, often repeatedly.",
       "Often read as doubt, confusion or cognitive effort; a self-adaptor that may rise under stress."),
)

_BY_NAME = {d.name: d for d in (*IMIGUE_DESCRIPTIONS, *DEMO_DESCRIPTIONS)}
_ALIASES = {"bit lip": "bite lip", "non-mg": "illustrative", "illustrative (non-mg)": "illustrative",
            "touch hand": "rub hand", "touch head": "touch forehead",
            # synthetic demo classes (data.synthetic.CLASS_NAMES) -> iMiGUE classes
            "touching face": "touch face", "folding arms": "fold arm", "rubbing hands": "rub hand",
            "shaking shoulders": "shake shoulder", "touching nose or chin": "touch chin",
            "adjusting collar": "adjust tie", "crossing fingers": "cross finger",
            "illustrative gesture (non-mg)": "illustrative"}


# A priori functional grouping (self-adaptors vs. expansive vs. closed postures, after the nonverbal-behaviour
# literature); used to pool rare classes into a few interpretable features for small-sample learners.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "face_touch": ("touch face", "touch forehead", "cover face", "rub eyes", "touch other face part",
                   "touch ears", "touch chin", "bite nails", "bite lip"),
    "body_touch": ("scratching head", "touch neck", "touch chest", "scratch back", "scratch arm", "rub hand", "play hair",
                   "touch hat"),
    "grooming": ("adjust tie", "tidy sleeve"),
    "closed": ("fold arm", "cross finger", "withdraw arms", "turtle neck"),
    "expansive": ("minaret hand", "put arm back", "arm akimbo", "head up", "sit straight"),
    "restless": ("move torso", "shake shoulder", "deep breath"),
    "object_play": ("play things",),
    "illustrative": ("illustrative",),
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)
_CATEGORY_OF = {n: c for c, names in CATEGORIES.items() for n in names}


def category(name: str) -> str | None:
    """The functional category of a class name (None for classes outside iMiGUE's 32)."""
    return _CATEGORY_OF.get(describe(name).name)


def describe(name: str) -> GestureDescription:
    """The description of a class name (case- and underscore-insensitive); a neutral entry if unknown."""
    key = name.strip().lower().replace("_", " ")
    key = _ALIASES.get(key, key)
    if key in _BY_NAME:
        return _BY_NAME[key]
    return GestureDescription(name, f"A gesture labelled '{name}'.", "No established reading is recorded for it.")


def known_names() -> list[str]:
    return sorted(_BY_NAME)
