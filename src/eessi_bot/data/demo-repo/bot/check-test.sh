#!/bin/bash
# Demo: report the tests in _bot_job<ID>.test.
if [ -s test-output.txt ]; then status=SUCCESS; text=":white_check_mark: tests passed"
else status=FAILURE; text=":x: tests failed"; fi
printf '[TEST]\ncomment_description = %s\nstatus = %s\n' "$text" "$status" > "_bot_job${SLURM_JOB_ID}.test"
