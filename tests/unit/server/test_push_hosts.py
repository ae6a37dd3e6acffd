"""Where the push job may POST (server/notify/push.py): node.toml's `[push] hosts`, read by
`load_push_config`, and `endpoint_problem`, which every subscription passes when it is made
and again before every send."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.notify.push import (
    DEFAULT_HOSTS,
    NOT_ALLOWED,
    PushConfig,
    endpoint_problem,
    load_push_config,
)
from server.settings import Settings, SettingsError


def node(tmp_path: Path, push: str = "", public_url: str = "") -> Settings:
    (tmp_path / "node.toml").write_text(f'role = "township"\n{push}', encoding="utf-8")
    return Settings(
        data_dir=tmp_path,
        role="township",
        region_code="990102101000",
        name="青山镇便民服务中心",
        public_url=public_url,
    )


ALLOWED_BY_DEFAULT = [
    "https://fcm.googleapis.com/fcm/send/abc:APA91bExample",
    "https://fcm.googleapis.com:443/fcm/send/abc",
    "https://android.googleapis.com/gcm/send/abc",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAAB",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA%3d",
    "https://web.push.apple.com/QGuQyavXutnMH4",
]

REFUSED_BY_DEFAULT = {
    "https://10.0.0.5/x": NOT_ALLOWED,
    "https://192.168.1.1/x": NOT_ALLOWED,
    "https://127.0.0.1/x": NOT_ALLOWED,
    "https://[::1]/x": NOT_ALLOWED,
    "https://localhost/": NOT_ALLOWED,
    "https://county-internal/x": NOT_ALLOWED,
    "https://fcm.googleapis.com.evil.test/x": NOT_ALLOWED,
    "https://evilfcm.googleapis.com/x": NOT_ALLOWED,
    "https://googleapis.com/x": NOT_ALLOWED,  # the parent of a listed name is not listed
    "https://fcm.googleapis.com./x": "不正确",  # a trailing dot: not the listed name
    "https://evil.test#@fcm.googleapis.com/": NOT_ALLOWED,
    "https://evil.test?@fcm.googleapis.com/": NOT_ALLOWED,
    "https://fcm.googleapis.com@10.0.0.5/x": "用户名",
    "https://u:p@fcm.googleapis.com/x": "用户名",
    "https://fcm.googleapis.com:8443/x": "端口",
    "https://fcm.googleapis.com:99999/x": "不正确",
    "https://fcm.googleapis.com:x/y": "不正确",
    "https://fcm.googleapis.com\\@10.0.0.5/x": "不正确",
    "https://fcm.googleapis.com /x": "不正确",
    "https://fcm.googleapis.com/x\n": "不正确",
    "https://fcm.googleapis.com/" + "a" * 1000: "不正确",
    "https://fcm.googleapis.cöm/x": "不正确",
    "https:///x": "不正确",
    "http://fcm.googleapis.com/x": "https://",
    "ftp://fcm.googleapis.com/x": "https://",
    "http://127.0.0.1:8123/x": NOT_ALLOWED,  # plain http on loopback: only when listed
    "https://fcm.googleapis.com]/x": "不正确",  # a bracket without its pair (urlsplit raises)
    "https://[fcm.googleapis.com/x": "不正确",
    "https://[::1/x": "不正确",
    "https://localhost%00.fcm.googleapis.com/x": "不正确",  # no real host has a "%"
    "https://a_b.fcm.googleapis.com/x": "不正确",
}


def test_the_browsers_push_services_are_allowed_by_default() -> None:
    for endpoint in ALLOWED_BY_DEFAULT:
        assert endpoint_problem(endpoint, DEFAULT_HOSTS) == "", endpoint
    for endpoint, message in REFUSED_BY_DEFAULT.items():
        assert message in endpoint_problem(endpoint, DEFAULT_HOSTS), endpoint


def test_loopback_only_when_listed_and_only_exactly() -> None:
    hosts = ("127.0.0.1", "localhost")
    assert endpoint_problem("http://127.0.0.1:8123/x", hosts) == ""  # a stand-in, any port
    assert endpoint_problem("https://127.0.0.1:8443/x", hosts) == ""
    assert endpoint_problem("http://localhost:8123/x", hosts) == ""
    assert endpoint_problem("http://[::1]:8123/x", hosts) == NOT_ALLOWED  # not listed
    assert endpoint_problem("https://a.localhost/x", hosts) == NOT_ALLOWED
    assert endpoint_problem("https://1.127.0.0.1/x", hosts) == NOT_ALLOWED
    # Listing a name elsewhere allows https only, on the default port.
    assert "https://" in endpoint_problem("http://push.example.test/x", ("push.example.test",))
    assert "端口" in endpoint_problem("https://push.example.test:8443/x", ("push.example.test",))


def test_no_list_means_the_browsers_services(tmp_path: Path) -> None:
    assert load_push_config(node(tmp_path)) == PushConfig(
        subject="mailto:admin@yichuang.invalid", hosts=DEFAULT_HOSTS
    )
    https = node(tmp_path, public_url="https://zwfw.example.gov.cn/qingshan")
    assert load_push_config(https).subject == "https://zwfw.example.gov.cn/qingshan"


def test_node_toml_lists_the_hosts(tmp_path: Path) -> None:
    table = '[push]\nsubject = "mailto:a@qingshan.test"\nhosts = [" Push.Example.test ", "::1"]\n'
    config = load_push_config(node(tmp_path, table))
    assert config == PushConfig(
        subject="mailto:a@qingshan.test", hosts=("push.example.test", "::1")
    )
    assert endpoint_problem("https://push.example.test/x", config.hosts) == ""
    assert endpoint_problem("https://fcm.googleapis.com/x", config.hosts) == NOT_ALLOWED
    off = load_push_config(node(tmp_path, "[push]\nhosts = []\n"))  # push turned off
    assert off.hosts == () and endpoint_problem(ALLOWED_BY_DEFAULT[0], off.hosts) == NOT_ALLOWED


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[push]\nhosts = "fcm.googleapis.com"\n', r"\[push\] hosts 应是推送服务主机名"),
        ("[push]\nhosts = [1, 2]\n", r"\[push\] hosts 应是推送服务主机名"),
        ("[push]\nhosts = [[]]\n", r"\[push\] hosts 应是推送服务主机名"),
        ('[push]\nhosts = ["https://fcm.googleapis.com/"]\n', r"不带 https://、端口或路径"),
        ('[push]\nhosts = ["fcm.googleapis.com:443"]\n', r"'fcm.googleapis.com:443' 不是主机名"),
        ('[push]\nhosts = [""]\n', r"\[push\] hosts 里的 '' 不是主机名"),
        ('[push]\nhosts = [".googleapis.com"]\n', r"不是主机名"),
        ('[push]\nhosts = ["com"]\n', r"'com' 太宽"),
        ('push = "fcm.googleapis.com"\n', r"写成单独一行 \[push\]"),
        ("[push\n", r"格式有误"),
    ],
)
def test_a_bad_push_table_is_a_settings_error(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_push_config(node(tmp_path, table))
