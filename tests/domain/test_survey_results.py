"""Survey results: response rate, distributions and means, free texts in Swedish alphabetical order."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.survey_results import decimal, percent, survey_results, swedish_order
from domain.surveys import ERASED_TEXT, EVALUATION, FOLLOW_UP, SCALE, validate_answers, without_free_text


def test_an_evaluation() -> None:
    answers = [
        {"behov": 5, "balans": 4, "ny_kunskap": 5, "ta_med": "Lässtrategier", "ovrigt": "  "},
        {"behov": 3, "balans": 4, "ta_med": "  Öppna frågor ", "ovrigt": "Bra lokal"},
        {"behov": 4, "balans": 2, "ny_kunskap": 4, "ta_med": "Att läsa högt"},
    ]
    results = survey_results("s1", 5, answers)
    assert results.title == "Utvärdering av träff 1"
    assert (results.invited, results.answered, results.response_rate) == (5, 3, 0.6)
    assert [s.key for s in results.scales] == ["behov", "balans", "ny_kunskap"]
    behov = results.scales[0]
    assert behov.counts == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1} and behov.answered == 3 and behov.mean == 4.0
    assert (behov.low, behov.high) == ("inte alls", "helt och hållet")
    assert results.scales[2].answered == 2 and results.scales[2].mean == 4.5
    assert [(t.key, t.answers) for t in results.texts] == [
        ("ta_med", ["Att läsa högt", "Lässtrategier", "Öppna frågor"]),
        ("ovrigt", ["Bra lokal"]),
    ]


def test_the_follow_up_asks_its_own_questions() -> None:
    results = survey_results("follow-up", 2, [{"anvant": 2, "spridit": "På APT", "behov": 5}])
    assert results.title == "Uppföljning"
    assert [s.key for s in results.scales] == [q.key for q in FOLLOW_UP if q.kind == "scale"] == ["anvant"]
    assert [t.key for t in results.texts] == ["spridit", "hinder", "ovrigt"]
    assert results.texts[0].answers == ["På APT"]


def test_nobody_invited_or_answered() -> None:
    empty = survey_results("final", 0, [])
    assert empty.title == "Slututvärdering"
    assert empty.response_rate is None and empty.answered == 0
    assert all(s.mean is None and s.answered == 0 and sum(s.counts.values()) == 0 for s in empty.scales)
    assert all(t.answers == [] for t in empty.texts)
    assert survey_results("final", 12, []).response_rate == 0.0


def test_values_that_are_not_answers_are_ignored_and_names_never_read() -> None:
    answers: list[dict[str, object]] = [
        {"behov": True, "balans": 7, "ny_kunskap": "5", "ta_med": 3, "namn": "Anna Andersson"},
        {"behov": 0, "balans": None, "ny_kunskap": 2.0, "ta_med": ["x"], "email": "anna@skola.example.se"},
    ]
    results = survey_results("s2", 2, answers)
    assert results.answered == 2
    assert all(s.answered == 0 and s.mean is None for s in results.scales)
    assert all(t.answers == [] for t in results.texts)
    dumped = results.model_dump_json()
    assert "Anna" not in dumped and "skola" not in dumped


def test_erased_free_texts_are_counted_not_shown() -> None:
    kept = {"behov": 4, "ta_med": "Mer samtal om texter", "ovrigt": "Tack!"}
    erased = without_free_text(kept)
    results = survey_results("s1", 3, [kept, erased])
    assert results.texts[0].answers == ["Mer samtal om texter"] and results.texts[0].erased == 1
    assert results.scales[0].answered == 2  # the scale answers stay after anonymisation


def test_as_the_store_keeps_them() -> None:
    """Answers go through validate_answers and JSON, as the web and the store handle them."""
    form = {"behov": "5", "balans": "3", "ny_kunskap": "4", "ta_med": "Åtgärdstrappan", "ovrigt": ""}
    answers, errors = validate_answers("s1", form)
    assert errors == {}
    stored = json.loads(json.dumps(answers, ensure_ascii=False))
    results = survey_results("s1", 1, [stored])
    assert results.response_rate == 1.0 and results.scales[1].counts[3] == 1
    assert results.texts[0].answers == ["Åtgärdstrappan"] and results.texts[1].answers == []


def test_swedish_alphabetical_order() -> None:
    words = ["ögon", "Zebra", "ärlig", "Åsa", "apa", "Éva", "Ørsted", "åka", "Ända", "eld", "Bo", "bo"]
    assert sorted(words, key=swedish_order) == [
        "apa",
        "Bo",
        "bo",
        "eld",
        "Éva",
        "Zebra",
        "åka",
        "Åsa",
        "Ända",
        "ärlig",
        "ögon",
        "Ørsted",
    ]


def test_formats() -> None:
    assert percent(0.6) == "60\u00a0%" and percent(None) == "–" and percent(2 / 3) == "67\u00a0%"
    assert decimal(4.25) == "4,2" and decimal(4.0) == "4,0" and decimal(None) == "–"


# -- any answers -----------------------------------------------------------------------------------------------------
scale_value = st.sampled_from(SCALE) | st.none() | st.integers(-3, 9) | st.booleans()
free_text = st.text(max_size=20) | st.just(ERASED_TEXT) | st.none()
answer = st.fixed_dictionaries(
    {},
    optional={
        **{q.key: scale_value for q in EVALUATION if q.kind == "scale"},
        **{q.key: free_text for q in EVALUATION if q.kind == "text"},
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(answer, max_size=30), st.integers(0, 40), st.randoms(use_true_random=False))
def test_any_answers(answers: list[dict[str, object]], extra: int, rnd: random.Random) -> None:
    invited = len(answers) + extra
    results = survey_results("final", invited, answers)
    assert results.answered == len(answers)
    assert results.response_rate == (len(answers) / invited if invited else None)
    for scale in results.scales:
        given_values = [a[scale.key] for a in answers if type(a.get(scale.key)) is int and a[scale.key] in SCALE]
        assert list(scale.counts) == list(SCALE)
        assert sum(scale.counts.values()) == scale.answered == len(given_values)
        if scale.answered:
            assert scale.mean is not None and min(SCALE) <= scale.mean <= max(SCALE)
            assert scale.mean == sum(v * n for v, n in scale.counts.items()) / scale.answered
        else:
            assert scale.mean is None
    for text in results.texts:
        written = [a[text.key] for a in answers if isinstance(a.get(text.key), str)]
        shown = [str(w).strip() for w in written if str(w).strip() and str(w).strip() != ERASED_TEXT]
        assert sorted(text.answers) == sorted(shown)
        assert text.answers == sorted(text.answers, key=swedish_order)
        assert text.erased == sum(1 for w in written if str(w).strip() == ERASED_TEXT)
    # The order the answers came in (when people answered) leaves no trace.
    shuffled = list(answers)
    rnd.shuffle(shuffled)
    assert survey_results("final", invited, shuffled) == results
