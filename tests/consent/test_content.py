"""Screening lines for the content an actor excluded: categories and the actor's own terms."""

from __future__ import annotations

import pytest

from consent.content import (
    CONTENT_CATEGORIES,
    MAX_BLOCKED_TERMS,
    MAX_TERM_CHARS,
    ContentMatch,
    check_categories,
    fold,
    normalize_terms,
    screen,
)
from voicehub.errors import InvalidInput

ALL = tuple(CONTENT_CATEGORIES)
REQUIRED = (
    "sexual",
    "violence",
    "hate",
    "politics",
    "religion",
    "drugs",
    "alcohol_tobacco",
    "gambling",
    "profanity",
)


def category_of(text: str, *, categories: tuple[str, ...] = ALL) -> ContentMatch | None:
    return screen(text, categories=categories, blocked_terms=[])


# One English and one Japanese line per category, with the term that must catch it.
EXAMPLES = [
    ("sexual", "They filmed a porno in that motel.", "porn*"),
    ("sexual", "あのシーンはセックスを描いている。", "セックス"),
    ("violence", "He killed the guard without a word.", "killed"),
    ("violence", "お前をぶっ殺してやる！", "ぶっ殺"),
    ("hate", "They chanted about the master race all night.", "master race"),
    ("hate", "そんな劣等民族の言うことなど聞くな。", "劣等民族"),
    ("politics", "Don't forget to vote on Sunday.", "vote"),
    ("politics", "来月の選挙で誰に入れる？", "選挙"),
    ("religion", "She went to church every Sunday.", "church"),
    ("religion", "彼は毎朝お経を唱えている。", "お経"),
    ("drugs", "The gang sold cocaine out of the back room.", "cocaine"),
    ("drugs", "彼は覚醒剤で逮捕された。", "覚醒剤"),
    ("alcohol_tobacco", "Pour me another whiskey, will you?", "whiskey"),
    ("alcohol_tobacco", "仕事の後はビールに限る！", "ビール"),
    ("gambling", "He lost his savings at the casino.", "casino*"),
    ("gambling", "週末はずっとパチンコ屋にいた。", "パチンコ"),
    ("profanity", "Oh, for fuck's sake, not again.", "fuck*"),
    ("profanity", "くそったれ、また負けた！", "くそったれ"),
]

# Ordinary lines from anime and dubbing scripts, several built around near-misses.
CLEAN_LINES = [
    "Take a screenshot before the class starts, okay?",
    "Your skill with the sword has grown, apprentice.",
    "We all passed the assessment — the whole class passed!",
    "The therapist said I should rest my voice for a week.",
    "Grab the grapes and some scrap paper from the kitchen.",
    "Hold on, the pilot is still in the cockpit.",
    "The train to Scunthorpe leaves at nine sharp.",
    "Christmas at the Churchill house was always loud.",
    "Thank you for everything, senpai. I won't forget it.",
    "Follow the method in chapter three and you'll be fine.",
    "I'll meet you at the station after school.",
    "Killua, Beerus and the white rabbit are waiting for you.",
    "Ease off the throttle, Gin, we're nearly there.",
    "ぶっちゃけ、今日の練習はきつかったよね。",
    "やくそくだよ、またあしたね！",
    "今夜はしゃぶしゃぶにしようか。",
    "でもたいへんだったね、おつかれさま。",
    "そろそろかえろうか、日が暮れてきた。",
    "酒井さん、裸足で走ったら危ないよ！",
    "命懸けで守るって、約束したんだ。",
    "そんなのばからしいよ。かすかな望みでも、僕は信じる。",
    "ファイルはドラッグ＆ドロップで移動してください。",
    "殺到する注文に、店長は大喜びだ。",
    "ちょんまげ姿の侍が現れた。",
    "ｾｰﾌﾞﾃﾞｰﾀを読み込みますか？",
    "いえ、すぐに行きます！先輩、待っててください。",
    "スロットルを全開にしろ！",
    "モスクワ行きの列車は満席だった。",
    "こわいんだよ、ひとりで行くのは。",
    "右翼手がフェンス際でボールをつかんだ！",
    "元の国に帰れるって、本当なの？",
    "本棚に漫画がびっちり詰まってる。",
]


@pytest.mark.parametrize(("category", "text", "term"), EXAMPLES)
def test_each_category_catches_its_example_lines(category: str, text: str, term: str) -> None:
    found = category_of(text)

    assert found == ContentMatch(
        kind="category",
        category=category,
        term=term,
        label=CONTENT_CATEGORIES[category].label_en,
    )


@pytest.mark.parametrize(("category", "text", "term"), EXAMPLES)
def test_a_category_the_actor_did_not_exclude_passes(category: str, text: str, term: str) -> None:
    others = tuple(c for c in ALL if c != category)

    found = category_of(text, categories=others)

    assert found is None or found.category != category


def test_every_required_category_exists_with_a_modest_lexicon_in_both_languages() -> None:
    assert set(REQUIRED) <= set(CONTENT_CATEGORIES)
    for category in CONTENT_CATEGORIES.values():
        assert 15 <= len(category.terms_en) <= 40, category.id
        assert 15 <= len(category.terms_ja) <= 40, category.id
        assert category.label_en and category.label_ja and category.description


def test_lexicon_terms_are_distinct_and_in_their_own_script() -> None:
    for category in CONTENT_CATEGORIES.values():
        keys = [fold(t) for t in (*category.terms_en, *category.terms_ja)]
        assert len(keys) == len(set(keys)), category.id
        assert normalize_terms(category.terms_en) == list(category.terms_en)
        assert normalize_terms(category.terms_ja) == list(category.terms_ja)
        for term in category.terms_en:
            assert term.isascii(), term
        for term in category.terms_ja:
            assert not term.isascii() and "*" not in term, term


@pytest.mark.parametrize("line", CLEAN_LINES)
def test_ordinary_dubbing_lines_pass_every_category(line: str) -> None:
    assert category_of(line) is None


def test_there_are_at_least_twenty_clean_lines() -> None:
    assert len(CLEAN_LINES) >= 20


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("First class seats.", "ass"),
        ("The skill tree unlocks at level ten.", "kill"),
        ("She's a skilled pilot.", "kill*"),
        ("Meet me in Sussex.", "sex"),
        ("Check the screenshot.", "shot"),
        ("He is a therapist.", "rapist*"),
    ],
)
def test_latin_terms_match_on_word_boundaries_only(text: str, blocked: str) -> None:
    assert screen(text, categories=[], blocked_terms=[blocked]) is None


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("Kiss my ass.", "ass"),
        ("Take the shot!", "shot"),
        ("kill.", "kill"),
        ("(kill)", "kill"),
        ("スキルじゃなくてkillだよ", "kill"),
        ("A gun\n\tshot rang out.", "gun shot"),
    ],
)
def test_latin_terms_match_whole_words_wherever_they_stand(text: str, blocked: str) -> None:
    found = screen(text, categories=[], blocked_terms=[blocked])

    assert found == ContentMatch(kind="term", category=None, term=blocked, label=blocked)


def test_a_term_without_a_star_matches_only_the_whole_word() -> None:
    assert screen("They killed him.", categories=[], blocked_terms=["kill"]) is None
    assert screen("Don't kill him.", categories=[], blocked_terms=["kill"]) is not None


@pytest.mark.parametrize("text", ["kill", "He killed it.", "Killing time.", "a killer app"])
def test_a_trailing_star_matches_words_that_begin_with_the_stem(text: str) -> None:
    found = screen(text, categories=[], blocked_terms=["kill*"])

    assert found is not None and found.term == "kill*"


def test_lexicon_stems_catch_inflections() -> None:
    for text in ("murdered", "Murdering", "massacres", "tortured"):
        found = category_of(text)
        assert found is not None and found.category == "violence", text


def test_katakana_and_hiragana_are_one_term() -> None:
    assert screen("スキをキルする", categories=[], blocked_terms=["きる"]) is not None
    assert screen("すきをきるする", categories=[], blocked_terms=["キル"]) is not None
    assert category_of("たばこを一本くれ") == category_of("タバコを一本くれ") is not None


def test_half_width_kana_and_full_width_latin_fold() -> None:
    assert screen("ｷﾙ！", categories=[], blocked_terms=["キル"]) is not None
    beer = category_of("ﾋﾞｰﾙ飲む？")
    assert beer is not None and beer.term == "ビール"
    kill = category_of("ＫＩＬＬ　ＨＩＭ")
    assert kill is not None and kill.term == "kill"


def test_case_is_folded_both_ways() -> None:
    assert screen("DRAGON", categories=[], blocked_terms=["dragon"]) is not None
    assert screen("dragon", categories=[], blocked_terms=["DrAgOn"]) is not None
    assert screen("STRASSE", categories=[], blocked_terms=["straße"]) is not None


def test_japanese_terms_match_inside_words() -> None:
    found = screen("それは大魔王の仕業だ", categories=[], blocked_terms=["魔王"])

    assert found is not None and found.term == "魔王"


def test_actor_terms_win_over_categories_and_keep_the_actors_spelling() -> None:
    text = "He killed the Dragon King."

    found = screen(text, categories=ALL, blocked_terms=["dragon King", "ドラゴン"])

    assert found == ContentMatch(
        kind="term", category=None, term="dragon King", label="dragon King"
    )


def test_actor_terms_are_named_as_written_even_in_other_kana() -> None:
    found = screen("あいつはやつだ", categories=[], blocked_terms=["ヤツ"])

    assert found is not None and found.term == "ヤツ"


def test_the_earliest_match_in_the_text_wins() -> None:
    found = screen("dragon then wizard", categories=[], blocked_terms=["wizard", "dragon"])
    assert found is not None and found.term == "dragon"

    found = category_of("Have a beer before you kill him.")
    assert found is not None and found.category == "alcohol_tobacco"

    found = category_of("Kill him before you have a beer.")
    assert found is not None and found.category == "violence"


def test_a_longer_term_at_the_same_place_wins() -> None:
    found = screen("the dark lord rises", categories=[], blocked_terms=["dark", "dark lord"])

    assert found is not None and found.term == "dark lord"


def test_screening_is_deterministic_whatever_the_order_of_categories() -> None:
    text = "Drunk and killing, he swore: shit."

    forward = screen(text, categories=ALL, blocked_terms=[])
    backward = screen(text, categories=tuple(reversed(ALL)), blocked_terms=[])

    assert forward == backward
    assert forward is not None and forward.term == "drunk*"


def test_no_match_is_none() -> None:
    assert screen("Good morning, everyone.", categories=ALL, blocked_terms=["dragon"]) is None
    assert screen("", categories=ALL, blocked_terms=["dragon"]) is None


def test_a_term_that_folds_to_nothing_matches_nothing() -> None:
    assert screen("anything at all", categories=[], blocked_terms=["", " ", "*"]) is None


def test_unknown_categories_are_refused_listing_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_categories(["violence", "spoilers"])

    assert refused.value.extra == {"fields": ["excluded_categories"]}
    assert "spoilers" in refused.value.detail
    for category in REQUIRED:
        assert category in refused.value.detail


def test_screen_refuses_an_unknown_category_rather_than_ignoring_it() -> None:
    with pytest.raises(InvalidInput):
        screen("kill", categories=["violense"], blocked_terms=[])


def test_known_categories_are_deduplicated_in_order() -> None:
    assert check_categories(["drugs", "hate", "drugs"]) == ["drugs", "hate"]


def test_terms_are_trimmed_folded_to_nfkc_and_deduplicated() -> None:
    terms = normalize_terms(["  Dragon ", "", "   ", "dragon", "ﾄﾞﾗｺﾞﾝ", "ｋｉｌｌ *", "魔王\n城"])

    assert terms == ["Dragon", "ドラゴン", "kill*", "魔王 城"]


def test_a_stem_and_the_whole_word_are_different_terms() -> None:
    assert normalize_terms(["kill", "kill*"]) == ["kill", "kill*"]


def test_a_star_anywhere_but_the_end_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_terms(["*kill"])

    assert refused.value.extra == {"fields": ["blocked_terms"]}


def test_terms_are_limited_in_length() -> None:
    assert normalize_terms(["x" * MAX_TERM_CHARS]) == ["x" * MAX_TERM_CHARS]
    with pytest.raises(InvalidInput) as refused:
        normalize_terms(["x" * (MAX_TERM_CHARS + 1)])

    assert refused.value.extra == {"fields": ["blocked_terms"]}


def test_terms_are_limited_in_number_after_deduplication() -> None:
    enough = [f"term{i}" for i in range(MAX_BLOCKED_TERMS)]
    assert len(normalize_terms([*enough, *enough])) == MAX_BLOCKED_TERMS

    with pytest.raises(InvalidInput) as refused:
        normalize_terms([*enough, "one more"])

    assert refused.value.extra == {"fields": ["blocked_terms"]}
