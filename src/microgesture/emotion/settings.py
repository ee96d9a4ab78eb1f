"""Settings: the situation a reasoner is told about, the question it answers, and the words of its answer.

Why: a press conference (won or lost?) is the wrong frame for a video call or a stress study, and a model
told about "the match" will write about a match. The default is a neutral recorded conversation asking for
valence and arousal; the others are chosen on purpose (``--setting``). Each setting names its answer key and
its two labels; the first label is the *positive pole* that scores and learned probabilities refer to.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

DEFAULT_SETTING = "conversation"
LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Setting:
    name: str
    context: str  # the situation, as the prompt states it
    question: str  # what to infer
    key: str  # the answer's decision key ("valence", "state")
    labels: tuple[str, str]  # (positive pole, negative pole)
    meanings: tuple[str, str]  # what each label means in this setting
    subject: str = "the person"
    asks_arousal: bool = True
    title: str = ""  # for reports

    def pole(self, label: str | None) -> str | None:
        """``positive`` / ``negative`` for one of this setting's labels (None otherwise)."""
        if label is None:
            return None
        lab = str(label).strip().lower()
        return "positive" if lab == self.labels[0] else "negative" if lab == self.labels[1] else None

    def label_of(self, pole: str) -> str:
        return self.labels[0] if pole == "positive" else self.labels[1]

    def label_text(self) -> str:
        return (f'"{self.labels[0]}" ({self.meanings[0]}) or "{self.labels[1]}" ({self.meanings[1]})')


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("conversation",
            "A person is talking in a recorded conversation (an interview, a talk or a video call). Nothing "
            "else is known about the situation or the person.",
            "How does the person feel while talking: pleasant or unpleasant (valence), calm or activated "
            "(arousal)?",
            "valence", ("positive", "negative"), ("pleasant, at ease", "unpleasant, strained"),
            title="recorded conversation: valence and arousal"),
    Setting("press_conference",
            "A professional tennis player is answering journalists' questions at a post-match press "
            "conference of a Grand Slam tournament.",
            "Infer the player's hidden emotional state during the press conference.",
            "valence", ("positive", "negative"),
            ("the player most likely won the match", "the player most likely lost the match"),
            subject="the player", title="post-match press conference: won (positive) or lost (negative)"),
    Setting("job_interview",
            "A candidate is answering an interviewer's questions in a job interview.",
            "Is the candidate comfortable or uneasy during the interview?",
            "state", ("comfortable", "uneasy"), ("relaxed, confident", "tense, under pressure"),
            subject="the candidate", title="job interview: comfortable or uneasy"),
    Setting("stress_test",
            "A participant is filmed either during a standardised stress test (public speaking and mental "
            "arithmetic in front of an evaluating panel) or during a matched relaxed baseline session.",
            "Is the participant in the relaxed session or in the stress test?",
            "state", ("relaxed", "stressed"), ("the relaxed baseline session", "the stress test"),
            subject="the participant", asks_arousal=False, title="stress test: relaxed or stressed session"),
    Setting("deception_interview",
            "A person is questioned in an interview in which they may be concealing information.",
            "Does the person appear at ease or tense while answering? (Body movements alone cannot show "
            "whether someone lies.)",
            "state", ("at ease", "tense"), ("calm, open", "tense, guarded"),
            title="deception interview: at ease or tense"),
)}


def get_setting(name: str | None) -> Setting:
    key = name or DEFAULT_SETTING
    if key not in SETTINGS:
        raise ConfigError(f"unknown setting {key!r}; choose from {', '.join(SETTINGS)}")
    return SETTINGS[key]
