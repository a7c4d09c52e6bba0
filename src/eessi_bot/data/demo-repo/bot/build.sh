#!/bin/bash
# Demo target repository: "build" what easystack.yml lists and pack it as an artefact, named as EESSI
# names its tarballs (eessi-VERSION-software-linux-ARCH-TIMESTAMP.tar.gz), so a deploy puts it under
# EESSI's legacy path (VERSION/software/linux/ARCH/TIMESTAMP).
set -euo pipefail
subdir=$(sed -n 's/^software_subdir *= *//p' cfg/job.cfg)
version=$(sed -n 's/^repo_version *= *//p' cfg/job.cfg)
echo "building for ${subdir} in job ${SLURM_JOB_ID}"
mkdir -p build
while read -r line; do
    case "$line" in
        *-*.eb) name=${line#*- }; echo "  installing ${name%.eb}"; echo "$name" >> build/installed.txt; sleep 1 ;;
    esac
done < easystack.yml
tar czf "eessi-${version:-2023.06}-software-linux-${subdir//\//-}-$(date +%s).tar.gz" build
