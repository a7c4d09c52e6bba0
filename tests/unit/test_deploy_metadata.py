"""The `.meta.txt` that EESSI's ingestion reads: its three objects as the EESSI script wrote them, ours apart."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from eessi_bot.core.deploy.metadata import (
    EXTRA_SECTION,
    BotFacts,
    Payload,
    PrLink,
    Uploader,
    ctime_text,
    render_metadata,
)
from tests.golden import assert_golden

ARTEFACT = "eessi-2023.06-software-linux-x86_64-amd-zen2-1724830000.tar.gz"
UPLOADER = Uploader("eessibot", "10.0.0.5", "login1.cluster.example.org")
PAYLOAD = Payload(ARTEFACT, 123456789, "Wed Aug 28 07:33:20 UTC 2024", "ab" * 32,
                  f"https://eessi-staging.s3.amazonaws.com/2023.06/software/linux/x86_64/amd/zen2/1724830000/{ARTEFACT}")
LINK = PrLink("EESSI/software-layer", 42, 2345678901)
BOT = BotFacts(base_sha="1" * 40, head_sha="2" * 40, job_id="1234", node_type="cpu_zen2", instance="bot-aws",
               approved_by="maintainer", repo_id="eessi.io-2023.06-software", policy="latest",
               software_subdir="x86_64/amd/zen2")


def test_golden_meta_txt() -> None:
    assert_golden("deploy/eessi-meta.txt", render_metadata(UPLOADER, PAYLOAD, LINK, BOT))


def test_golden_meta_txt_gpu() -> None:
    bot = replace(BOT, accelerator="nvidia/cc80", node_type="gpu_a100")
    assert_golden("deploy/eessi-meta-accel.txt", render_metadata(UPLOADER, PAYLOAD, LINK, bot))


def test_eessi_readers_see_their_objects_only_strings() -> None:
    """What EESSI's ingestion reads (`payload.filename`, `link2pr.pr`, ...) is there, as strings."""
    document = json.loads(render_metadata(UPLOADER, PAYLOAD, LINK, BOT))
    assert list(document) == ["uploader", "payload", "link2pr", EXTRA_SECTION]
    assert document["payload"] == {"filename": ARTEFACT, "size": "123456789", "ctime": PAYLOAD.ctime,
                                   "sha256sum": "ab" * 32, "url": PAYLOAD.url}
    assert document["link2pr"] == {"repo": "EESSI/software-layer", "pr": "42", "pr_comment_id": "2345678901"}
    assert list(document["uploader"]) == ["username", "ip", "hostname"]
    assert all(isinstance(v, str) for section in document.values() for v in section.values())


@pytest.mark.parametrize("hostname", ['evil"host\n', "h\u00f6st", "\x00\x1f", "}{"],
                         ids=["quote-newline", "non-ascii", "control", "braces"])
def test_odd_values_stay_inside_their_strings(hostname: str) -> None:
    data = render_metadata(replace(UPLOADER, hostname=hostname), PAYLOAD, LINK, BOT)
    assert json.loads(data)["uploader"]["hostname"] == hostname
    assert data.endswith(b"}\n") and data.count(b"\n") == render_metadata(UPLOADER, PAYLOAD, LINK, BOT).count(b"\n")


@pytest.mark.parametrize(("timestamp", "text"), [
    (1724830400, "Wed Aug 28 07:33:20 UTC 2024"),
    (1704067200, "Mon Jan  1 00:00:00 UTC 2024"),
    (0, "Thu Jan  1 00:00:00 UTC 1970"),
], ids=["two-digit-day", "padded-day", "epoch"])
def test_ctime_text_as_date_r(timestamp: float, text: str) -> None:
    assert ctime_text(timestamp) == text
