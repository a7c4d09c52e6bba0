"""The status page of a running bot in headless Chromium (Debian's `chromium` and `chromium-driver`,
driven by Selenium with /usr/bin/chromedriver, never selenium-manager), during a real build on local
jobs; `/metrics` of the same bot as Prometheus parses it. Screenshots go to `.cache/artefacts/`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.harness import PR, REPO, SECRET, BotProcess
from tests.e2e.test_intake import bot_comments, comment_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.upstream import BUILD_SH, Upstream, make_upstream
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTEFACTS = Path(__file__).resolve().parents[2] / ".cache" / "artefacts"
TOKEN = "status-" + uuid.uuid4().hex
ONE_NODE_TYPE = """{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2",
                   "repo_targets": ["eessi.io-2023.06-software"]}}"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Tuple[BotProcess, FakeGitHub, Upstream]]:
    upstream = make_upstream(tmp_path / "remote")
    upstream.commit("main", {"bot/build.sh": BUILD_SH.replace('sleep "${BUILD_SECONDS:-0}"', "sleep 4")},
                    "a build that takes a moment")
    with FakeGitHub() as github:
        github.add_repo(REPO, clone_url=upstream.url, ssh_url=upstream.url)
        head = upstream.open_pr(PR, {"easystack.yml": "easyconfigs:\n  - zlib-1.3.eb\n  - GCC-13.2.0.eb\n"})
        github.add_pull(REPO, PR, title="Add zlib", user_login="contributor", base_sha=upstream.sha("main"),
                        head_ref="pr7", head_sha=head)
        bot = BotProcess(tmp_path / "site", github, node_type_map=ONE_NODE_TYPE,
                         extra_config="\n[job_manager]\npoll_interval = 1\n")
        bot.config.write_text(bot.config.read_text().replace("[bot]\n", f"[bot]\nstatus_token = {TOKEN}\n", 1))
        bot.start()
        yield bot, github, upstream
        bot.cancel_local_jobs()
        bot.stop()
        assert github.schema_errors == []


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/test.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def metrics(bot: BotProcess) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    response = requests.get(bot.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def total(parsed: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= set(ls))


def secrets_of(bot: BotProcess, github: FakeGitHub) -> List[str]:
    """What must never show: the webhook secret, the App's private key, the status token, every
    installation token GitHub gave the bot."""
    key_lines = [line for line in github.private_key_pem.splitlines() if line and "PRIVATE KEY" not in line]
    tokens = list(github.state._tokens)
    assert tokens, "the bot got an installation token"
    return [SECRET, TOKEN, *key_lines[1:4], *tokens]


def test_the_status_page_follows_a_build_to_its_end(site: Tuple[BotProcess, FakeGitHub, Upstream],
                                                    browser: WebDriver) -> None:
    bot, github, _ = site
    driver = browser
    for path in ("/", f"/pr/{REPO}/{PR}", "/job/1", "/metrics"):
        assert requests.get(bot.url + path, timeout=5).status_code == 401, path
    assert requests.get(bot.url + "/healthz", timeout=5).json()["status"] == "ok"
    before = metrics(bot)

    driver.get(f"{bot.url}/?token={TOKEN}")
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("test-bot")
    bot.send("issue_comment", comment_payload(github, "bot: build for:arch=x86_64/amd/zen2"))

    seen: Set[str] = set()

    def job_state() -> str:
        driver.refresh()
        cells = driver.find_elements(By.CSS_SELECTOR, "tr.job td.state")
        seen.update(cell.text for cell in cells)
        return cells[0].text if cells else ""

    wait_for(lambda: job_state() == "finished", timeout=90)
    assert seen & {"submitted", "released", "running"}, f"saw the job before its end: {seen}"
    assert "SUCCESS" in driver.find_element(By.CSS_SELECTOR, "tr.job td.result").text
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTEFACTS / "status-page.png"))

    driver.find_element(By.LINK_TEXT, f"{REPO}#{PR}").click()
    assert driver.current_url == f"{bot.url}/pr/{REPO}/{PR}"
    assert driver.find_element(By.ID, "pr-title").text == f"{REPO}#{PR}"
    assert driver.find_element(By.CSS_SELECTOR, "tr.job td.state").text == "finished"
    assert "handled" in driver.find_element(By.CSS_SELECTOR, "tr.delivery").text
    (comment,) = wait_for(lambda: [c for c in bot_comments(github) if "|finished|" in c["body"]])
    driver.refresh()
    assert driver.find_element(By.LINK_TEXT, "comment").get_attribute("href") == comment["html_url"]
    assert driver.save_screenshot(str(ARTEFACTS / "status-pr-page.png"))

    job = driver.find_element(By.CSS_SELECTOR, "tr.job td a")
    job_id = job.text
    job.click()
    assert driver.find_element(By.ID, "job-title").text == f"Job {job_id} of {REPO}#{PR}"

    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []

    pages = [driver.page_source, requests.get(f"{bot.url}/?token={TOKEN}", timeout=5).text,
             requests.get(f"{bot.url}/pr/{REPO}/{PR}?token={TOKEN}", timeout=5).text]
    exposition = requests.get(bot.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text
    for secret in secrets_of(bot, github):
        for text in (*pages, exposition):
            assert secret not in text

    after = metrics(bot)
    moved = {name: total(after, name, **labels) - total(before, name, **labels) for name, labels in (
        ("eessi_bot_deliveries_total", {"event": "issue_comment", "result": "queued"}),
        ("eessi_bot_deliveries_handled_total", {"event": "issue_comment", "outcome": "done"}),
        ("eessi_bot_github_calls_total", {"call": "create_comment"}),
        ("eessi_bot_jobs_finished_total", {"node_type": "cpu_zen2", "end_state": "COMPLETED", "result": "SUCCESS"}),
        ("eessi_bot_job_run_seconds_count", {"node_type": "cpu_zen2"}),
        ("eessi_bot_manager_cycle_duration_seconds_count", {}),
    )}
    assert all(change >= 1 for change in moved.values()), moved
    assert total(after, "eessi_bot_jobs_total", state="finished", node_type="cpu_zen2") == 1
    assert total(after, "eessi_bot_github_rate_limit_remaining") > 0
