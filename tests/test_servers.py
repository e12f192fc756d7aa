"""The throwaway servers in tests/servers.py start for real, work, and leave nothing behind."""

import os
import smtplib
import socket
from email.message import EmailMessage

import psycopg
import pytest
import redis
from imapclient import IMAPClient

from tests import servers


def _refuses(port: int) -> bool:
    try:
        socket.create_connection((servers.HOST, port), timeout=1).close()
    except OSError:
        return True
    return False


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_postgres_accepts_connections_and_creates_databases():
    with servers.postgres_server() as pg:
        assert pg.url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/helpdesk_test"
        with psycopg.connect(_libpq(pg.url)) as conn:
            assert conn.execute("select current_database()").fetchone() == ("helpdesk_test",)

        other = pg.create_database("helpdesk_other")
        assert other.endswith(f":{pg.port}/helpdesk_other")
        with psycopg.connect(_libpq(other)) as conn:
            conn.execute("create table t (x int)")
            conn.execute("insert into t values (42)")
            assert conn.execute("select x from t").fetchone() == (42,)
    assert not os.path.exists(pg.dir)
    assert _refuses(pg.port)


def test_redis_answers_ping():
    with servers.redis_server() as rds:
        assert rds.url == f"redis://127.0.0.1:{rds.port}/0"
        client = redis.Redis.from_url(rds.url)
        assert client.ping() is True
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        client.close()
    assert not os.path.exists(rds.dir)
    assert _refuses(rds.port)


MESSAGE = (
    b"From: customer@example.test\r\nTo: support@example.test\r\n"
    b"Subject: Printer on fire\r\nMessage-ID: <1@example.test>\r\n\r\nHelp!\r\n"
)


def test_dovecot_logs_in_appends_and_fetches_without_marking_seen():
    with servers.dovecot_server({"support@example.test": "secret"}) as imap:
        assert imap.users == {"support@example.test": "secret"}
        with IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10) as client:
            client.login("support@example.test", "secret")
            client.select_folder("INBOX")
            client.append("INBOX", MESSAGE)
            uids = client.search("ALL")
            assert len(uids) == 1
            fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])[uids[0]]
            assert fetched[b"BODY[]"] == MESSAGE
            assert b"\\Seen" not in fetched[b"FLAGS"]
    assert not os.path.exists(imap.dir)


def test_two_dovecots_run_at_once_with_their_own_users():
    with (
        servers.dovecot_server({"a@example.test": "one"}) as first,
        servers.dovecot_server({"b@example.test": "two"}) as second,
    ):
        assert first.port != second.port
        second.add_user("c@example.test", "three")
        for server, user, password in [
            (first, "a@example.test", "one"),
            (second, "b@example.test", "two"),
            (second, "c@example.test", "three"),
        ]:
            with IMAPClient(server.host, port=server.port, ssl=False, timeout=10) as client:
                client.login(user, password)
                client.append("INBOX", MESSAGE)
        # Each instance keeps its own mail (a failed login would prove it too, but costs 2 s).
        assert os.listdir(f"{first.dir}/mail") == ["a@example.test"]
        assert sorted(os.listdir(f"{second.dir}/mail")) == ["b@example.test", "c@example.test"]


def test_smtp_keeps_every_message_sent_with_smtplib():
    with servers.smtp_server() as smtp:
        message = EmailMessage()
        message["From"] = "support@example.test"
        message["To"] = "customer@example.test"
        message["Subject"] = "[#1042] We are on it"
        message.set_content("Hello")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            client.send_message(message)
            client.sendmail("bounce@example.test", ["x@example.test", "y@example.test"], MESSAGE)

        first, second = smtp.wait_for(2)
        assert first.mail_from == "support@example.test"
        assert first.rcpt_tos == ["customer@example.test"]
        assert b"Subject: [#1042] We are on it" in first.content
        assert second.rcpt_tos == ["x@example.test", "y@example.test"]
        assert second.content == MESSAGE

        smtp.clear()
        assert smtp.messages == []
        with pytest.raises(TimeoutError, match="expected 1 message"):
            smtp.wait_for(1, timeout=0.1)


def test_missing_binary_is_one_clear_line():
    with pytest.raises(RuntimeError) as error:
        servers._require("/nonexistent/dovecot", "dovecot-imapd")
    assert "\n" not in str(error.value)
    assert "dovecot-imapd" in str(error.value)
