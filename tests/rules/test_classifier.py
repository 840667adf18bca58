"""The optional classifier operators train on their own data: it tips suspicious messages over the
threshold but never makes a violation alone."""

import subprocess
import sys
from pathlib import Path

from handlers.rules.engine import RuleEngine, Subject
from handlers.rules.settings import RulesSettings

ROOT = Path(__file__).resolve().parents[2]

SPAM = ["超值福利资源群，内部特价", "福利资源 特价 超值 速来", "内部资源特价福利，名额有限", "特价超值福利，资源更新"]
HAM = ["今天的会议改到下午三点", "这个方案我再看看", "周末一起吃饭吗", "大家辛苦了，早点休息"]


def write_csv(path: Path) -> None:
    lines = ["label,text"] + [f"spam,{t}{i}" for i in range(10) for t in SPAM] + [f"ham,{t}{i}" for i in range(10) for t in HAM]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_rules_train_writes_a_model_that_tips_but_never_decides_alone(tmp_path):
    data, model = tmp_path / "mine.csv", tmp_path / "model.json"
    write_csv(data)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "rules-train", str(data), "-o", str(model), "--holdout", "0"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "trained on 80 messages" in result.stdout and model.exists()

    plain = RuleEngine.for_settings(RulesSettings())
    trained = RuleEngine.for_settings(RulesSettings(classifier=str(model), classifier_weight=0.9))
    alone = trained.check(Subject(text="超值福利资源，内部特价"))
    assert any(h.rule == "classifier" for h in alone.hits) and not alone.violation
    suspicious = "超值福利资源，内部特价，私聊"
    assert not plain.check(Subject(text=suspicious)).violation
    assert trained.check(Subject(text=suspicious)).violation
    assert not trained.check(Subject(text="今天的会议改到下午三点，有事私聊我")).violation


def test_a_missing_model_is_a_config_error_naming_the_key(tmp_path):
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="classifier"):
        RulesSettings(classifier=str(tmp_path / "nope.json"))
