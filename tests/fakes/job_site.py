"""jobs/ wired to fakes: the in-memory store, the fake scheduler and git, a fake clock and the
in-memory GitHub. No process, no git, no database file: jobs/ unit tests run in milliseconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

from eessi_bot.adapters.config_files import load_config
from eessi_bot.core.build_report import BuildReport
from eessi_bot.core.deploy.metadata import Uploader
from eessi_bot.core.effects import marker
from eessi_bot.core.jobs import Job
from eessi_bot.core.targets import Target
from eessi_bot.deploy.deployer import Deployer
from eessi_bot.deploy.service import DeployService
from eessi_bot.deploy.transfer import Transfer
from eessi_bot.jobs.build import BuildService
from eessi_bot.jobs.manager import JobManager
from eessi_bot.jobs.service import JobService
from eessi_bot.ports.github import PullRequest
from eessi_bot.ports.jobs import Request
from eessi_bot.ports.store import OutboxItem
from eessi_bot.ports.wakeup import Wakeup
from tests.fakes.clock import FakeClock
from tests.fakes.git import BASE_SHA, HEAD_SHA, FakeGit
from tests.fakes.github_port import FlakyGitHub
from tests.fakes.memory_store import MemoryStore
from tests.fakes.object_store import FakeObjectStore, FakeSigner
from tests.fakes.scheduler import FakeScheduler
from tests.fakes.site import write_site

REPO = "eessi/software-layer"
PR = 7
UPLOADER = Uploader(username="eessibot", ip="10.1.2.3", hostname="login1.cluster.example")


class JobSite:
    def __init__(self, root: Path, **site: Any) -> None:
        config, problems = load_config(write_site(root, **site), {"HOME": str(root)})
        assert config is not None, [p.render() for p in problems]
        self.config = config
        self.root = root
        self.clock = FakeClock()
        self.store = MemoryStore()
        self.scheduler = FakeScheduler()
        self.git = FakeGit()
        self.github = FlakyGitHub(app_id=config.github.app_id, slug="test-bot-app")
        self.github.add_pull(PullRequest(repo=REPO, number=PR, state="open", base_ref="main", base_sha=BASE_SHA,
                                         head_sha=HEAD_SHA, clone_url="https://git.example/eessi/software-layer.git",
                                         ssh_url="git@git.example:eessi/software-layer.git",
                                         html_url=f"https://github.com/{REPO}/pull/{PR}"))
        self.jobs_changed = Wakeup()
        self.writes_waiting = Wakeup()
        self.builder = BuildService(config, self.github, self.git, self.scheduler, self.store, self.clock,
                                    root / "bot-build.slurm", environment={"PATH": "/usr/bin", "HOME": str(root)})
        self.service = JobService(self.builder, self.store, self.scheduler, self.clock, self.jobs_changed,
                                  cancel_on_close=config.clean_up.cancel_on_close)
        self.manager = JobManager(config, self.store, self.scheduler, self.clock, self.jobs_changed,
                                  self.writes_waiting)
        self.objects = FakeObjectStore()
        self.signer = FakeSigner()
        self.uploads_waiting = Wakeup()
        self.deploys = DeployService(self.store, self.clock, self.uploads_waiting)
        self.deployer = Deployer(config, self.store, Transfer(config, self.objects, self.signer, UPLOADER),
                                 self.clock, self.uploads_waiting, self.writes_waiting)
        self._lines = 0

    def request(self, delivery_id: str = "d1", line: Optional[int] = None) -> Request:
        if line is None:
            self._lines += 1
            line = self._lines
        return Request(repo=REPO, number=PR, sender="maintainer", comment_id=500 + line,
                       comment_url=f"https://github.com/{REPO}/pull/{PR}#issuecomment-{500 + line}",
                       delivery_id=delivery_id, line=line, received_at=self.clock.now())

    def targets(self, *nodes: str) -> List[Target]:
        """A native build on each named node type (all of them by default) for each of its repositories."""
        chosen = [n for n in self.config.node_types if not nodes or n.name in nodes]
        return [Target(node=node, repo_id=repo_id, software_subdir=node.cpu_subdir, accelerator=None,
                       on_accelerator=None) for node in chosen for repo_id in node.repo_targets]

    def build(self, *nodes: str, request: Optional[Request] = None, exports: tuple = ()) -> BuildReport:
        return self.service.build(request or self.request(), self.targets(*nodes), exports)

    def jobs(self) -> List[Job]:
        return self.store.jobs.for_pr(REPO, PR)

    def job(self, job_id: str) -> Job:
        return next(job for job in self.jobs() if job.job_id == job_id)

    def write_result(self, job: Job, status: str = "SUCCESS", description: str = "built GCC",
                     artefacts: str = "") -> None:
        listed = "".join(f"\n    {name}" for name in artefacts.splitlines())
        text = f"[RESULT]\ncomment_description = {description}\nstatus = {status}\nartefacts ={listed}\n"
        (Path(job.job_dir) / f"_bot_job{job.job_id}.result").write_text(text, encoding="utf-8")
        (Path(job.job_dir) / f"_bot_job{job.job_id}.test").write_text(
            "[TEST]\ncomment_description = tests passed\nstatus = SUCCESS\n", encoding="utf-8")

    def comment(self, key: str) -> Optional[OutboxItem]:
        return self.store.outbox.get(key)

    def comment_body(self, job: Job) -> str:
        item = self.store.outbox.get(job.comment_key)
        assert item is not None, f"no comment for {job.comment_key}"
        return item.body.replace("\n\n" + marker(job.comment_key), "")

    def finish(self, job: Job, status: str = "SUCCESS", artefacts: str = "", state: str = "COMPLETED") -> Job:
        """Let the job run to its end with this result file; the job as saved after the cycle."""
        self.write_result(job, status=status, artefacts=artefacts)
        self.scheduler.end(job.job_id or "", state, "0:0")
        self.manager.cycle()
        saved = self.store.jobs.get(job.key)
        assert saved is not None
        return saved
