"""The scripted journalist/operator session runs end to end (it is what the issue note quotes)."""

import io

from handlers.transcript import run


async def test_transcript_runs():
    out = io.StringIO()
    await run(out)
    text = out.getvalue()
    for expected in ("=== Journalist session ===", "=== Operator session ===", "count 14 → 15",
                     "deleted by the channel", "Digest: 1 alert(s)", "[✅ Approve → op:ap:2]",
                     "Sorry, that command is for the operators", "everything stored about you is deleted"):
        assert expected in text, expected
    assert "went wrong" not in text
