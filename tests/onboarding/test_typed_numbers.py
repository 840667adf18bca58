"""A number question answered the way people type numbers: 三年, 3年, 3 years, 3.5, 十二."""

from __future__ import annotations

import pytest

from tests.onboarding.helpers import answers, config, question_for, step_of
from tests.support.harness import running_app


async def _to_years_question(console):
    await console.join("bob")
    await console.press("bob", question_for(console, "bob").id, 0)  # agree to the rules
    await console.say("bob", "上海")
    industry = question_for(console, "bob")
    await console.press("bob", industry.id, "onb:" + industry.buttons[0][1].data.split(":", 1)[1])
    await console.press("bob", question_for(console, "bob").id, 0)  # budget
    await console.press("bob", question_for(console, "bob").id, 0)  # goal
    years = question_for(console, "bob")
    assert step_of(years) == 6
    return years


@pytest.mark.parametrize(
    "typed, stored",
    [("三年", "3"), ("3年", "3"), ("3 years", "3"), ("3.5", "3.5"), ("十二年", "12"), ("约 8 年", "8"), ("三年半", "3.5"), ("２０", "20")],
)
async def test_a_typed_number_with_its_unit_is_accepted(sqlite_url, tmp_path, typed, stored):
    async with running_app(sqlite_url, str(tmp_path), config("zh-CN")) as (app, console):
        await _to_years_question(console)
        await console.say("bob", typed)
        assert (await answers(app, "bob"))["years"] == stored


@pytest.mark.parametrize("typed", ["很多年", "3 or 4 years", "nan", "一百年"])
async def test_what_is_not_one_number_in_range_is_asked_again(sqlite_url, tmp_path, typed):
    async with running_app(sqlite_url, str(tmp_path), config("zh-CN")) as (app, console):
        await _to_years_question(console)
        await console.say("bob", typed)
        again = question_for(console, "bob")
        assert step_of(again) == 6
        assert "请填一个数字" in again.text or "不能大于 60" in again.text
        assert "years" not in await answers(app, "bob")
