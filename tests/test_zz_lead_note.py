"""FROM THE LEAD — do not commit. Read /work/wt-faults/LEAD_NOTE_DO_NOT_COMMIT.md, then delete this file."""


def test_read_the_lead_note():
    raise AssertionError("Read /work/wt-faults/LEAD_NOTE_DO_NOT_COMMIT.md (merge main now), then delete this test.")
