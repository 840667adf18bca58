"""The spam model: hashed-gram features, logistic regression trained with numpy and scored in pure
Python, its weights file, the cross-validated threshold, retraining that keeps a better model, and
`qunzhu rules-train`. Small made-up messages only (the benchmark data is not in a clone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from itertools import product
from pathlib import Path

import pytest

from handlers.rules import model as spam_model
from handlers.rules.model import FEATURES_VERSION, Model, NotAModelFile, features, has_hanzi, held_out, load, save
from handlers.rules.normalize import normalize
from handlers.rules.training import (
    Evaluation, read_background_ham, read_labelled_csv, retrain, train,
)

ROOT = Path(__file__).resolve().parents[2]

SPAM_HEADS = ["加我微信看片", "私聊我买资源", "免费看黄色视频", "兼职日赚五百", "低价出售账号", "福利群速进",
              "看我头像有惊喜", "博彩平台注册送彩金", "代理招募高佣金", "裸聊一对一"]
SPAM_TAILS = ["名额有限", "秒回", "包你满意", "先到先得", "24小时在线", "新人有礼"]
HAM_HEADS = ["今天下班有点晚", "周末一起去爬山吧", "这个版本更新后卡顿了", "晚上吃火锅怎么样", "刚看完比赛太精彩了",
             "明天会议几点开始", "我家猫又把杯子打翻了", "这首歌真好听", "大家早上好", "谢谢群主分享"]
HAM_TAILS = ["哈哈", "你们觉得呢", "累死了", "下次再说", "有人一起吗", "真不错"]

SPAM = [f"{head}，{tail}" for head, tail in product(SPAM_HEADS, SPAM_TAILS)]
HAM = [f"{head}，{tail}" for head, tail in product(HAM_HEADS, HAM_TAILS)]
ROWS = [("spam", text) for text in SPAM] + [("ham", text) for text in HAM]


@pytest.fixture(scope="module")
def trained() -> tuple[Model, object]:
    return train(ROWS, quiet=True)


def test_features_are_the_documented_hashes_and_stable():
    """Changing features() silently would make every weights file and stored sample score garbage:
    if this fails on purpose, bump FEATURES_VERSION."""
    text = "加V 信"
    squeezed = normalize(text).squeezed  # "加v信"
    raw = "加v 信"

    def grams(s):
        return [s[i:i + k] for k in (1, 2, 3) for i in range(len(s) - k + 1)]

    expected = {zlib.crc32(("sq\x00" + g).encode()) % 2**22 for g in grams(squeezed)}
    expected |= {zlib.crc32(g.encode()) % 2**22 for g in grams(raw)}
    assert features(text) == expected
    assert features(text, normalize(text)) == expected
    assert sorted(features("加我")) == [755495, 1185904, 1334324, 1431249, 3869232, 3982481]
    assert FEATURES_VERSION == 1


def test_features_do_not_depend_on_the_process():
    code = "from handlers.rules.model import features; print(sorted(features('兼职日赚 加V: abc123')))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1 and json.loads(outs.pop()) == sorted(features("兼职日赚 加V: abc123"))


def test_features_read_the_first_512_characters_and_survive_broken_text():
    assert features("好" * 600 + "加微信") == features("好" * 600)
    assert features("ab\ud800c 你好")  # a lone surrogate from a broken decoder is skipped, not an error
    assert features("") == frozenset()


def test_hanzi_gate():
    assert has_hanzi("hello 世界") and has_hanzi("㐀")  # extension A
    assert not has_hanzi("free money, click here") and not has_hanzi("🙂 123")
    always = Model(bias=10.0, weights={}, threshold=0.5)
    assert always.flags("加我") and not always.flags("join my channel for free money")
    assert always.score("join my channel") > 0.99  # the gate is on flagging, not on the probability
    assert Model(bias=10.0, weights={}, threshold=0.5, hanzi_only=False).flags("join my channel")


def test_training_separates_spam_from_ham(trained):
    model, report = trained
    assert report.spam == len(SPAM) and report.ham == len(HAM) and report.target_met
    unseen_spam = ["加我微信看片，今晚有空", "博彩平台注册送彩金，稳赚"]
    unseen_ham = ["周末一起去爬山吧，天气好", "刚看完比赛太精彩了，明天见"]
    assert all(model.score(t) > 0.9 for t in unseen_spam), [model.score(t) for t in unseen_spam]
    assert all(model.score(t) < 0.1 for t in unseen_ham), [model.score(t) for t in unseen_ham]
    assert all(model.flags(t) for t in unseen_spam) and not any(model.flags(t) for t in unseen_ham)


def test_the_cross_validated_threshold_reaches_the_target_precision(trained):
    model, report = trained
    assert report.cv_precision >= report.target_precision and 0 < report.cv_recall <= 1
    assert model.threshold == report.threshold and model.cv_precision == round(report.cv_precision, 4)
    on_training = Evaluation.of([label for label, _ in ROWS], [model.flags(text) for _, text in ROWS])
    assert on_training.precision >= report.target_precision and on_training.recall > 0.5


def test_without_a_threshold_that_reaches_the_target_the_model_flags_nothing():
    noisy = [("spam", t) for t in SPAM] + [("ham", t) for t in SPAM] + [("ham", t) for t in HAM]  # labels disagree
    model, report = train(noisy, target_precision=0.999, quiet=True)
    assert not report.target_met and model.threshold == 1.0
    assert not any(model.flags(t) for t in SPAM)


def test_texts_without_hanzi_are_left_out_unless_asked():
    english = [("spam", "free money click here"), ("ham", "see you tomorrow")]
    _, report = train(ROWS + english, quiet=True)
    assert report.skipped_without_hanzi == 2 and report.rows == len(ROWS)
    model, report = train(ROWS + english, hanzi_only=False, quiet=True)
    assert report.skipped_without_hanzi == 0 and not model.hanzi_only


def test_samples_and_background_ham_are_trained_on(trained):
    base, _ = trained
    # An admin says this group's "福利" messages are fine: with the samples it scores far lower.
    text = "福利群速进，今晚开黑"
    samples = [("ham", features(f"福利群速进，{tail}")) for tail in ("今晚开黑", "一起打游戏", "老地方见")]
    model, report = train(ROWS, samples=samples, background_ham=["大家晚上好", "free talk"], quiet=True)
    assert report.samples == 3 and report.ham == len(HAM) + 1 and report.skipped_without_hanzi == 1
    assert model.score(text) < base.score(text) / 2


def test_save_and_load_round_trip(tmp_path, trained):
    model, _ = trained
    path = tmp_path / "model.json"
    save(model, path)
    again = load(path)
    assert again == model
    assert [again.score(t) for t in SPAM + HAM] == [model.score(t) for t in SPAM + HAM]
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["features_version"] == FEATURES_VERSION and len(data["features"]) == len(data["weights"])
    assert not list(tmp_path.glob("*.partial"))


def test_load_reads_the_file_again_when_it_changes(tmp_path):
    path = tmp_path / "model.json"
    save(Model(bias=-1.0, weights={1: 2.0}, threshold=0.5), path)
    first = load(path)
    assert load(path) is first  # unchanged: the cached model
    save(Model(bias=1.0, weights={1: 2.0}, threshold=0.5), path)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000_000))
    assert load(path).bias == 1.0


@pytest.mark.parametrize(("content", "error", "why"), [
    ("not json at all", NotAModelFile, "not JSON"),
    ('{"kind": "qunzhu-rules-nb", "prior": 0}', NotAModelFile, "not a rules model"),
    (None, ValueError, "features version 99"),
    ('{"kind": "qunzhu-rules-logreg", "features_version": 1, "hash_bits": 22, "bias": 0}', ValueError, "damaged"),
])
def test_a_wrong_or_damaged_file_is_a_clear_error_naming_it(tmp_path, content, error, why):
    path = tmp_path / "model.json"
    if content is None:
        save(Model(bias=0.0, weights={}, threshold=0.5), path)
        data = json.loads(path.read_text(encoding="utf-8"))
        content = json.dumps({**data, "features_version": 99})
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=why) as caught:
        load(path)
    assert str(path) in str(caught.value)


def test_the_weights_arrays_must_match(tmp_path):
    path = tmp_path / "model.json"
    save(Model(bias=0.0, weights={5: 1.0, 6: 2.0}, threshold=0.5), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, "weights": [1.0]}), encoding="utf-8")
    with pytest.raises(ValueError, match="2 features but 1 weights"):
        load(path)


def test_retrain_keeps_the_previous_model_when_the_new_one_is_worse(trained):
    previous, _ = trained
    eval_rows = [("spam", "加我微信看片，今晚有空"), ("spam", "低价出售账号，稳"), ("ham", "周末一起去爬山吧，好")]
    # Labels turned around: the new model flags the ham and misses the spam.
    flipped = [("ham" if label == "spam" else "spam", text) for label, text in ROWS]
    model, report, kept = retrain(flipped, [], previous=previous, eval_rows=eval_rows, quiet=True)
    assert kept and model is previous
    assert report.previous_evaluation.recall == 1.0 and report.evaluation.recall == 0.0

    model, report, kept = retrain(ROWS, [], previous=previous, eval_rows=eval_rows, quiet=True)
    assert not kept and model is not previous and report.evaluation.recall == 1.0


@pytest.mark.parametrize(("new", "old", "worse"), [
    ((90, 0), (80, 0), False),  # both meet the target: more recall is better
    ((80, 0), (90, 0), True),
    ((95, 5), (80, 0), True),  # new misses the target precision the old one met
    ((80, 0), (95, 5), False),
    ((90, 10), (95, 5), True),  # neither meets it: precision first
    ((95, 5), (90, 10), False),
])
def test_which_model_is_worse(new, old, worse):
    from handlers.rules.training import is_worse

    def evaluation(tp, fp):
        return Evaluation(spam=100, ham=100, true_positives=tp, false_positives=fp)

    assert is_worse(evaluation(*new), evaluation(*old), 0.99) is worse


def test_retrain_without_a_previous_model_or_evaluation_rows_takes_the_new_one():
    model, report, kept = retrain(ROWS, [], previous=None, eval_rows=[], quiet=True)
    assert not kept and report.evaluation is None and model.rows == len(ROWS)


def test_training_data_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="both spam and ham"):
        train([("spam", t) for t in SPAM], quiet=True)
    with pytest.raises(ValueError, match="'maybe'"):
        train(ROWS + [("maybe", "嗯")], quiet=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,message\nspam,加我\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{bad}.*label,text"):
        read_labelled_csv(bad)
    bad.write_text("label,text\nspam,加我\nmaybe,嗯\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{bad}, row 3"):
        read_labelled_csv(bad)
    bad.write_bytes("label,text\nham,你好\n".encode("gbk"))
    with pytest.raises(ValueError, match=f"{bad}: not UTF-8"):
        read_labelled_csv(bad)


def test_background_ham_files(tmp_path):
    csv_file, txt_file = tmp_path / "chat.csv", tmp_path / "chat.txt"
    csv_file.write_text("label,text\nham,大家好\nspam,加我\nham,\"多行\n消息\"\n", encoding="utf-8")
    txt_file.write_text("大家好\n\n  \n晚安\n", encoding="utf-8")
    assert read_background_ham(csv_file) == ["大家好", "多行\n消息"]
    assert read_background_ham(txt_file) == ["大家好", "晚安"]


def test_scoring_needs_no_numpy():
    code = ("import sys; from handlers.rules.model import Model, features; "
            "Model(bias=0.0, weights={}, threshold=0.5).flags('加我'); print('numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"


def rules_train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "rules-train", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=240)


def test_rules_train_end_to_end(tmp_path):
    data, output = tmp_path / "mine.csv", tmp_path / "rules-model.json"
    lines = ["label,text"] + [f"{label},{text}" for label, text in ROWS]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    held = sum(1 for _, text in ROWS if held_out(text))

    done = rules_train(data, "-o", output, "--precision", "0.99")
    assert done.returncode == 0, done.stderr
    assert f"trained on {len(ROWS) - held} messages" in done.stdout
    assert "cross-validated: precision" in done.stdout
    assert f"held out (a fixed fifth of {data}, not trained on): {held} messages" in done.stdout
    for name in ("new model alone:", "rules alone:", "rules OR new model:"):
        assert name in done.stdout and "recall" in done.stdout.split(name)[1].splitlines()[0]
    model = load(output)
    assert model.rows == len(ROWS) - held and model.flags("加我微信看片，今晚有空")

    # Again into the same file: both are compared on the held-out rows; this one is no worse.
    done = rules_train(data, "-o", output, "--precision", "0.99")
    assert done.returncode == 0, done.stderr
    assert "model before alone:" in done.stdout and f"wrote {output}" in done.stdout


def test_rules_train_keeps_a_better_model_already_there(tmp_path, trained):
    data, output = tmp_path / "mine.csv", tmp_path / "rules-model.json"
    save(trained[0], output)
    before = output.read_bytes()
    # Rows trained on labelled the wrong way round, held-out ones right: the new model does worse there.
    lines = ["label,text"] + [f"{label if held_out(text) else {'spam': 'ham', 'ham': 'spam'}[label]},{text}"
                              for label, text in ROWS]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = rules_train(data, "-o", output)
    assert done.returncode == 0, done.stderr
    assert f"does worse on the held-out rows than the one already in {output}: it stays" in done.stdout
    assert output.read_bytes() == before


def test_rules_train_errors_name_the_file_or_argument(tmp_path):
    missing = tmp_path / "missing.csv"
    done = rules_train(missing)
    assert done.returncode == 2 and str(missing) in done.stderr
    data = tmp_path / "spam-only.csv"
    data.write_text("label,text\n" + "".join(f"spam,{t}\n" for t in SPAM), encoding="utf-8")
    done = rules_train(data, "-o", tmp_path / "m.json")
    assert done.returncode == 2 and f"{data}: training needs both spam and ham" in done.stderr
    done = rules_train(data, "-o", data)  # not a model: never overwritten
    assert done.returncode == 2 and f"-o: {data} is not a rules model" in done.stderr
    done = rules_train(data, "--precision", "1.5")
    assert done.returncode == 2 and "--precision 1.5" in done.stderr
    done = rules_train(data, "--ham", tmp_path / "nope.txt")
    assert done.returncode == 2 and "nope.txt" in done.stderr
    assert spam_model.FILE_KIND not in data.read_text(encoding="utf-8")
