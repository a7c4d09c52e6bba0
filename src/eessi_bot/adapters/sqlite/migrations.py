"""Numbered schema migrations, applied in order and recorded in `PRAGMA user_version`."""

from __future__ import annotations

MIGRATIONS = (
    # 1: inbox, outbox, small key/value store
    """
    CREATE TABLE deliveries (
        id              TEXT PRIMARY KEY,
        event           TEXT NOT NULL,
        action          TEXT,
        subject         TEXT,
        body            BLOB NOT NULL,
        received_at     REAL NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        claimed_by      TEXT,
        finished_at     REAL,
        outcome         TEXT
    );
    CREATE INDEX deliveries_by_state ON deliveries (state, next_attempt_at, received_at);
    CREATE INDEX deliveries_by_subject ON deliveries (subject, state);

    CREATE TABLE outbox (
        key             TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        repo            TEXT NOT NULL,
        issue_number    INTEGER,
        target_id       INTEGER,
        body            TEXT NOT NULL,
        version         INTEGER NOT NULL DEFAULT 1,
        done_version    INTEGER NOT NULL DEFAULT 0,
        result_id       INTEGER,
        result_url      TEXT,
        in_flight       INTEGER NOT NULL DEFAULT 0,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error      TEXT,
        failed          INTEGER NOT NULL DEFAULT 0,
        delivery_id     TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (failed, next_attempt_at) WHERE version > done_version;

    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: build commands (the pinned checkout) and their jobs
    """
    CREATE TABLE builds (
        key          TEXT PRIMARY KEY,
        repo         TEXT NOT NULL,
        pr_number    INTEGER NOT NULL,
        url          TEXT NOT NULL,
        base_ref     TEXT NOT NULL,
        base_sha     TEXT NOT NULL,
        head_sha     TEXT NOT NULL,
        merge_base   TEXT NOT NULL,
        merged_tree  TEXT NOT NULL,
        created_at   REAL NOT NULL
    );

    CREATE TABLE jobs (
        key             TEXT PRIMARY KEY,
        build_key       TEXT NOT NULL,
        repo            TEXT NOT NULL,
        pr_number       INTEGER NOT NULL,
        node_type       TEXT NOT NULL,
        repo_id         TEXT NOT NULL,
        software_subdir TEXT NOT NULL,
        accelerator     TEXT,
        on_arch         TEXT NOT NULL,
        on_accelerator  TEXT,
        job_dir         TEXT NOT NULL,
        symlink         TEXT,
        backend         TEXT NOT NULL,
        job_id          TEXT,
        state           TEXT NOT NULL,
        rows            TEXT NOT NULL DEFAULT '[]',
        error           TEXT,
        comment_key     TEXT NOT NULL,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE UNIQUE INDEX jobs_by_job_id ON jobs (backend, job_id) WHERE job_id IS NOT NULL;
    CREATE INDEX jobs_by_pr ON jobs (repo, pr_number);
    CREATE INDEX jobs_by_state ON jobs (state);
    CREATE INDEX jobs_by_build ON jobs (build_key);

    CREATE TABLE local_job_ids (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL
    );
    """,
    # 3: following jobs to their end; closed PRs whose job directories go to the trash
    """
    ALTER TABLE jobs ADD COLUMN missing_polls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN cancelled_by TEXT;
    ALTER TABLE jobs ADD COLUMN end_state TEXT;
    ALTER TABLE jobs ADD COLUMN exit_code TEXT;
    ALTER TABLE jobs ADD COLUMN result_status TEXT;
    ALTER TABLE jobs ADD COLUMN test_status TEXT;
    ALTER TABLE jobs ADD COLUMN artefacts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN metadata_comment_id INTEGER;
    ALTER TABLE jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN ending_since REAL;

    CREATE TABLE closed_prs (
        repo         TEXT NOT NULL,
        pr_number    INTEGER NOT NULL,
        closed_at    REAL NOT NULL,
        delivery_id  TEXT NOT NULL,
        merged       INTEGER NOT NULL DEFAULT 0,
        sender       TEXT,
        done_at      REAL,
        PRIMARY KEY (repo, pr_number)
    );
    """,
    # 4: deploys: the bot:deploy label of a PR, one upload per (job, artefact)
    """
    CREATE TABLE deploy_labels (
        repo         TEXT NOT NULL,
        pr_number    INTEGER NOT NULL,
        approved_by  TEXT NOT NULL,
        delivery_id  TEXT NOT NULL,
        since        REAL NOT NULL,
        PRIMARY KEY (repo, pr_number)
    );

    CREATE TABLE uploads (
        key             TEXT PRIMARY KEY,
        job_key         TEXT NOT NULL,
        repo            TEXT NOT NULL,
        pr_number       INTEGER NOT NULL,
        artefact        TEXT NOT NULL,
        repo_id         TEXT NOT NULL,
        arch            TEXT NOT NULL,
        accelerator     TEXT,
        deploy_key      TEXT NOT NULL,
        approved_by     TEXT NOT NULL,
        state           TEXT NOT NULL,
        reason          TEXT,
        bucket          TEXT,
        object_key      TEXT,
        metadata_key    TEXT,
        sha256          TEXT,
        size            INTEGER,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE INDEX uploads_due ON uploads (state, next_attempt_at);
    CREATE INDEX uploads_by_pr ON uploads (repo, pr_number);
    CREATE INDEX uploads_by_deploy ON uploads (deploy_key);
    """,
    # 5: indexes that match the hot queries, so that no query per write or per delivery sorts a backlog
    """
    DROP INDEX outbox_due;
    CREATE INDEX outbox_due ON outbox (next_attempt_at, created_at) WHERE version > done_version AND failed = 0;
    CREATE INDEX deliveries_pending ON deliveries (received_at) WHERE state = 'pending';
    CREATE INDEX deliveries_by_subject_state ON deliveries (subject, state, received_at);
    DROP INDEX deliveries_by_subject;
    DROP INDEX uploads_due;
    CREATE INDEX uploads_due ON uploads (next_attempt_at, created_at) WHERE state = 'pending';
    """,
    # 6: deliveries taken from GitHub's log of deliveries after they were sent: GitHub's time of sending
    """
    ALTER TABLE deliveries ADD COLUMN late_since REAL;
    """,
    # 8: a job's `exportvariable:`s, which a check run's Re-run submits again (NULL: a job stored before they
    # were kept; its re-run reads them from the job's cfg/export_vars.sh)
    """
    ALTER TABLE jobs ADD COLUMN exports TEXT;
    """,
)
