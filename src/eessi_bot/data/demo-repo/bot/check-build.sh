#!/bin/bash
# Demo: report the build's result in the file the bot reads (_bot_job<ID>.result).
artefact=$(ls eessi-*-software-linux-*.tar.gz 2>/dev/null | head -n 1)
if [ -n "$artefact" ]; then status=SUCCESS; summary=":grin: SUCCESS: $(wc -l < build/installed.txt) package(s) built"
else status=FAILURE; summary=":cry: FAILURE: no artefact"; fi
cat > "_bot_job${SLURM_JOB_ID}.result" <<RESULT
[RESULT]
comment_description = <details><summary>${summary}</summary>artefact <code>${artefact}</code></details>
status = ${status}
artefacts =
    ${artefact}
RESULT
