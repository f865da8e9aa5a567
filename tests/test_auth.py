"""Accounts: password hashing and throttling, the accounts file and its CLI, OIDC roles, sign-in in the app."""

from __future__ import annotations

import io
import stat
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dayuan_geo import auth
from dayuan_geo.cli import main as cli

APP = str(Path(__file__).resolve().parents[1] / "app.py")
FAST = 4  # bcrypt rounds for test accounts; the product uses auth.BCRYPT_ROUNDS


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture()
def accounts(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "config" / "auth.toml"
    monkeypatch.setenv(auth.AUTH_FILE_ENV, str(path))
    monkeypatch.setenv("DAYUAN_AUDIT_FILE", str(tmp_path / "logs" / "audit.jsonl"))
    monkeypatch.setattr(auth, "THROTTLE", auth.Throttle(sleep=lambda s: None))
    return path


# ---- hashing and checking ----------------------------------------------------------------------

def test_hash_is_salted_bcrypt_and_slow():
    h1, h2 = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert h1.startswith("$2b$12$") and h1 != h2  # same password, different salts
    started = time.perf_counter()
    assert auth._hash_matches("correct horse", h1)
    assert time.perf_counter() - started > 0.05  # cost 12: tens of milliseconds at least
    assert not auth._hash_matches("correct horsE", h1)


@pytest.mark.parametrize("password", ["short", "", "x" * 73, "密" * 25])
def test_bad_passwords_refused(password):
    with pytest.raises(ValueError, match="password too"):
        auth.hash_password(password, rounds=FAST)


@pytest.mark.parametrize("name", ["", "Alice", "a b", "../x", "a" * 33, "-x", "名字", 'a"b'])
def test_bad_names_refused(name, tmp_path):
    with pytest.raises(ValueError, match="invalid user name"):
        auth.add_user(name, "viewer", "long enough", path=tmp_path / "a.toml", rounds=FAST)


def test_wrong_password_refused_then_locked_with_growing_waits(tmp_path):
    path = tmp_path / "auth.toml"
    auth.add_user("wang", "leader", "right-password", path=path, rounds=FAST)
    clock = FakeClock()
    throttle = auth.Throttle(clock=clock, sleep=clock.sleep)

    assert auth.verify("wang", "right-password", path=path, throttle=throttle).ok
    for _ in range(2):
        v = auth.verify("wang", "wrong", path=path, throttle=throttle)
        assert not v.ok and v.locked_for == 0
    assert clock.slept == [auth.FAILURE_PAUSE_S] * 2  # every failure is slowed

    v = auth.verify("wang", "wrong", path=path, throttle=throttle)  # third failure: locked
    assert not v.ok and v.locked_for == pytest.approx(auth.LOCK_BASE_S)
    # while locked even the right password is refused, without being checked
    assert auth.verify("wang", "right-password", path=path, throttle=throttle).locked_for > 0
    clock.now += auth.LOCK_BASE_S + 0.1
    v = auth.verify("wang", "wrong", path=path, throttle=throttle)  # fourth: the lock doubles
    assert v.locked_for == pytest.approx(2 * auth.LOCK_BASE_S)
    clock.now += 2 * auth.LOCK_BASE_S + 0.1
    assert auth.verify("wang", "right-password", path=path, throttle=throttle).ok
    assert throttle.failures("wang") == 0  # success clears the count

    for _ in range(40):  # the lock is capped
        throttle.failed("wang")
    assert throttle.locked_for("wang") <= auth.LOCK_MAX_S


def test_unknown_names_are_throttled_like_known_ones(tmp_path):
    path = tmp_path / "auth.toml"
    auth.add_user("wang", "leader", "right-password", path=path, rounds=FAST)
    clock = FakeClock()
    throttle = auth.Throttle(clock=clock, sleep=clock.sleep)
    verdicts = [auth.verify("nobody", "whatever", path=path, throttle=throttle) for _ in range(3)]
    assert [v.ok for v in verdicts] == [False] * 3
    assert verdicts[-1].locked_for == pytest.approx(auth.LOCK_BASE_S)
    # locking one name does not lock another
    assert auth.verify("wang", "right-password", path=path, throttle=throttle).ok


def test_parallel_sign_ins_check_no_more_passwords_than_the_lockout_allows(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "auth.toml"
    auth.add_user("wang", "leader", "right-password", path=path, rounds=FAST)
    throttle = auth.Throttle(sleep=lambda s: time.sleep(0.05))
    checked: list[str] = []
    real = auth._hash_matches

    def slow_check(password: str, hashed: str) -> bool:
        checked.append(password)
        time.sleep(0.05)  # every attempt is in flight at once
        return real(password, hashed)

    monkeypatch.setattr(auth, "_hash_matches", slow_check)
    with ThreadPoolExecutor(max_workers=40) as pool:
        verdicts = list(pool.map(lambda k: auth.verify("wang", f"guess-{k}", path=path, throttle=throttle),
                                 range(40)))
    assert len(checked) == auth.LOCK_AFTER  # 40 attempts, three passwords looked at
    assert not any(v.ok for v in verdicts) and sum(v.locked_for > 0 for v in verdicts) >= 40 - auth.LOCK_AFTER
    assert throttle.failures("wang") == auth.LOCK_AFTER


def test_account_changes_audit_themselves_before_they_take_effect(tmp_path, monkeypatch):
    from dayuan_geo import audit

    path, log = tmp_path / "config" / "auth.toml", tmp_path / "logs" / "audit.jsonl"
    monkeypatch.delenv(audit.AUDIT_FILE_ENV, raising=False)  # the log beside the accounts' config folder
    auth.add_user("chen", "viewer", "viewer-pass", path=path, rounds=FAST, by="admin")
    auth.set_role("chen", "inspector", path=path, by="admin")
    auth.remove_user("chen", path=path, by="admin")
    entries = list(reversed(audit.read(log)))
    assert [(e["user"], e["role"], e["action"], e["what"]) for e in entries] == [("admin", "operator", "account",
                                                                                  "chen")] * 3
    assert [(e["detail"]["change"], e["detail"]["role"], e["detail"]["role_before"]) for e in entries] == [
        ("add", "viewer", None), ("set-role", "inspector", "viewer"), ("remove", None, "inspector")]
    assert audit.verify(log) == []

    log.unlink()
    log.mkdir()  # the log cannot be written: the account is not added
    with pytest.raises(OSError):
        auth.add_user("li", "planner", "planner-pass", path=path, rounds=FAST)
    assert auth.load(path).users == {}


def test_password_longer_than_bcrypt_reads_never_matches(tmp_path):
    path = tmp_path / "auth.toml"
    auth.add_user("li", "viewer", "a" * 72, path=path, rounds=FAST)
    throttle = auth.Throttle(sleep=lambda s: None)
    assert auth.verify("li", "a" * 72, path=path, throttle=throttle).ok
    assert not auth.verify("li", "a" * 72 + "b", path=path, throttle=throttle).ok


# ---- the accounts file -------------------------------------------------------------------------

def test_accounts_file_round_trip_and_private(tmp_path):
    path = tmp_path / "cfg" / "auth.toml"
    auth.add_user("zhao.min", "inspector", "pass-word-1", path=path, rounds=FAST)
    auth.add_user("chen", "viewer", "pass-word-2", path=path, rounds=FAST)
    config = auth.load(path)
    assert {n: a.role for n, a in config.users.items()} == {"zhao.min": "inspector", "chen": "viewer"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "pass-word" not in path.read_text()
    auth.set_role("chen", "leader", path=path)
    assert auth.load(path).users["chen"].role == "leader"
    auth.remove_user("zhao.min", path=path)
    assert list(auth.load(path).users) == ["chen"]
    with pytest.raises(ValueError, match="exists"):
        auth.add_user("chen", "viewer", "pass-word-3", path=path, rounds=FAST)
    with pytest.raises(ValueError, match="no user"):
        auth.remove_user("nobody", path=path)
    with pytest.raises(ValueError, match="unknown role"):
        auth.set_role("chen", "admin", path=path)


def test_damaged_accounts_file_refused(tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text('[users.x]\nrole = "root"\nhash = "$2b$04$x"\n')
    with pytest.raises(ValueError, match="unknown role"):
        auth.load(path)
    path.write_text("[users.x\n")
    with pytest.raises(ValueError, match="unreadable"):
        auth.load(path)
    assert auth.load(tmp_path / "missing.toml").users == {}


def test_default_auth_file_is_beside_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(auth.AUTH_FILE_ENV, raising=False)
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(tmp_path / "srv" / "data"))
    assert auth.auth_file() == (tmp_path / "srv" / "config" / "auth.toml").resolve()


def test_users_cli(tmp_path, monkeypatch, capsys):
    path = tmp_path / "auth.toml"
    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", FAST)

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return cli.main(["users", "--auth-file", str(path), *argv])

    assert run("list") == 0
    assert "local mode" in capsys.readouterr().out
    assert run("add", "wang", "--role", "leader", "--password-stdin", stdin="leader-pass\n") == 0
    assert run("add", "chen", "--role", "viewer", "--password-stdin", stdin="viewer-pass\n") == 0
    assert run("add", "li", "--role", "viewer") == 2  # never a password on the command line
    assert "--password-stdin" in capsys.readouterr().err
    assert run("add", "li", "--role", "viewer", "--password-stdin", stdin="short\n") == 2
    assert run("set-role", "chen", "inspector") == 0
    assert run("remove", "wang") == 0
    assert run("remove", "wang") == 2
    capsys.readouterr()
    assert run("list") == 0
    out = capsys.readouterr().out
    assert "chen" in out and "inspector" in out and "wang" not in out
    throttle = auth.Throttle(sleep=lambda s: None)
    assert auth.verify("chen", "viewer-pass", path=path, throttle=throttle).ok
    with pytest.raises(SystemExit):
        run("add", "x", "--role", "superuser", "--password-stdin", stdin="whatever-1\n")


# ---- OpenID Connect and local mode -------------------------------------------------------------

@pytest.mark.parametrize(("secrets", "expected"), [
    (None, False),
    ({}, False),
    ({"auth": {"redirect_uri": "x", "cookie_secret": "y"}}, False),
    ({"auth": {"client_id": "c", "server_metadata_url": "https://idp/.well-known/openid-configuration"}}, True),
    ({"auth": {"redirect_uri": "x", "gov": {"client_id": "c", "client_secret": "s"}}}, True),
    ({"auth": "nonsense"}, False),
])
def test_oidc_configured(secrets, expected):
    assert auth.oidc_configured(secrets) is expected


def test_oidc_roles_from_claim_or_mapping():
    config = auth.AuthConfig(role_claim="dayuan_role",
                             oidc_roles={"chen@dayuan.gov.cn": "viewer", "sub-42": "inspector"})
    assert auth.oidc_identity({"email": "a@b", "dayuan_role": "leader", "name": "A"}, config) == ("A", "leader")
    assert auth.oidc_identity({"email": "a@b", "dayuan_role": ["staff", "planner"]}, config)[1] == "planner"
    assert auth.oidc_identity({"email": "a@b", "dayuan_role": "root"}, config)[1] is None
    assert auth.oidc_identity({"email": "Chen@Dayuan.gov.cn", "email_verified": True}, config)[1] == "viewer"
    # an unverified e-mail address gets no role from the mapping
    assert auth.oidc_identity({"email": "chen@dayuan.gov.cn", "email_verified": False}, config)[1] is None
    assert auth.oidc_identity({"sub": "sub-42"}, config)[1] == "inspector"
    assert auth.oidc_identity({"email": "stranger@x"}, auth.AuthConfig())[1] is None


def test_oidc_mapping_read_from_accounts_file(tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text('[oidc]\nrole_claim = "role"\n[oidc.roles]\n"Wang@Dayuan.gov.cn" = "leader"\n')
    config = auth.load(path)
    assert config.role_claim == "role" and config.oidc_roles == {"wang@dayuan.gov.cn": "leader"}
    auth.add_user("chen", "viewer", "viewer-pass", path=path, rounds=FAST)  # keeps the [oidc] section
    assert auth.load(path).oidc_roles == {"wang@dayuan.gov.cn": "leader"}


@pytest.mark.parametrize(("host", "local", "allowed", "ok"), [
    (None, True, (), True), ("localhost:8501", True, (), True), ("127.0.0.1:8501", True, (), True),
    ("[::1]:8501", True, (), True), ("evil.example:8501", True, (), False), ("10.0.0.5", True, (), False),
    ("localhost.evil.example", True, (), False), ("gis.dayuan.gov.cn", False, (), True),
    ("gis.dayuan.gov.cn:443", False, ("gis.dayuan.gov.cn",), True),
    ("evil.example", False, ("gis.dayuan.gov.cn",), False), ("a.dayuan.gov.cn", False, ("*.dayuan.gov.cn",), True),
    ("dayuan.gov.cn.evil.example", False, ("*.dayuan.gov.cn",), False),
])
def test_host_header_checked_against_dns_rebinding(host, local, allowed, ok):
    assert auth.host_allowed(host, local=local, allowed=allowed) is ok


def test_local_mode_refuses_a_foreign_host_header(app_env, accounts, monkeypatch):
    monkeypatch.setattr(type(st.context), "headers", property(lambda self: {"Host": "rebind.evil.example:8501"}))
    at = app().run()
    assert not at.exception and len(at.metric) == 0
    assert at.error[0].value == "此地址不是本看板的访问地址，已拒绝。"


@pytest.mark.parametrize(("ip", "local"), [
    (None, True), ("127.0.0.1", True), ("127.0.0.9", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.5", False), ("192.168.1.20", False), ("::ffff:10.0.0.5", False), ("2001:db8::1", False),
    ("localhost", False), ("", False),
])
def test_loopback_clients(ip, local):
    assert auth.is_loopback_client(ip) is local


# ---- sign-in in the app (AppTest) --------------------------------------------------------------

def app(**secrets) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if secrets:
        at.secrets = secrets
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def test_login_form_refuses_wrong_password_then_signs_in_and_out(app_env, accounts):
    auth.add_user("wang", "leader", "leader-pass", path=accounts, rounds=FAST)
    at = app().run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD
    assert len(at.metric) == 0  # nothing of the data before sign-in

    sign_in(at, "wang", "not-the-password")
    assert [e.value for e in at.error] == ["用户名或密码错误"]
    assert len(at.metric) == 0

    sign_in(at, "wang", "leader-pass")
    assert not at.exception
    assert len(at.metric) > 0
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "已登录：wang · 领导" in sidebar and "本机模式" not in sidebar

    at.sidebar.button(key="_dayuan_sign_out").click().run()
    assert len(at.metric) == 0 and len(at.text_input) == 2


def test_removed_account_is_signed_out_on_next_run(app_env, accounts):
    auth.add_user("wang", "leader", "leader-pass", path=accounts, rounds=FAST)
    auth.add_user("chen", "viewer", "viewer-pass", path=accounts, rounds=FAST)
    at = sign_in(app().run(), "chen", "viewer-pass")
    assert len(at.metric) > 0
    auth.remove_user("chen", path=accounts)
    at.run()
    assert len(at.metric) == 0 and len(at.text_input) == 2


def test_forged_session_state_role_is_ignored_with_accounts(app_env, accounts):
    auth.add_user("chen", "viewer", "viewer-pass", path=accounts, rounds=FAST)
    at = app().run()
    at.session_state["role"] = "leader"  # not a sign-in: the app must ignore it
    at.run()
    assert len(at.metric) == 0 and len(at.text_input) == 2


def test_a_session_id_alone_carries_no_identity(app_env, accounts, monkeypatch):
    """A sign-in held in the session counts only on the connection that made it: reconnecting with the
    session id (another websocket handshake) and no session cookie is signed out."""
    auth.add_user("wang", "leader", "leader-pass", path=accounts, rounds=FAST)
    at = sign_in(app().run(), "wang", "leader-pass")
    assert len(at.metric) > 0
    held = at.session_state["_dayuan_signed_in"]
    assert held[0] == "wang" and held[2] is None  # AppTest has no handshake key
    monkeypatch.setattr(type(st.context), "headers", property(lambda self: {"Sec-Websocket-Key": "another-one"}))
    at.run()
    assert len(at.metric) == 0 and len(at.text_input) == 2


def test_a_role_change_ends_the_sign_in(app_env, accounts):
    auth.add_user("chen", "inspector", "inspector-pass", path=accounts, rounds=FAST)
    at = sign_in(app().run(), "chen", "inspector-pass")
    assert len(at.metric) > 0
    auth.set_role("chen", "viewer", path=accounts)
    at.run()
    assert len(at.metric) == 0 and len(at.text_input) == 2


def test_local_mode_serves_loopback_and_says_so(app_env, accounts):
    at = app().run()
    assert not at.exception and len(at.metric) > 0
    assert "本机模式：仅限本机访问" in [c.value for c in at.sidebar.caption]


def test_local_mode_refuses_other_machines(app_env, accounts, monkeypatch):
    monkeypatch.setattr(type(st.context), "ip_address", property(lambda self: "192.168.1.20"))
    at = app().run()
    assert not at.exception
    assert "本机模式只接受本机访问" in at.error[0].value
    assert len(at.metric) == 0


def test_accounts_are_served_to_other_machines(app_env, accounts, monkeypatch):
    auth.add_user("wang", "leader", "leader-pass", path=accounts, rounds=FAST)
    monkeypatch.setattr(type(st.context), "ip_address", property(lambda self: "192.168.1.20"))
    at = sign_in(app().run(), "wang", "leader-pass")
    assert len(at.metric) > 0


def test_damaged_accounts_file_lets_no_one_in(app_env, accounts):
    accounts.parent.mkdir(parents=True, exist_ok=True)
    accounts.write_text("[users.x\n")
    at = app().run()
    assert "账号配置文件无法读取" in at.error[0].value
    assert len(at.metric) == 0


OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
                         "client_id": "dayuan", "client_secret": "x",
                         "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}}


def test_oidc_sign_in_button_when_provider_configured(app_env, accounts):
    at = app(**OIDC_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["使用单位账号登录"]
    assert len(at.text_input) == 0 and len(at.metric) == 0


def test_oidc_identity_gets_role_from_mapping(app_env, accounts):
    accounts.parent.mkdir(parents=True, exist_ok=True)
    accounts.write_text('[oidc.roles]\n"chen@dayuan.gov.cn" = "viewer"\n')
    at = app(**OIDC_SECRETS)
    at.user = {"is_logged_in": True, "email": "chen@dayuan.gov.cn", "email_verified": True, "name": "Chen"}
    at.run()
    assert not at.exception and len(at.metric) > 0
    assert "已登录：Chen · 访客" in " ".join(c.value for c in at.sidebar.caption)

    at.user = {"is_logged_in": True, "email": "stranger@example.com", "name": "Stranger"}
    at.run()
    assert "未分配角色" in at.error[0].value and len(at.metric) == 0


@pytest.fixture(autouse=True)
def _router_runs_every_time(router_runs_every_time):
    """Every run goes through app.py, as on a server after its first request (conftest)."""


def test_audit_page_shows_leaders_every_entry(app_env, accounts, tmp_path):
    from dayuan_geo import audit

    log = tmp_path / "logs" / "audit.jsonl"  # the accounts fixture points DAYUAN_AUDIT_FILE here
    audit.record(user="chen", role="inspector", action="export", what="firms", rows=31,
                 filters={"risk_levels": ["blacklisted", "high_risk"]}, detail={"format": "xlsx"}, path=log)
    audit.record(user="li", role="planner", action="import", what="parcels", rows=12, path=log)
    auth.add_user("wang", "leader", "leader-pass", path=accounts, rounds=FAST)
    at = sign_in(app().run(), "wang", "leader-pass")
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    assert at.title[0].value == "审计日志：导出与导入"
    assert at.success[0].value == "日志链完整：未发现修改或删除"
    table = at.dataframe[0].value
    import getpass

    # adding wang's account is itself the newest entry
    assert list(table["用户"]) == [getpass.getuser(), "li", "chen"] and list(table["行数"])[1:] == ["12", "31"]
    assert "blacklisted" in table["筛选条件"].iloc[2] and list(table["操作"]) == ["账号变更", "导入", "导出"]

    lines = log.read_text().splitlines()
    log.write_text(lines[1] + "\n")  # someone removed the first entry
    at.run()
    assert at.error[0].value.startswith("日志链断裂")


def test_audit_page_closed_to_planners(app_env, accounts):
    auth.add_user("li", "planner", "planner-pass", path=accounts, rounds=FAST)
    at = sign_in(app().run(), "li", "planner-pass")
    with pytest.raises(ValueError, match="navigation page"):
        at.switch_page("pages/audit.py")
