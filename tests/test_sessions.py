"""Signed sign-in cookies: one-time tickets, forged or stale cookies refused, sign-out lasting across restarts."""

from __future__ import annotations

import stat

import pytest

from dayuan_geo import sessions


@pytest.fixture
def accounts(tmp_path, monkeypatch):
    """An accounts file's place, and a process that has not read any revocation list yet."""
    monkeypatch.setattr(sessions, "_revoked", {})
    monkeypatch.setattr(sessions, "_revoked_seen", {})
    return tmp_path / "config" / "auth.toml"


def _signed_in(accounts) -> str:
    token = sessions.ticket(accounts, name="wang", role="planner", password_hash="h1")
    return sessions.redeem(accounts, token)


def test_a_ticket_is_redeemed_once_for_a_cookie_naming_the_account(accounts):
    token = sessions.ticket(accounts, name="wang", role="planner", password_hash="h1")
    cookie = sessions.redeem(accounts, token)
    name, fingerprint, cookie_id = sessions.read(accounts, cookie)
    assert (name, fingerprint) == ("wang", sessions.fingerprint("planner", "h1")) and cookie_id
    assert sessions.redeem(accounts, token) is None  # spent
    assert sessions.fingerprint("leader", "h1") != fingerprint != sessions.fingerprint("planner", "h2")


def test_forged_or_foreign_cookies_are_refused(accounts, tmp_path):
    cookie = _signed_in(accounts)
    assert sessions.read(accounts, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    assert sessions.read(accounts, "") is None and sessions.read(accounts, None) is None
    other = tmp_path / "elsewhere" / "auth.toml"  # another installation signs with its own key
    assert sessions.read(other, cookie) is None
    key = sessions._key_file(accounts)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_sign_out_voids_every_copy_of_the_cookie_even_after_a_restart(accounts, monkeypatch):
    cookie, kept = _signed_in(accounts), _signed_in(accounts)
    cookie_id = sessions.read(accounts, cookie)[2]
    sessions.revoke(accounts, cookie_id)
    assert sessions.read(accounts, cookie) is None
    assert sessions.read(accounts, kept) is not None  # another browser's sign-in goes on
    listed = (accounts.parent / "session.revoked").read_text(encoding="ascii").split()
    assert listed[0] == cookie_id and stat.S_IMODE((accounts.parent / "session.revoked").stat().st_mode) == 0o600
    # a restart: the process forgets what it knew; the list on disk still voids the copy
    monkeypatch.setattr(sessions, "_revoked", {})
    monkeypatch.setattr(sessions, "_revoked_seen", {})
    assert sessions.read(accounts, cookie) is None
    assert sessions.read(accounts, kept) is not None


def test_expired_revocations_are_dropped_and_a_torn_line_is_skipped(accounts, monkeypatch):
    cookie = _signed_in(accounts)
    cookie_id = sessions.read(accounts, cookie)[2]
    listed = accounts.parent / "session.revoked"
    listed.write_text(f"old-id 1000\nhalf-writ\n{cookie_id} 9999999999\n", encoding="ascii")
    assert sessions.read(accounts, cookie) is None  # the line after the torn one counts
    other_id = sessions.read(accounts, _signed_in(accounts))[2]
    sessions.revoke(accounts, other_id)
    ids = [line.split()[0] for line in listed.read_text(encoding="ascii").splitlines()]
    assert "old-id" not in ids and set(ids) == {cookie_id, other_id}
