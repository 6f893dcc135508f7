"""The README's first command: the demo campaign ends with three valid personalised MP4s."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from campaigns.models import Campaign
from core.storage import get_storage
from render.compose.probe import probe
from render.models import Render, RenderStatus


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_demo_renders_three_personalised_mp4s_through_the_approval_gate(tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("demo", stdout=out)
    campaign = Campaign.objects.get()
    assert campaign.approved_by == "demo command (operator)"
    renders = list(Render.objects.filter(campaign_link__campaign=campaign))
    assert len(renders) == 3
    assert {r.status for r in renders} == {RenderStatus.SUCCEEDED}
    assert len({r.variables["first_name"] for r in renders}) == 3
    assert "Done: 3 MP4s." in out.getvalue()
    assert out.getvalue().count("watch page: http") == 3  # each recipient's link, printed with its MP4
    for render in renders:
        video = get_storage().fetch(render.video_key, tmp_path / f"{render.pk}.mp4")
        info = probe(video)
        assert (info.width, info.height, info.fps) == (1080, 1920, 30)
        assert info.duration == pytest.approx(6.0, abs=1 / 30)
        assert info.has_audio
        # The first scene says the name (issue 15): its captions are the spoken words.
        captions = get_storage().fetch(render.outputs[0]["captions_key"], tmp_path / f"{render.pk}.vtt")
        assert f"Hi {render.variables['first_name']}," in captions.read_text(encoding="utf-8")
