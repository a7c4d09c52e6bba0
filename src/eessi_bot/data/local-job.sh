#!/usr/bin/env bash
#
# local-job.sh: one job of eessi-bot's `local` backend (a detached local process instead of a
# Slurm job). The bot starts it with `setsid` and a minimal explicit environment, so it is not
# the bot's child and survives a bot restart; the bot follows it only through files.
#
# Usage: local-job.sh JOB_DIR JOB_ID SCRIPT [TIME_LIMIT_SECONDS]
#   JOB_ID: [A-Za-z0-9_.-]+; TIME_LIMIT_SECONDS: integer, 0 or absent = no limit.
#
# Files in JOB_DIR (all written atomically: temp name + mv):
#   _bot_local.pid      written first: "PID START_TIME" (START_TIME = field 22 of /proc/PID/stat,
#                       in clock ticks since boot), so a reused pid is told apart after a restart.
#   _bot_local.release  created by the bot: the hold ends and SCRIPT starts (polled every 0.2 s).
#   _bot_local.cancel   created by the bot: before the release, SCRIPT never runs; while it runs,
#                       its process group gets SIGTERM, then SIGKILL after KILL_WAIT seconds.
#                       The cancel file wins when both files exist.
#   _bot_local.pgid     written when SCRIPT starts: "PGID START_TIME", the process group (and session)
#                       of SCRIPT and its start time as above, so that the bot can still end the
#                       job's processes when this wrapper was killed (kill -9) and cannot.
#   slurm-JOB_ID.out    SCRIPT's stdout+stderr (created when SCRIPT starts), plus a
#                       "*** JOB ... CANCELLED/DUE TO TIME LIMIT ***" line as slurmstepd writes.
#   _bot_local.exit     written last: one line "EXIT_CODE STATE", STATE being one of
#                         COMPLETED  SCRIPT exited 0
#                         FAILED     SCRIPT exited non-zero (127 when it could not be run)
#                         CANCELLED  cancelled: EXIT_CODE 130 when SCRIPT never started, else
#                                    SCRIPT's exit status (143 after SIGTERM, 137 after SIGKILL)
#                         TIMEOUT    killed at the time limit: SCRIPT's exit status
#                       SIGTERM/SIGINT/SIGHUP to this wrapper count as a cancel.
#   cfg/end_dir         read at the start, when present (written by the bot: one absolute path):
#                       after the exit file, the wrapper drops "EXIT_CODE" as the file JOB_ID into
#                       that directory (temp name .JOB_ID.XXXXXXXXXX, then a rename), which the bot
#                       lists to learn of ended jobs without looking into every job directory.
# This wrapper exits with EXIT_CODE; 2 for usage errors, an unusable JOB_DIR or an unreadable
# /proc/$$/stat (no files then).
#
# SCRIPT runs with cwd = JOB_DIR, stdin /dev/null, the wrapper's environment plus SLURM_JOB_ID,
# SLURM_JOBID, SLURM_SUBMIT_DIR (= JOB_DIR) and SLURM_JOB_NAME (kept when set, else SCRIPT's
# base name, Slurm's default), in a session and process group of its own so that a cancel
# reaches every process it started. An executable SCRIPT is exec'd (its #! line decides), any
# other file is run with bash. When SCRIPT exits, what is left of its process group is killed
# too, as Slurm does at the end of a job.
#
set -euo pipefail

KILL_WAIT=5  # seconds between SIGTERM and SIGKILL (Slurm's KillWait, scaled down)

usage() {
    echo "usage: local-job.sh JOB_DIR JOB_ID SCRIPT [TIME_LIMIT_SECONDS]" >&2
    exit 2
}
(($# == 3 || $# == 4)) || usage
job_dir=$1
job_id=$2
script=$3
time_limit=${4:-0}
[[ $job_id =~ ^[A-Za-z0-9_.-]+$ ]] || usage
[[ $time_limit =~ ^[0-9]+$ ]] || usage
# A relative SCRIPT means what the caller meant, not something inside JOB_DIR.
[[ $script == /* ]] || script=$PWD/$script
cd -- "$job_dir" || exit 2

out="slurm-${job_id}.out"

# Read before SCRIPT (PR code) runs in this directory.
end_dir=""
if [[ -f cfg/end_dir && ! -L cfg/end_dir ]]; then
    IFS= read -r end_dir <cfg/end_dir || true
fi
[[ $end_dir == /* && $job_id != .* ]] || end_dir=""

# The temp file is new (mktemp: O_EXCL, a random name) and the rename replaces whatever stands at the
# name (-T: a directory is not entered): no link a job left in JOB_DIR makes this write outside it.
write_atomic() {
    local tmp
    tmp=$(mktemp -- "$1.tmp.XXXXXXXXXX") || return 1
    printf '%s\n' "$2" >"$tmp"
    chmod -- "$(printf '%o' $((0666 & ~8#$(umask))))" "$tmp"
    mv -fT -- "$tmp" "$1"
}

# Field 22 of /proc/PID/stat; field 2 (the command name) may contain spaces and ')'.
start_time() {
    local stat fields
    stat=$(<"/proc/$1/stat")
    read -r -a fields <<<"${stat##*) }"
    printf '%s' "${fields[19]}"
}

# The bot reads the pid file as "not started yet" until it holds this whole line: without a start time
# the bot could not tell this wrapper from a process that got its pid later, so there is no line then.
wrapper_start=$(start_time $$) || exit 2
[[ -n $wrapper_start ]] || exit 2
write_atomic _bot_local.pid "$$ $wrapper_start"

# A pipe nobody writes to: `read -t` on it sleeps 0.2 s without starting a `sleep` process per
# tick (jobs may be held or run for days). Falls back to sleep where /dev/fd is missing.
nap_fd=""
exec {nap_fd}<> <(:) || nap_fd=""
nap() {
    if [[ -n $nap_fd ]]; then
        read -r -t 0.2 -u "$nap_fd" _ || true
    else
        sleep 0.2
    fi
}

# The end marker in the bot's directory of ended jobs: a dotted temp name (the bot leaves those alone),
# then a rename that replaces whatever stands at the name.
drop_end_marker() {
    [[ -n $end_dir ]] || return 0
    local tmp
    tmp=$(mktemp -- "${end_dir}/.${job_id}.XXXXXXXXXX") || return 1
    printf '%s\n' "$1" >"$tmp"
    chmod -- "$(printf '%o' $((0666 & ~8#$(umask))))" "$tmp"
    mv -fT -- "$tmp" "${end_dir}/${job_id}"
}

finish() {
    write_atomic _bot_local.exit "$1 $2"
    drop_end_marker "$1" || echo "local-job: could not write the end marker into ${end_dir}" >&2
    exit "$1"
}

# Signals to the wrapper are handled in the loops below, like a cancel file.
signalled=0
trap 'signalled=1' TERM INT HUP

cancel_requested() { [[ $signalled == 1 || -e _bot_local.cancel ]]; }

# The hold.
while [[ ! -e _bot_local.release ]] && ! cancel_requested; do
    nap
done
if cancel_requested; then
    finish 130 CANCELLED
fi

export SLURM_JOB_ID=$job_id SLURM_JOBID=$job_id SLURM_SUBMIT_DIR=$PWD
export SLURM_JOB_NAME=${SLURM_JOB_NAME:-${script##*/}}
if [[ -x $script ]]; then
    cmd=("$script")
else
    cmd=(bash "$script")
fi
# The subshell closes our nap pipe and restores default signal handling, then becomes SCRIPT.
# setsid does not fork here (the subshell is no group leader): $! is SCRIPT's pid and pgid.
# Appending (after truncating) keeps our "*** JOB ..." line from being overwritten by SCRIPT. The file
# is opened once, before SCRIPT runs: a link SCRIPT puts at its name later is never written through.
: >"$out"
exec {out_fd}>>"$out"
(
    [[ -z $nap_fd ]] || exec {nap_fd}<&-
    trap - TERM INT HUP QUIT
    exec setsid -- "${cmd[@]}" </dev/null >&"$out_fd" 2>&1 {out_fd}>&-
) &
job_pid=$!
# The subshell's pid is SCRIPT's pid, pgid and sid (see above); its start time stays across the exec.
# A SCRIPT that ended at once may already be reaped: then the start time is left empty.
job_start=$(start_time "$job_pid" 2>/dev/null) || job_start=""
write_atomic _bot_local.pgid "$job_pid $job_start"

# True while a live process is in the job's process group. Zombies do not count: orphans are
# reaped by init, which may take a while (in containers especially).
group_alive() {
    kill -0 -- "-$job_pid" 2>/dev/null || return 1
    local f stat fields
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue  # the process may be gone already
        read -r -a fields <<<"${stat##*) }"
        # fields[0] = state (field 3), fields[2] = process group (field 5)
        if [[ ${fields[2]} == "$job_pid" && ${fields[0]} != Z ]]; then
            return 0
        fi
    done
    return 1
}

# SIGTERM to the job's process group, SIGKILL to what is left after KILL_WAIT seconds.
stop_group() {
    local ticks=$((KILL_WAIT * 5))
    # Just after the fork, setsid may not have run yet: then only the pid exists.
    kill -TERM -- "-$job_pid" 2>/dev/null || kill -TERM "$job_pid" 2>/dev/null || true
    while ((ticks-- > 0)) && group_alive; do
        nap
    done
    if group_alive; then
        kill -KILL -- "-$job_pid" 2>/dev/null || true
    fi
}

state=""
started=$SECONDS
while kill -0 "$job_pid" 2>/dev/null; do
    if cancel_requested; then
        state=CANCELLED
        echo "local-job: *** JOB ${job_id} CANCELLED AT $(date -u +%Y-%m-%dT%H:%M:%S) ***" >&"$out_fd"
        stop_group
        break
    fi
    # SECONDS counts whole seconds: `>` never stops a job before its limit.
    if ((time_limit > 0 && SECONDS - started > time_limit)); then
        state=TIMEOUT
        echo "local-job: *** JOB ${job_id} CANCELLED AT $(date -u +%Y-%m-%dT%H:%M:%S) DUE TO TIME LIMIT ***" >&"$out_fd"
        stop_group
        break
    fi
    nap
done

# A signal to this wrapper interrupts `wait` (status > 128) while SCRIPT lives: wait again.
while :; do
    rc=0
    wait "$job_pid" || rc=$?
    kill -0 "$job_pid" 2>/dev/null || break
done
# Processes SCRIPT left behind in its group end with the job.
if group_alive; then
    stop_group
fi

if [[ -z $state ]]; then
    if ((rc == 0)); then state=COMPLETED; else state=FAILED; fi
fi
finish "$rc" "$state"
