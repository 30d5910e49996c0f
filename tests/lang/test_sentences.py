"""Sentence splitting on hard cases, language by language (ROUGE-Lsum and Lead-k depend on it).

Each row is (lang, text, expected sentences). The cases are the ones a rule of thumb such as
". followed by a capital" gets wrong: abbreviations and titles, initials, decimal numbers,
German ordinals and dates, quotes around a sentence end, Japanese 「」 with 。 inside,
ellipses, and lowercase sentence starts.
"""

from importlib.metadata import version

import pytest

from babelsum.lang.sentences import join_sentences, segmenter, segmenter_info, split_sentences

HARD_CASES = [
    # English
    ("en", "Dr. Smith came. He left.", ["Dr. Smith came.", "He left."]),
    (
        "en",
        "He met J. R. R. Tolkien! Was it 1950? Yes.",
        ["He met J. R. R. Tolkien!", "Was it 1950?", "Yes."],
    ),
    (
        "en",
        "Mr. and Mrs. Smith live in the U.S. They like it.",
        ["Mr. and Mrs. Smith live in the U.S.", "They like it."],
    ),
    (
        "en",
        "He bought pears, apples, etc. and left. Then he slept.",
        ["He bought pears, apples, etc. and left.", "Then he slept."],
    ),
    ("en", "See e.g. the report. It is long.", ["See e.g. the report.", "It is long."]),
    (
        "en",
        "He left at 5 p.m. on Monday. She stayed.",
        ["He left at 5 p.m. on Monday.", "She stayed."],
    ),
    (
        "en",
        "The rate rose to 3.5 percent. Prices fell.",
        ["The rate rose to 3.5 percent.", "Prices fell."],
    ),
    ("en", 'He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("en", "“Stop!” he said. “Why?” she asked.", ["“Stop!” he said.", "“Why?” she asked."]),
    ("en", "He waited... Then he left.", ["He waited...", "Then he left."]),
    ("en", "He waited… Then he left.", ["He waited…", "Then he left."]),
    ("en", "She said “wait…” Then she left.", ["She said “wait…”", "Then she left."]),
    # English may begin a sentence in lowercase
    (
        "en",
        "Sales of the iPhone rose. eBay fell sharply.",
        ["Sales of the iPhone rose.", "eBay fell sharply."],
    ),
    ("en", "1. First item\n2. Second item", ["1. First item", "2. Second item"]),
    # French
    (
        "fr",
        "M. Dupont dit « Bonjour. » Puis il part.",
        ["M. Dupont dit « Bonjour. »", "Puis il part."],
    ),
    (
        "fr",
        "Mme Martin est arrivée. Elle a vu le Dr. Durand.",
        ["Mme Martin est arrivée.", "Elle a vu le Dr. Durand."],
    ),
    (
        "fr",
        "Il a acheté des poires, etc. et il est parti. Il dort.",
        ["Il a acheté des poires, etc. et il est parti.", "Il dort."],
    ),
    ("fr", "Le taux est de 3,5 %. Il a augmenté.", ["Le taux est de 3,5 %.", "Il a augmenté."]),
    ("fr", "Est-ce vrai ? Oui ! C'est vrai.", ["Est-ce vrai ?", "Oui !", "C'est vrai."]),
    ("fr", "Il attendait… Puis il est parti.", ["Il attendait…", "Puis il est parti."]),
    ("fr", "Il a dit : « Non… » Puis il part.", ["Il a dit : « Non… »", "Puis il part."]),
    (
        "fr",
        "Né en 52 av. J.-C. à Rome. Il est mort jeune.",
        ["Né en 52 av. J.-C. à Rome.", "Il est mort jeune."],
    ),
    (
        "fr",
        "J.-C. Decaux est né en 1937. Il est mort en 2016.",
        ["J.-C. Decaux est né en 1937.", "Il est mort en 2016."],
    ),
    # French sentences begin with a capital: lowercase continues (an abbreviation, an incise)
    (
        "fr",
        "Le XIXe s. fut riche. Il y a eu la guerre.",
        ["Le XIXe s. fut riche.", "Il y a eu la guerre."],
    ),
    ("fr", "Vraiment ? demanda-t-il. Oui.", ["Vraiment ? demanda-t-il.", "Oui."]),
    # German
    (
        "de",
        "Das ist z. B. gut. Es hat ca. 500 Einwohner.",
        ["Das ist z. B. gut.", "Es hat ca. 500 Einwohner."],
    ),
    (
        "de",
        "Die Einheit kam am 3. Oktober 1990. Das war ein Mittwoch.",
        ["Die Einheit kam am 3. Oktober 1990.", "Das war ein Mittwoch."],
    ),
    (
        "de",
        "Die Kirche entstand im 19. Jh. aus Stein. Sie ist groß.",
        ["Die Kirche entstand im 19. Jh. aus Stein.", "Sie ist groß."],
    ),
    (
        "de",
        "Im 19. Jahrhundert wuchs die Stadt. Sie hat heute 500.000 Einwohner.",
        ["Im 19. Jahrhundert wuchs die Stadt.", "Sie hat heute 500.000 Einwohner."],
    ),
    (
        "de",
        "Er wurde am 1. Januar geboren. Er war der 2. Sohn.",
        ["Er wurde am 1. Januar geboren.", "Er war der 2. Sohn."],
    ),
    (
        "de",
        "Friedrich II. war König. Er starb 1786.",
        ["Friedrich II. war König.", "Er starb 1786."],
    ),
    (
        "de",
        "Dr. Müller kam. Er sprach mit Prof. Schmidt.",
        ["Dr. Müller kam.", "Er sprach mit Prof. Schmidt."],
    ),
    (
        "de",
        "Der Wert liegt bei 3,5 Prozent. Er steigt.",
        ["Der Wert liegt bei 3,5 Prozent.", "Er steigt."],
    ),
    (
        "de",
        "Das Dorf (ca. 300 Einw.) liegt im Tal. Es ist alt.",
        ["Das Dorf (ca. 300 Einw.) liegt im Tal.", "Es ist alt."],
    ),
    ("de", "Er sagte: „Ich komme.“ Dann ging er.", ["Er sagte: „Ich komme.“", "Dann ging er."]),
    # German sentences begin with a capital: lowercase continues
    (
        "de",
        "Die Stadt liegt am Rhein. die Altstadt ist alt.",
        ["Die Stadt liegt am Rhein. die Altstadt ist alt."],
    ),
    # Japanese: no spaces, 。！？ end sentences, but not inside a quotation that goes on
    (
        "ja",
        "リヨンはローヌ川沿いの都市である。人口は約50万人である。",
        ["リヨンはローヌ川沿いの都市である。", "人口は約50万人である。"],
    ),
    (
        "ja",
        "彼は「明日は雨だ。」と述べた。私は傘を持った。",
        ["彼は「明日は雨だ。」と述べた。", "私は傘を持った。"],
    ),
    ("ja", "彼は「雨だ。傘を持て。」と言った。", ["彼は「雨だ。傘を持て。」と言った。"]),
    (
        "ja",
        "「本当ですか？」と彼は聞いた。私は答えた。",
        ["「本当ですか？」と彼は聞いた。", "私は答えた。"],
    ),
    ("ja", "「モーニング娘。」は人気だ。次の文。", ["「モーニング娘。」は人気だ。", "次の文。"]),
    ("ja", "彼は言った。「行こう。」", ["彼は言った。", "「行こう。」"]),
    ("ja", "本当か？はい！そうです。", ["本当か？", "はい！", "そうです。"]),
    ("ja", "人口は3.5万人である。町は古い。", ["人口は3.5万人である。", "町は古い。"]),
    ("ja", "彼は言った。……そして去った。", ["彼は言った。", "……そして去った。"]),
    # Spanish
    (
        "es",
        "La Sra. García llegó ayer. Habló con el Dr. Pérez.",
        ["La Sra. García llegó ayer.", "Habló con el Dr. Pérez."],
    ),
    (
        "es",
        "El Sr. López vive en EE. UU. desde 1990. Le gusta.",
        ["El Sr. López vive en EE. UU. desde 1990.", "Le gusta."],
    ),
    ("es", "¿Es verdad? ¡Sí! Es verdad.", ["¿Es verdad?", "¡Sí!", "Es verdad."]),
    ("es", "«¿Vienes?», preguntó él. Sí.", ["«¿Vienes?», preguntó él.", "Sí."]),
    ("es", "La tasa es del 3,5 %. Ha subido.", ["La tasa es del 3,5 %.", "Ha subido."]),
    ("es", "Dña. Ana llegó. Se fue.", ["Dña. Ana llegó.", "Se fue."]),
    # Italian
    (
        "it",
        "Il sig. Rossi è arrivato. Ha parlato con il dott. Bianchi.",
        ["Il sig. Rossi è arrivato.", "Ha parlato con il dott. Bianchi."],
    ),
    ("it", "La sig.ra Rossi è qui. Lei parla.", ["La sig.ra Rossi è qui.", "Lei parla."]),
    (
        "it",
        "Il prof. Rossi è nato nel 1950. È morto nel 2000.",
        ["Il prof. Rossi è nato nel 1950.", "È morto nel 2000."],
    ),
    ("it", "Il tasso è del 3,5%. È salito.", ["Il tasso è del 3,5%.", "È salito."]),
    # scripts without capitals, and languages sentencex has no rules for (English rules)
    (
        "zh",
        "他说：“明天下雨。”我带了伞。今天很好！",
        ["他说：“明天下雨。”", "我带了伞。", "今天很好！"],
    ),
    ("hi", "यह एक वाक्य है। यह दूसरा वाक्य है।", ["यह एक वाक्य है।", "यह दूसरा वाक्य है।"]),
    ("ar", "هذه جملة. هذه جملة أخرى؟ نعم.", ["هذه جملة.", "هذه جملة أخرى؟", "نعم."]),
    (
        "ko",
        "이것은 문장이다. 이것은 또 다른 문장이다.",
        ["이것은 문장이다.", "이것은 또 다른 문장이다."],
    ),
    (
        "pt",
        "O Sr. Silva chegou. Ele falou com a Dra. Souza.",
        ["O Sr. Silva chegou.", "Ele falou com a Dra. Souza."],
    ),
    ("xx", "Dr. Smith came. He left.", ["Dr. Smith came.", "He left."]),
]


@pytest.mark.parametrize(("lang", "text", "expected"), HARD_CASES)
def test_hard_cases(lang, text, expected):
    assert split_sentences(text, lang) == expected


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_line_breaks_always_end_a_sentence(lang):
    assert split_sentences("A heading\nThe text. More\n\n  \nLast", lang) == [
        "A heading",
        "The text.",
        "More",
        "Last",
    ]
    assert split_sentences("", lang) == []


def test_join_is_the_inverse_for_japanese_and_spaces_elsewhere():
    ja = "彼は「明日は雨だ。」と述べた。私は傘を持った。"
    assert join_sentences(split_sentences(ja, "ja"), "ja") == ja
    assert join_sentences(["Dr. Smith came.", "He left."], "en") == "Dr. Smith came. He left."


def test_one_segmenter_per_language():
    assert segmenter("de") is segmenter("de")
    assert segmenter("de") is not segmenter("fr")


def test_segmenter_info_names_the_installed_segmenter():
    info = segmenter_info()
    assert info["name"] == "sentencex"
    assert info["version"] == version("sentencex")
