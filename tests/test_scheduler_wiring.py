"""The scheduler only triggers use cases; the app wires webhooks and jobs from settings."""

from bot.app import build_service
from bot.scheduler import _guarded, build_scheduler
from bot.errors import StorageError
from config.settings import load_settings
from storage import subscribers


async def test_scheduler_has_digest_liveness_and_search_index_jobs(deps):
    sched = build_scheduler(deps)
    sched.start()
    try:
        assert {j.id for j in sched.get_jobs()} == {"digests", "liveness", "search_index"}
    finally:
        sched.shutdown(wait=False)


async def test_a_failing_job_is_logged_not_raised(deps, caplog):
    async def broken(_deps):
        raise StorageError("the database is locked")

    await _guarded("digest", broken, deps)
    assert "digest job failed" in caplog.text


async def test_build_service_syncs_webhooks_and_adds_their_sender(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[access]\nmode = "invite"\noperators = [1000]\n'
        '[[webhooks]]\nname = "cms"\nurl = "https://x.example/h"\nsecret = "0123456789abcdef"\n', encoding="utf-8")
    settings = load_settings(cfg, env={})
    svc = await build_service(settings, {}, db_path=tmp_path / "s.db")
    try:
        assert "webhook" in svc.senders
        assert svc.deps.access_mode == "invite" and svc.deps.operators == (1000,)
        assert (await subscribers.find(svc.db, "webhook", "cms")).status == "active"
    finally:
        await svc.close()
