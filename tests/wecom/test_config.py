"""The [wecom] section: what is required, and errors that name the key."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config
from tests.wecom.wire import AES_KEY

GOOD = {"corp_id": "ww1", "agent_id": 1000002, "secret": "s", "token": "t", "encoding_aes_key": AES_KEY}


def wecom(**changes):
    section = {**GOOD, **changes}
    return {"wecom": {k: v for k, v in section.items() if v is not None}}


def test_a_complete_section_is_accepted_and_the_base_url_gets_its_slash():
    cfg = parse_config(wecom(api_base_url="http://10.0.0.5:8080/cgi-bin"), env={})
    assert cfg.wecom.api_base_url == "http://10.0.0.5:8080/cgi-bin/"


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"secret": None}, "QUNZHU_WECOM_SECRET"),
        ({"encoding_aes_key": "short"}, "wecom.encoding_aes_key"),
        ({"api_base_url": "qyapi.weixin.qq.com"}, "wecom.api_base_url"),
        ({"path": "wecom"}, "wecom.path"),
        ({"aibot_token": "only-the-token"}, "aibot_encoding_aes_key"),
        ({"archive_source": "nocolon"}, "archive_source"),
        ({"archive_source": "pkg.mod:make"}, "archive_private_keys"),
        ({"robot_per_minute": 0}, "wecom.robot_per_minute"),
    ],
)
def test_mistakes_name_the_key(changes, named):
    with pytest.raises(ConfigError) as err:
        parse_config(wecom(**changes), env={})
    assert named in str(err.value)


def test_secrets_may_come_from_the_environment():
    data = wecom(secret=None, token=None)
    cfg = parse_config(data, env={"QUNZHU_WECOM_SECRET": "from-env", "QUNZHU_WECOM_TOKEN": "tok", "QUNZHU_WECOM_AIBOT_TOKEN": "a", "QUNZHU_WECOM_AIBOT_ENCODING_AES_KEY": AES_KEY})
    assert (cfg.wecom.secret, cfg.wecom.token, cfg.wecom.aibot_token) == ("from-env", "tok", "a")
