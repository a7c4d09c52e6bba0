#!/bin/bash
# Demo target repository: "build" what easystack.yml lists and pack it as an artefact.
set -euo pipefail
echo "building for $(grep software_subdir cfg/job.cfg | cut -d= -f2 | tr -d ' ') in job ${SLURM_JOB_ID}"
mkdir -p build
while read -r line; do
    case "$line" in
        *-*.eb) name=${line#*- }; echo "  installing ${name%.eb}"; echo "$name" >> build/installed.txt; sleep 1 ;;
    esac
done < easystack.yml
tar czf "demo-software-linux-x86_64-$(date +%s).tar.gz" build
