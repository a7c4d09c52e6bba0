export SKIP_TESTS=yes
export EESSI_SOFTWARE_SUBDIR_OVERRIDE=x86_64/amd/zen2
export EXTRA_ARGS='--robot --debug'