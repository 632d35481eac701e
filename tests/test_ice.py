import json

import pytest

from dinoad.errors import ConfigError
from dinoad.ice import ICE_ENV, rtc_configuration


def test_no_ice_servers_by_default():
    assert rtc_configuration(None, {}) == {"iceServers": []}
    assert rtc_configuration({}, {}) == {"iceServers": []}


def test_environment_wins_over_secrets():
    servers = [{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]
    secrets = {"ice_servers": [{"urls": ["stun:other.example.org"]}]}
    config = rtc_configuration(secrets, {ICE_ENV: json.dumps(servers)})
    assert config == {"iceServers": [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]}
    assert rtc_configuration(secrets, {}) == {"iceServers": [{"urls": ["stun:other.example.org"]}]}


@pytest.mark.parametrize("text", ["not json", '{"urls": "stun:x"}', '[{"username": "u"}]', '[{"urls": []}]'])
def test_bad_settings_say_the_expected_format(text):
    with pytest.raises(ConfigError, match="JSON|urls"):
        rtc_configuration(None, {ICE_ENV: text})
