"""The rules file: context windows, negation scope, operator extension and versioning."""

from __future__ import annotations

import pytest

from bot.detection import load_detector
from bot.errors import ConfigError


@pytest.fixture(scope="module")
def det():
    return load_detector()


@pytest.mark.parametrize("text,label", [
    ("Политзаключённый не был освобождён, сообщила жена.", "none"),  # negation before
    ("Лукашенко не помиловал никого к празднику.", "none"),
    ("Was he released? Nobody knows.", "none"),  # question
    ("Его освободили от должности министра.", "none"),  # dismissal window after the verb
    ("Осуждённого министра освободили, а потом назначили послом.", "release"),  # no "от должности": a release
    ("Министра освободили, а потом назначили послом.", "none"),  # a bare release verb needs custody context
    ("Она вышла на свободу. Её мужа не освободили.", "release"),  # negation does not cross sentences
    ("Трамп помиловал 10 человек.", "none"),  # foreign actor in the sentence
    ("Лукашенко по просьбе Трампа помиловал 10 человек.", "pardon"),  # Belarusian actor cancels it
    ("В Литве освобождён белорусский дальнобойщик.", "none"),  # custody abroad
    ("Помилованных 14 человек вывезли в Литву.", "transfer"),
    ("Рыгор Кастусёў вышаў на свабоду ў 2023 годзе.", "none"),  # background year
    ("Лукашенко может помиловать ещё 20 человек.", "none"),
    ("Лукашэнка памілаваў бы ўсіх, калі б яны папрасілі.", "none"),
    # Look-alikes are scoped to the trigger they govern, not the whole sentence or post.
    ("В честь годовщины освобождения Минска Лукашенко помиловал 20 человек.", "pardon"),
    ("Годовщина освобождения Витебска: город был освобождён в 1944 году.", "none"),
    ("Помилованы 30 человек, которые пообещали больше не нарушать закон.", "pardon"),
    ("Ровно год назад Лукашенко помиловал Сергея Тихановского.", "none"),
    ("Закон об амнистии к годовщине освобождения Беларуси подписан.", "amnesty"),
    ("Таможня освободила из-под ареста 37 грузовиков.", "none"),
    ("Активиста выпустили из СИЗО и отвезли домой в машине адвоката.", "release"),
    ("Указом Президента освобождены: Петров — от должности министра, Сидоров — от должности посла.", "none"),
    ("Резиденты СЭЗ освобождены на пять лет от налога на прибыль.", "none"),
    ("Освобождён политзаключённый, осуждённый за уклонение от уплаты налогов.", "release"),
    ("Мадуро помиловал 20 оппозиционеров.", "none"),
    ("Kazakhstan's president pardoned 300 convicts.", "none"),
    ("The company released version 2.0 of its app.", "none"),
    ("Из-за жары сотрудников отпустили домой пораньше.", "none"),
    ("The names of the victims were released by police.", "none"),
    ("Суд отпустил обвиняемого под залог.", "release"),
    ("Belarus set to free more prisoners, envoy says", "none"),
    ("Three activists were set free on Monday.", "release"),
    ("Belarus frees 14 political prisoners, including opposition leader", "release"),
    # A bare release verb needs custody, a named person or a release idiom; rescues never count.
    ("Освобождена Мария Колесникова!", "release"),
    ("В Гомеле спасатели освободили Ивана Петрова из лифта.", "none"),
    ("Firefighters freed John Smith from his car.", "none"),
    ("Здание на улице Ленина освобождено.", "none"),
    ("За сентябрь на свободу вышли 46 политзаключённых.", "none"),
    ("Жапаров помиловал 30 осуждённых. Часть из них освобождена.", "none"),
    ("Под подписку о невыезде выпустили блогера.", "release"),
    ("He is free now. It is unclear whether he was paroled or pardoned.", "release"),
    # a trigger word quoted on its own is mentioned, not used
    ("Каждый раз, когда по телевизору говорят «помиловал», я жду звонка.", "none"),
    ("Лукашенко помиловал «экстремистов» из списка.", "pardon"),
])
def test_context(det, text, label):
    assert det.detect(text).label == label


def test_precedence_exchange_over_pardon(det):
    text = "Лукашенко помиловал гражданина Германии, и его обменяли в Анкаре на белорусов."
    assert det.detect(text).label == "exchange"


def test_operator_category_from_a_rules_file(tmp_path):
    rules = tmp_path / "ops.toml"
    rules.write_text(
        '[[trigger]]\nid = "arrest.ru"\nlabel = "arrest"\nweight = 0.8\n'
        'patterns = ["задержал*|задержан*|арестован*", "detained|arrested"]\n'
        '[[block]]\nid = "arrest.not"\nlabels = ["arrest"]\nscope = "before:2"\npatterns = ["не"]\n',
        encoding="utf-8")
    det = load_detector(rules)
    only_arrest = det.detect("В Гродно задержаны трое подписчиков.")
    assert only_arrest.label == "arrest" and only_arrest.extra_labels == ("arrest",)
    both = det.detect("Задержан блогер. Помилованы 12 человек.")
    assert both.label == "pardon" and both.extra_labels == ("arrest",)
    assert det.detect("Его не задержали.").label == "none"
    assert det.version != load_detector().version  # a rule change changes the version


def test_operator_file_can_disable_and_extend(tmp_path):
    rules = tmp_path / "ops.toml"
    rules.write_text('disable = ["block.foreign_actor", "block.foreign_pardon_post"]\n[lexicon_add]\nfirst_name = ["зьміцер"]\n', encoding="utf-8")
    assert load_detector(rules).detect("Трамп помиловал 10 человек.").label == "pardon"


def test_block_requires_limits_where_a_block_applies(tmp_path):
    rules = tmp_path / "ops.toml"
    rules.write_text(
        '[[trigger]]\nid = "arrest.ru"\nlabel = "arrest"\npatterns = ["задержан*"]\n'
        '[[block]]\nid = "arrest.rumour"\nlabels = ["arrest"]\nscope = "post"\npatterns = ["неправда"]\n'
        'requires = [{patterns = ["пишут"], scope = "sentence"}]\n', encoding="utf-8")
    det = load_detector(rules)
    assert det.detect("Каналы пишут, что задержан блогер. Это неправда.").label == "none"
    # the same denial elsewhere in the post does not veto a plainly reported event
    assert det.detect("Задержан блогер. Слова чиновника — неправда.").label == "arrest"


@pytest.mark.parametrize("body", [
    "[[trigger]\n",  # TOML syntax
    '[[trigger]]\nid = "x"\nlabel = "y"\npatterns = ["@nolex"]\n',  # unknown lexicon
    '[[block]]\nid = "b"\nscope = "nearby"\npatterns = ["x"]\n',  # bad scope
    '[[trigger]]\nlabel = "y"\npatterns = ["x"]\n',  # no id
])
def test_bad_rules_file_is_a_config_error(tmp_path, body):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_detector(path)


def test_missing_rules_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read rules file"):
        load_detector(tmp_path / "nope.toml")


def test_version_is_stable_for_same_rules():
    assert load_detector().version == load_detector().version
