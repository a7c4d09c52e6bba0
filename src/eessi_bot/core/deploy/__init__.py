"""The pure core of deploy (reference §7): which artefacts of a PR's jobs to upload, where they go,
what their `.meta.txt` says and how the PR is told. No I/O: the deployer gathers the facts (files,
sizes, checksums, the host's name) and does the uploads.

Modules: `artefacts` (judging untrusted names), `policy` (upload_policy), `naming` (buckets, keys,
URLs), `legacy` (the EESSI bot's `uploaded.txt`), `metadata` (`.meta.txt`), `report` (rows, summary).
"""
