"""Deploy: upload the artefacts of a PR's successful jobs to S3 while `bot:deploy` is on it."""
