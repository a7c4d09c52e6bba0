"""eessi-bot: a GitHub App that builds, tests and deploys pull requests of a software stack."""

__version__ = "0.1.0"
