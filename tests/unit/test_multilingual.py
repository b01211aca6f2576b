"""Chinese text end to end: retrieval over a Chinese folder, routing to a Chinese domain, and the
reference judge on a Chinese reference. The facts are made up, so only the documents know them."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from llmnet.experts import DomainClassifier, KnowledgeBase, split_passages
from llmnet.experts.knowledge import MAX_WORDS
from llmnet.experts.tokens import count_words
from llmnet.roles.judge import ReferenceJudge, tokens
from tests.unit.test_corpus import write

TEA = """# 月光茶

月光茶是青岚岛特有的一种茶叶，只在满月之夜采摘。青岚岛的茶农认为，月光能让茶叶带有淡淡的薄荷香气。

## 冲泡方法

冲泡月光茶的最佳水温是七十二摄氏度，浸泡时间为三分钟。水温过高会使茶汤发苦。每一克茶叶需要五十毫升的水。

## 历史

月光茶最早由茶师林默于一八三四年培育成功。当时青岚岛只有十二户人家种植这种茶。
"""
BRIDGE = """# 琉璃桥

琉璃桥横跨赤水河，全长四百八十米，是用一种名为“星砂玻璃”的材料建造的。桥面可以同时承载两千名行人。

## 建造

琉璃桥的建造用了九年时间，总工程师是苏远帆。建桥时共使用了三万块星砂玻璃砖，每块重十八公斤。
"""
BIRDS = """# 回声鸟

回声鸟是一种生活在雾松林中的小型鸟类，羽毛呈银灰色。它能够完整地模仿人类的口哨声。

## 习性

回声鸟每年三月迁徙到南方的温泉谷，一窝通常产四枚蓝色的蛋。成年回声鸟的寿命大约为十四年。
"""
CHINESE_DOCUMENTS = {"lumen_tea.md": TEA, "glass_bridge.md": BRIDGE, "echo_birds.md": BIRDS}

ZORVATH = {
    "zorvath_ore.md": "# Zorvath ore\n\nZorvath ore is a violet crystal mined in the Kessel valley. Miners cut "
    "it with cold saws at minus twelve degrees, because warm blades crack the crystal. One tonne of ore gives "
    "forty grams of zorvath dust.\n",
    "kessel_mines.md": "# Kessel mines\n\nThe Kessel mines have nine shafts. The deepest shaft reaches 1,340 "
    "metres. Miners work shifts of six hours and breathe through brass filters against the crystal dust.\n",
}


@pytest.fixture
def chinese_folder(tmp_path: Path) -> Path:
    return write(tmp_path / "qinglan", CHINESE_DOCUMENTS)


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("月光茶应该用多少度的水冲泡？", "lumen_tea.md"),
        ("谁培育了月光茶？", "lumen_tea.md"),
        ("琉璃桥有多长？", "glass_bridge.md"),
        ("建桥一共用了多少块砖？", "glass_bridge.md"),
        ("回声鸟的蛋是什么颜色？", "echo_birds.md"),
    ],
)
def test_chinese_questions_retrieve_the_document_that_answers_them(
    chinese_folder: Path, question: str, source: str
) -> None:
    hits = KnowledgeBase.from_folder(chinese_folder).retrieve(question, k=1)
    assert [hit.passage.source for hit in hits] == [source]


def test_a_long_chinese_paragraph_is_cut_at_chinese_sentence_ends() -> None:
    sentence = "琉璃桥的每一块星砂玻璃砖都由工匠在窑中烧制整整七天，然后在河水中冷却。"
    passages = split_passages(f"# 工艺\n\n{sentence * 20}\n", "craft.md")
    assert len(passages) > 1
    assert all(count_words(p.text) <= MAX_WORDS for p in passages)
    assert all(p.text.endswith("。") and " " not in p.text for p in passages)
    assert "".join(p.text for p in passages) == sentence * 20


@pytest.fixture
def classifier(tmp_path: Path) -> DomainClassifier:
    write(tmp_path / "qinglan", CHINESE_DOCUMENTS)
    write(tmp_path / "zorvath", ZORVATH)
    return DomainClassifier.from_knowledge(tmp_path, ["qinglan", "zorvath", "general"])


@pytest.mark.parametrize(
    ("question", "domain"),
    [
        ("月光茶要泡几分钟？", "qinglan"),
        ("琉璃桥是用什么材料建造的？", "qinglan"),
        ("回声鸟的羽毛是什么颜色？", "qinglan"),
        ("雾松林里住着哪种鸟？", "qinglan"),
        ("青岚岛上有几户人家种茶？", "qinglan"),
        ("How deep is the deepest shaft of the Kessel mines?", "zorvath"),
        ("At what temperature do miners cut zorvath crystal?", "zorvath"),
        ("What is 12 times 12?", "general"),
        ("一百减去三十七等于多少", "general"),
        ("十二乘以十二是多少？", "general"),
        ("3 × 4", "general"),
    ],
)
def test_chinese_and_english_domains_are_learnt_from_their_folders(
    classifier: DomainClassifier, question: str, domain: str
) -> None:
    assert classifier.classify(question).domain == domain


def test_the_reference_judge_reads_a_chinese_reference() -> None:
    judge = ReferenceJudge()
    question = "月光茶应该用多少度的水冲泡？"
    answers = {"right": "应该用七十二摄氏度的水冲泡。", "wrong": "应该用九十五摄氏度的水。", "none": "不知道。"}
    scores = judge.rate(question, answers, reference="七十二摄氏度")
    assert scores["right"] >= 9.0 and scores["wrong"] <= 5.0 and scores["none"] == 1.0
    names = judge.rate("琉璃桥的总工程师是谁？", {"a": "总工程师是苏远帆。", "b": "是林默。"}, reference="苏远帆")
    assert names["a"] >= 9.0 and names["b"] == 1.0


def test_the_judge_tokens_examples_hold() -> None:
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(tokens, "tokens"):
        runner.run(test)
    assert runner.tries >= 1 and runner.failures == 0
