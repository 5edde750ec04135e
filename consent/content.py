"""Content an actor's consent excludes: their chosen categories and their own blocked terms.

Every line is screened in English and Japanese before synthesis, and a refusal
names the category or the term that matched.

This is a screening aid, not a classifier. The lexicons are short lists of
words and phrases that plainly belong to a category; they miss paraphrase,
misspelling and context, and an innocent use of a listed word ("a drug trial")
is still caught. Terms that would over-match ordinary lines (English "shot",
"bet", "god"; Japanese 酒 alone, which is also the surname 酒井, or デモ,
which folds to the conjunction でも) are deliberately left out.

Matching conventions, shared by the lexicons and actors' blocked terms:

- Text and terms are folded alike: NFKC (full/half-width), casefold, katakana
  to hiragana (so キル, ｷﾙ and きる are one term), runs of whitespace to one space.
- A term containing Japanese (kana or kanji) matches anywhere as a substring.
- Any other term matches whole words only: "ass" does not match "class".
  A trailing "*" makes it a stem that matches words beginning with it:
  "kill*" matches "kill", "killed" and "killing", never "skill".
- Actor terms are checked first; within each, the earliest match in the text wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from voicehub.errors import InvalidInput

MAX_BLOCKED_TERMS = 100
MAX_TERM_CHARS = 50
STEM = "*"

# Scripts written without spaces between words: terms in them match as substrings.
_JAPANESE_RANGES = (
    "\u3005-\u3007"  # 々 〆 〇
    "\u3040-\u30ff"  # hiragana, katakana, ー
    "\u31f0-\u31ff"  # katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B–G
)
_JAPANESE = re.compile(f"[{_JAPANESE_RANGES}]")
# A letter or digit of a spaced script; Japanese next to a Latin term is a word boundary.
_WORD_CHAR = f"[^\\W_{_JAPANESE_RANGES}]"
_WHITESPACE = re.compile(r"\s+")
# ァ..ヶ and ヽヾ sit 0x60 above their hiragana.
_KATAKANA_TO_HIRAGANA = {c: c - 0x60 for c in (*range(0x30A1, 0x30F7), 0x30FD, 0x30FE)}


@dataclass(frozen=True)
class ContentCategory:
    """A kind of content an actor may exclude, with the terms that screen for it."""

    id: str
    label_en: str
    label_ja: str
    description: str
    terms_en: tuple[str, ...]
    terms_ja: tuple[str, ...]


@dataclass(frozen=True)
class ContentMatch:
    """Why a line is refused: the actor's own term, or a term of an excluded category."""

    kind: Literal["category", "term"]
    category: str | None
    term: str
    label: str


_CATEGORIES = (
    ContentCategory(
        id="sexual",
        label_en="Sexual content",
        label_ja="性的表現",
        description="Sex acts, nudity, pornography, sexual violence and sex work.",
        terms_en=(
            "sex",
            "sexy",
            "sexual*",
            "sexting",
            "porn*",
            "nude",
            "nudes",
            "nudity",
            "naked",
            "orgasm*",
            "erotic*",
            "masturbat*",
            "genital*",
            "penis",
            "vagina*",
            "blowjob*",
            "handjob*",
            "intercourse",
            "fetish*",
            "hentai",
            "horny",
            "arousal",
            "striptease",
            "stripper*",
            "erection*",
            "prostitut*",
            "hooker*",
            "brothel*",
            "rape",
            "raped",
            "rapes",
            "raping",
            "rapist*",
            "molest*",
        ),
        terms_ja=(
            "セックス",
            "エッチ",
            "エロい",
            "エロ本",
            "エロ動画",
            "エロ漫画",
            "全裸",
            "半裸",
            "裸体",
            "ヌード",
            "性行為",
            "性交",
            "性器",
            "陰部",
            "性的暴行",
            "ポルノ",
            "アダルトビデオ",
            "売春",
            "援交",
            "援助交際",
            "風俗店",
            "性風俗",
            "痴漢",
            "強姦",
            "レイプ",
            "乳首",
            "おっぱい",
            "自慰",
            "オナニー",
            "射精",
            "勃起",
            "猥褻",
            "わいせつ",
            "淫乱",
            "中出し",
            "フェラチオ",
            "喘ぎ声",
        ),
    ),
    ContentCategory(
        id="violence",
        label_en="Violence",
        label_ja="暴力",
        description="Killing, torture, gore and threats of bodily harm.",
        # "kill" is spelled out, not a stem: "kill*" would catch Killua and killjoy.
        terms_en=(
            "kill",
            "kills",
            "killed",
            "killer",
            "killers",
            "killing",
            "killings",
            "murder*",
            "slaughter*",
            "massacre*",
            "stab",
            "stabs",
            "stabbed",
            "stabbing*",
            "torture*",
            "behead*",
            "decapitat*",
            "dismember*",
            "mutilat*",
            "strangl*",
            "bludgeon*",
            "bloodbath",
            "bloodshed",
            "gore",
            "gory",
            "maim*",
            "assassinat*",
            "homicid*",
            "gunned down",
            "shot dead",
            "blow your brains out",
            "slit your throat",
            "beat you to death",
            "beaten to death",
        ),
        terms_ja=(
            "殺す",
            "殺し",
            "殺せ",
            "殺され",
            "殺さ",
            "殺人",
            "殺害",
            "殺戮",
            "惨殺",
            "虐殺",
            "刺殺",
            "射殺",
            "銃殺",
            "絞殺",
            "撲殺",
            "ぶっ殺",
            "ぶち殺",
            "殴り殺",
            "刺し殺",
            "滅多刺し",
            "ナイフで刺",
            "首を絞め",
            "首をはね",
            "斬首",
            "八つ裂き",
            "血まみれ",
            "血だらけ",
            "血祭り",
            "拷問",
            "惨劇",
            "暴行",
            "処刑",
            "死ね",
        ),
    ),
    ContentCategory(
        id="hate",
        label_en="Hate speech",
        label_ja="ヘイト・差別",
        description="Slurs and attacks on people for their race, origin, religion, sexuality or disability.",
        terms_en=(
            "white power",
            "white supremac*",
            "master race",
            "inferior race*",
            "racial purity",
            "ethnic cleansing",
            "race traitor*",
            "subhuman*",
            "untermensch*",
            "sieg heil",
            "heil hitler",
            "neo-nazi*",
            "kkk",
            "ku klux klan",
            "go back to your country",
            "nigger*",
            "kike*",
            "faggot*",
            "fag",
            "fags",
            "tranny",
            "trannies",
            "wetback*",
            "raghead*",
            "towelhead*",
            "gook*",
            "spic",
            "spics",
            "retard",
            "retards",
            "retarded",
        ),
        terms_ja=(
            "支那人",
            "シナ人",
            "チョン公",
            "不逞鮮人",
            "三国人",
            "部落民",
            "穢多",
            "劣等民族",
            "劣等人種",
            "下等民族",
            "民族浄化",
            "人種浄化",
            "白人至上主義",
            "朝鮮に帰れ",
            "在日は出ていけ",
            "非国民",
            "キチガイ",
            "基地外",
            "池沼",
            "ホモ野郎",
            "オカマ野郎",
            "毛唐",
            "黒んぼ",
            "ジャップ",
        ),
    ),
    ContentCategory(
        id="politics",
        label_en="Politics",
        label_ja="政治",
        description="Elections, parties, politicians and political causes.",
        terms_en=(
            "election*",
            "electoral",
            "vote",
            "votes",
            "voted",
            "voting",
            "voter*",
            "ballot*",
            "politic*",
            "parliament*",
            "congress*",
            "senate",
            "senator*",
            "prime minister*",
            "democracy",
            "democrat*",
            "republican*",
            "legislat*",
            "referendum*",
            "impeach*",
            "propaganda",
            "communis*",
            "socialis*",
            "fascis*",
            "left-wing",
            "right-wing",
            "partisan*",
            "geopolitic*",
            "brexit",
        ),
        terms_ja=(
            "選挙",
            "知事選",
            "投票",
            "政治",
            "政党",
            "政権",
            "国政",
            "与党",
            "野党",
            "党首",
            "国会",
            "首相",
            "総理大臣",
            "内閣",
            "自民党",
            "立憲民主党",
            "共産党",
            "公明党",
            "維新の会",
            "議員",
            "大統領",
            "都知事",
            "憲法改正",
            "改憲",
            "護憲",
            "右翼団体",
            "左翼団体",
            "極右",
            "極左",
            "ネトウヨ",
            "パヨク",
            "民主主義",
            "安保",
            "靖国",
        ),
    ),
    ContentCategory(
        id="religion",
        label_en="Religion",
        label_ja="宗教",
        description="Faiths, their scriptures, figures, places and practices.",
        terms_en=(
            "religio*",
            "jesus",
            "christ",
            "christian*",
            "church",
            "churches",
            "bible*",
            "biblical",
            "gospel*",
            "islam*",
            "muslim*",
            "quran",
            "koran",
            "allah",
            "mosque*",
            "buddha*",
            "buddhis*",
            "hindu*",
            "judaism",
            "synagogue*",
            "rabbi",
            "rabbis",
            "pope",
            "popes",
            "priest*",
            "prophet*",
            "scripture*",
            "sermon*",
            "baptis*",
            "crucifi*",
            "satan*",
            "messiah*",
            "pray",
            "prays",
            "prayed",
            "praying",
            "prayer*",
            "amen",
            "hallelujah",
            "worship*",
        ),
        terms_ja=(
            "宗教",
            "信仰",
            "教会",
            "聖書",
            "キリスト",
            "仏教",
            "仏陀",
            "ブッダ",
            "お経",
            "念仏",
            "南無阿弥陀仏",
            "寺院",
            "礼拝",
            "祈りを捧げ",
            "イスラム",
            "ムスリム",
            "コーラン",
            "アッラー",
            "礼拝堂",
            "ユダヤ教",
            "ヒンドゥー",
            "神道",
            "神社",
            "神様",
            "創価学会",
            "統一教会",
            "布教",
            "洗礼",
            "牧師",
            "神父",
            "僧侶",
            "聖職者",
            "異教徒",
            "十字架",
            "賛美歌",
            "讃美歌",
        ),
    ),
    ContentCategory(
        id="drugs",
        label_en="Drugs",
        label_ja="薬物",
        description="Illegal and recreational drugs, their use and trade.",
        terms_en=(
            "drug",
            "drugs",
            "drugged",
            "cocaine",
            "heroin",
            "meth",
            "methamphetamine*",
            "amphetamine*",
            "marijuana",
            "cannabis",
            "smoke weed",
            "smoking weed",
            "mdma",
            "lsd",
            "ketamine",
            "fentanyl",
            "morphine",
            "opium",
            "opioid*",
            "opiate*",
            "narcotic*",
            "overdos*",
            "crackhead*",
            "junkie*",
            "psychedelic*",
            "shrooms",
            "hallucinogen*",
            "getting high",
        ),
        terms_ja=(
            "麻薬",
            "覚醒剤",
            "覚せい剤",
            "大麻",
            "乾燥大麻",
            "マリファナ",
            "コカイン",
            "ヘロイン",
            "アヘン",
            "阿片",
            "ケタミン",
            "危険ドラッグ",
            "脱法ドラッグ",
            "脱法ハーブ",
            "合成麻薬",
            "幻覚剤",
            "向精神薬",
            "薬物",
            "密売",
            "売人",
            "ヤク中",
            "ラリって",
            "オーバードーズ",
        ),
    ),
    ContentCategory(
        id="alcohol_tobacco",
        label_en="Alcohol and tobacco",
        label_ja="酒・たばこ",
        description="Drinking, drunkenness, alcoholic drinks, smoking and vaping.",
        terms_en=(
            "alcohol*",
            "beer",
            "beers",
            "wine",
            "wines",
            "whiskey",
            "whisky",
            "vodka",
            "tequila",
            "rum",
            "brandy",
            "champagne",
            "cocktail*",
            "liquor*",
            "booze*",
            "drunk*",
            "tipsy",
            "hangover*",
            "cigarette*",
            "cigar",
            "cigars",
            "tobacco",
            "nicotine",
            "smoking",
            "smoker*",
            "vape*",
            "vaping",
            "hookah",
        ),
        terms_ja=(
            "お酒",
            "酒を飲",
            "日本酒",
            "居酒屋",
            "酒場",
            "酒盛り",
            "飲酒",
            "晩酌",
            "泥酔",
            "酔っ払",
            "酔っぱら",
            "二日酔い",
            "ビール",
            "ワインを",
            "赤ワイン",
            "白ワイン",
            "ウイスキー",
            "ウィスキー",
            "ウォッカ",
            "テキーラ",
            "シャンパン",
            "焼酎",
            "泡盛",
            "熱燗",
            "チューハイ",
            "ハイボール",
            "カクテル",
            "タバコ",
            "煙草",
            "葉巻",
            "喫煙",
            "電子タバコ",
            "ニコチン",
            "吸い殻",
        ),
    ),
    ContentCategory(
        id="gambling",
        label_en="Gambling",
        label_ja="ギャンブル",
        description="Betting, casinos, lotteries and games of chance played for money.",
        terms_en=(
            "gambl*",
            "casino*",
            "betting",
            "place a bet",
            "placed a bet",
            "wager*",
            "poker",
            "blackjack",
            "roulette",
            "baccarat",
            "craps",
            "slot machine*",
            "jackpot*",
            "lottery",
            "lotteries",
            "lotto",
            "scratchcard*",
            "scratch card*",
            "bookie*",
            "bookmaker*",
            "sportsbook*",
            "pachinko",
            "high roller*",
            "sweepstake*",
            "parlay*",
        ),
        terms_ja=(
            "ギャンブル",
            "賭博",
            "賭け事",
            "賭け金",
            "賭けに勝",
            "賭けに負",
            "賭け麻雀",
            "博打",
            "博奕",
            "バクチ",
            "カジノ",
            "パチンコ",
            "パチスロ",
            "スロットマシン",
            "ルーレット",
            "ポーカー",
            "競馬",
            "競輪",
            "競艇",
            "馬券",
            "舟券",
            "車券",
            "宝くじ",
            "丁半",
            "雀荘",
            "胴元",
            "オッズ",
        ),
    ),
    ContentCategory(
        id="profanity",
        label_en="Profanity",
        label_ja="卑語・罵倒",
        description="Swearing, obscenities and crude insults.",
        terms_en=(
            "fuck*",
            "motherfuck*",
            "shit*",
            "bullshit*",
            "damn",
            "damned",
            "dammit",
            "goddamn*",
            "bitch*",
            "bastard*",
            "ass",
            "asses",
            "asshole*",
            "jackass*",
            "arse",
            "arsehole*",
            "crap",
            "crappy",
            "dick",
            "dickhead*",
            "cunt*",
            "piss",
            "pissed",
            "pissing",
            "wanker*",
            "twat*",
            "bollocks",
            "bloody hell",
            "slut*",
            "whore*",
            "douche*",
        ),
        terms_ja=(
            "クソが",
            "クソ野郎",
            "くそったれ",
            "クソババア",
            "クソジジイ",
            "クソ食らえ",
            "くそくらえ",
            "糞",
            "畜生",
            "ちくしょう",
            "ちきしょう",
            "馬鹿野郎",
            "バカ野郎",
            "ばかやろう",
            "このカス",
            "このボケ",
            "このアホ",
            "くたばれ",
            "腐れ外道",
            "ざけんな",
            "ファック",
            "ガッデム",
            "このビッチ",
            "クソビッチ",
            "ケツの穴",
        ),
    ),
)

CONTENT_CATEGORIES: dict[str, ContentCategory] = {c.id: c for c in _CATEGORIES}


def check_categories(ids: Iterable[str]) -> list[str]:
    """The category ids, deduplicated in order, or `InvalidInput` naming the unknown ones."""
    seen = list(dict.fromkeys(ids))
    unknown = [i for i in seen if i not in CONTENT_CATEGORIES]
    if unknown:
        raise InvalidInput(
            f"Unknown content categories: {', '.join(unknown)}. "
            f"Valid categories are: {', '.join(CONTENT_CATEGORIES)}.",
            fields=["excluded_categories"],
        )
    return seen


def normalize_terms(terms: Iterable[str]) -> list[str]:
    """An actor's blocked terms as stored: NFKC, trimmed, non-empty, distinct, within limits.

    Each keeps the actor's spelling (so a refusal quotes it), and duplicates are
    judged by how terms match, so "Kill" and "kill" are one term.
    """
    normalized: dict[tuple[str, bool], str] = {}
    for raw in terms:
        term = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", raw)).strip()
        stem = term.endswith(STEM)
        if stem:
            term = term.rstrip(STEM).rstrip()
        if not term:
            continue
        if STEM in term:
            raise InvalidInput(
                f'"{raw}": "*" may only end a term, to match words that begin with it.',
                fields=["blocked_terms"],
            )
        if stem:
            term += STEM
        if len(term) > MAX_TERM_CHARS:
            raise InvalidInput(
                f'"{term[:20]}…" is longer than {MAX_TERM_CHARS} characters.',
                fields=["blocked_terms"],
            )
        normalized.setdefault(_term_key(term), term)
    if len(normalized) > MAX_BLOCKED_TERMS:
        raise InvalidInput(
            f"An actor may block at most {MAX_BLOCKED_TERMS} terms, not {len(normalized)}.",
            fields=["blocked_terms"],
        )
    return list(normalized.values())


def screen(
    text: str, *, categories: Sequence[str], blocked_terms: Sequence[str]
) -> ContentMatch | None:
    """The first content in `text` the actor excluded, or None when the line is clean.

    The actor's own terms are checked before categories; within each, the match
    that starts earliest in the text wins, then the longest, then the first listed.
    """
    wanted = set(check_categories(categories))
    folded = fold(text)
    term = _earliest(folded, blocked_terms)
    if term is not None:
        return ContentMatch(kind="term", category=None, term=term, label=term)
    best: tuple[tuple[int, int, int], ContentMatch] | None = None
    for order, category in enumerate(CONTENT_CATEGORIES.values()):
        if category.id not in wanted:
            continue
        for index, lexicon_term in enumerate((*category.terms_en, *category.terms_ja)):
            span = _find(folded, lexicon_term)
            if span is None:
                continue
            rank = (span[0], -span[1], order * 1000 + index)
            if best is None or rank < best[0]:
                match = ContentMatch(
                    kind="category",
                    category=category.id,
                    term=lexicon_term,
                    label=category.label_en,
                )
                best = (rank, match)
    return None if best is None else best[1]


def fold(text: str) -> str:
    """Text as it is matched: NFKC, casefolded, katakana as hiragana, whitespace as one space."""
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    return _WHITESPACE.sub(" ", text.translate(_KATAKANA_TO_HIRAGANA))


def _earliest(folded: str, terms: Sequence[str]) -> str | None:
    best: tuple[tuple[int, int, int], str] | None = None
    for index, term in enumerate(terms):
        span = _find(folded, term)
        if span is not None:
            rank = (span[0], -span[1], index)
            if best is None or rank < best[0]:
                best = (rank, term)
    return None if best is None else best[1]


def _find(folded: str, term: str) -> tuple[int, int] | None:
    """Start and length of the first match of `term` in folded text."""
    pattern = _pattern(term)
    if pattern is None:
        return None
    found = pattern.search(folded)
    return None if found is None else (found.start(), found.end() - found.start())


def _term_key(term: str) -> tuple[str, bool]:
    stem = term.endswith(STEM)
    return fold(term.rstrip(STEM) if stem else term).strip(), stem


@lru_cache(maxsize=4096)
def _pattern(term: str) -> re.Pattern[str] | None:
    """The compiled matcher for a term, or None for a term that folds to nothing."""
    body, stem = _term_key(term)
    if not body:
        return None
    source = re.escape(body)
    if _JAPANESE.search(body):
        return re.compile(source)
    if re.match(_WORD_CHAR, body[0]):
        source = f"(?<!{_WORD_CHAR}){source}"
    if not stem and re.match(_WORD_CHAR, body[-1]):
        source = f"{source}(?!{_WORD_CHAR})"
    return re.compile(source)
