"""Webhooks: signed JSON through the durable outbox, retries, Retry-After, dead letters (httpx.MockTransport)."""

import json
from datetime import datetime, timezone

import httpx
import pytest

from bot.webhooks import WebhookSender, retry_after_s, sign, verify
from config.secrets import Secret
from config.settings import WebhookSettings, load_settings
from handlers.delivery import deliver_due
from handlers.liveness import run_checks
from handlers.webhook_subscribers import sync_webhooks
from storage import outbox, subscribers
from tests.bot.conftest import capture, make_post

SECRET = "s3cret-s3cret-s3cret"


def hook(**kw) -> WebhookSettings:
    base = dict(name="newsroom", url="https://hooks.example/tgwatch", secret=Secret(SECRET))
    base.update(kw)
    return WebhookSettings(**base)


class Receiver:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        r = self.responses.pop(0) if self.responses else httpx.Response(200)
        if isinstance(r, Exception):
            raise r
        return r


async def _setup(deps, receiver, **hook_kw):
    h = hook(**hook_kw)
    await sync_webhooks(deps, [h])
    return WebhookSender([h], transport=httpx.MockTransport(receiver), clock=deps.clock)


async def test_alert_is_posted_signed_with_idempotency_key(deps):
    rx = Receiver()
    sender = await _setup(deps, rx)
    await capture(deps, make_post(1, "Помилованы 14 человек"))
    rnd = await deliver_due(deps, {"webhook": sender})
    assert rnd.sent == 1
    req = rx.requests[0]
    body = req.content
    assert req.headers["X-Tgwatch-Signature"] == "sha256=" + __import__("hmac").new(
        SECRET.encode(), body, "sha256").hexdigest()
    assert verify(SECRET, body, req.headers["X-Tgwatch-Signature"])
    assert not verify("wrong-secret-wrong", body, req.headers["X-Tgwatch-Signature"])
    payload = json.loads(body)
    assert payload["event"] == "alert.created" and payload["post"]["message_id"] == 1
    assert req.headers["Idempotency-Key"] == payload["idempotency_key"]
    assert req.headers["X-Tgwatch-Timestamp"] == str(int(deps.clock().timestamp()))
    assert req.headers["X-Tgwatch-Event"] == "alert.created"
    await sender.aclose()


async def test_retry_after_is_honoured_and_key_is_stable(deps, clock):
    rx = Receiver(httpx.Response(429, headers={"Retry-After": "120"}), httpx.Response(503),
                  httpx.ConnectError("refused"), httpx.Response(500), httpx.Response(204))
    sender = await _setup(deps, rx)
    await capture(deps, make_post(1, "Помилованы 14 человек"))
    await deliver_due(deps, {"webhook": sender})
    item = (await outbox.for_post(deps.db, 42, 1))[0]
    assert (item.next_attempt_at - clock()).total_seconds() == 120
    clock.advance(119)
    assert (await deliver_due(deps, {"webhook": sender})).sent == 0 and len(rx.requests) == 1
    for _ in range(4):
        clock.advance(3600)
        await deliver_due(deps, {"webhook": sender})
    assert len(rx.requests) == 5
    assert len({r.headers["Idempotency-Key"] for r in rx.requests}) == 1
    assert (await outbox.for_post(deps.db, 42, 1))[0].status == "sent"
    await sender.aclose()


async def test_4xx_dead_letters_without_deactivating_and_is_reported(deps, clock):
    rx = Receiver(httpx.Response(400))
    sender = await _setup(deps, rx)
    await capture(deps, make_post(1, "Помилованы 14 человек"))
    await deliver_due(deps, {"webhook": sender})
    assert (await outbox.for_post(deps.db, 42, 1))[0].status == "failed"
    assert (await subscribers.find(deps.db, "webhook", "newsroom")).status == "active"
    assert await run_checks(deps) == 1
    assert await run_checks(deps) == 0  # once per state change
    notice = await deps.db.fetchval("SELECT payload FROM outbox WHERE kind = 'notice'")
    assert "dead-lettered" in notice and "webhook newsroom" in notice
    await sender.aclose()


async def test_out_of_attempts_is_dead(deps, clock):
    from dataclasses import replace
    from config.settings import DeliverySettings

    d = replace(deps, delivery=DeliverySettings(max_attempts=3))
    rx = Receiver(*[httpx.Response(502)] * 5)
    sender = await _setup(d, rx)
    await capture(d, make_post(1, "Помилованы 14 человек"))
    for _ in range(3):
        await deliver_due(d, {"webhook": sender})
        clock.advance(3600)
    assert (await outbox.for_post(d.db, 42, 1))[0].status == "dead"
    await sender.aclose()


async def test_filters_from_config(deps):
    rx = Receiver()
    sender = await _setup(deps, rx, labels=("release",), terms=("Tsikhanouski",))
    await capture(deps, make_post(1, "Помилованы 14 человек"))
    await capture(deps, make_post(2, "Ціханоўскага вызвалілі"))
    await deliver_due(deps, {"webhook": sender})
    assert [json.loads(r.content)["post"]["message_id"] for r in rx.requests] == [2]
    await sender.aclose()


async def test_sync_is_idempotent_and_retires_removed_hooks(deps, db):
    a = await sync_webhooks(deps, [hook(), hook(name="cms", channels=("@unknown",))])
    b = await sync_webhooks(deps, [hook(), hook(name="cms", channels=("@unknown",))])
    assert a == b
    f = await subscribers.subscription(db, a["cms"])
    assert f.channel_ids == (0,)  # unknown channel: receive nothing rather than everything
    await sync_webhooks(deps, [hook()])
    assert (await subscribers.find(db, "webhook", "cms")).status == "removed"


def test_retry_after_parsing():
    now = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)
    assert retry_after_s("30", now) == 30
    assert retry_after_s("Mon, 10 Mar 2025 08:01:00 GMT", now) == 60
    assert retry_after_s("garbage", now) is None
    assert retry_after_s(None, now) is None
    assert retry_after_s("99999999", now) == 6 * 3600


def test_signature_is_over_the_exact_body():
    assert sign("k" * 16, b"{}") != sign("k" * 16, b"{ }")


def test_config_parses_webhooks(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[[webhooks]]\nname = "cms"\nurl = "https://x.example/h"\nsecret = "0123456789abcdef"\n'
                 'labels = ["pardon"]\nterms = ["Bialiatski"]\n', encoding="utf-8")
    s = load_settings(p, env={})
    assert s.webhooks[0].name == "cms" and s.webhooks[0].terms == ("Bialiatski",)


@pytest.mark.parametrize("status", [301, 401, 404, 410])
async def test_other_statuses_reject(deps, status):
    rx = Receiver(httpx.Response(status))
    sender = await _setup(deps, rx)
    await capture(deps, make_post(1, "Помилованы 14 человек"))
    rnd = await deliver_due(deps, {"webhook": sender})
    assert rnd.failed == 1
    await sender.aclose()
