#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, to try and test the cluster path of sweeps.
#
#   scripts/slurm-local.sh start    install Debian's slurmctld slurmd slurm-client munge when
#                                   missing (as root), write a minimal config for this host (one
#                                   node with its CPUs and memory, one partition `debug`), start
#                                   munged, slurmctld and slurmd, and wait until the node is idle
#   scripts/slurm-local.sh stop     stop the daemons that `start` started (nothing else)
#   scripts/slurm-local.sh status   say whether a cluster answers, and what this script runs
#   scripts/slurm-local.sh running  exit 0 when a cluster answers sinfo (prints nothing)
#
# When a Slurm cluster already answers (`sinfo` works) and it was not started here, `start`
# leaves it alone and says so. An existing /etc/slurm/slurm.conf that this script did not write
# is never overwritten. Without root, `start` and `stop` need the cluster to be there already and
# otherwise fail with one line saying what is missing.
#
# The cluster has no accounting database (`sacct` fails), like many small clusters. On a
# machine without GPUs the node declares one stand-in GPU (`Gres=gpu:1` on /dev/null), so that
# jobs asking for `--gpus-per-node 1` can be scheduled; they find no CUDA device and run on CPU.
#
# Environment: SLURM_LOCAL_STATE (default /var/lib/landscape-slurm: spool, state, logs, pids),
# SLURM_LOCAL_PARTITION (default debug), SLURM_LOCAL_TIMEOUT (seconds to wait, default 90).
set -euo pipefail

STATE=${SLURM_LOCAL_STATE:-/var/lib/landscape-slurm}
PARTITION=${SLURM_LOCAL_PARTITION:-debug}
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-90}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARK="# written by landscape scripts/slurm-local.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)
BINARIES=(slurmctld slurmd sbatch sinfo squeue scontrol munged munge)

say() { echo "slurm-local: $*"; }
die() {
    echo "slurm-local: $*" >&2
    exit 1
}

missing_binaries() {
    local b out=()
    for b in "${BINARIES[@]}"; do
        command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || out+=("$b")
    done
    echo "${out[*]}"
}

cluster_answers() { timeout 10 sinfo -h >/dev/null 2>&1; }

ours_running() { [ -f "$STATE/slurmctld.pid" ] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; }

install_packages() {
    local missing
    missing=$(missing_binaries)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        die "not root, and Slurm is not installed (missing: $missing); run as root or install ${PACKAGES[*]}"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "Slurm is not installed (missing: $missing) and there is no apt-get to install ${PACKAGES[*]}"
    say "installing ${PACKAGES[*]}"
    # no daemon may start from the packages' scripts: this script starts them with its own config
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    local log="${TMPDIR:-/tmp}/slurm-local-apt.$$.log" ok=1
    {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" ||
            { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; }
    } >"$log" 2>&1 || ok=0
    [ "$made_policy" = 1 ] && rm -f "$policy"
    if [ "$ok" = 0 ]; then
        die "could not install ${PACKAGES[*]} with apt-get ($(tail -n 1 "$log")); full log: $log"
    fi
    rm -f "$log"
    missing=$(missing_binaries)
    [ -z "$missing" ] || die "installed ${PACKAGES[*]}, but still missing: $missing"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    local user=root
    id munge >/dev/null 2>&1 && user=munge
    chown "$user:" /etc/munge /etc/munge/munge.key /var/lib/munge /var/log/munge /run/munge
    chmod 700 /etc/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    chmod 400 /etc/munge/munge.key
    local force=()
    [ "$user" = root ] && force=(--force)
    if [ "$user" = root ]; then
        /usr/sbin/munged "${force[@]}" --pid-file="$STATE/munged.pid"
    else
        runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/landscape-munged.pid
        cp /run/munge/landscape-munged.pid "$STATE/munged.pid"
    fi
    local i
    for i in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "munged did not answer (see /var/log/munge/munged.log)"
}

gpu_line() {
    # real NVIDIA devices when there are some, else one stand-in GPU (see the header)
    local devices=(/dev/nvidia[0-9]*)
    if [ -e "${devices[0]}" ]; then
        echo "${#devices[@]} /dev/nvidia[0-$((${#devices[@]} - 1))]"
    else
        echo "1"
    fi
}

write_config() {
    if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; not touching it (a cluster configured there does not answer sinfo)"
    fi
    local host node gpus count files
    host=$(hostname -s)
    # `slurmd -C` prints this host's NodeName line (CPUs, sockets, cores, threads, RealMemory)
    node=$(slurmd -C | head -n 1)
    case "$node" in NodeName=*) ;; *) die "slurmd -C did not describe this host: $node" ;; esac
    node=$(echo "$node" | sed -E "s/^NodeName=[^ ]+/NodeName=$host/")
    gpus=$(gpu_line)
    count=${gpus%% *}
    files=""
    [ "$gpus" != "$count" ] && files=${gpus#* }
    mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d"
    cat >"$CONF" <<EOF
$MARK (for trying the cluster path on one machine)
ClusterName=landscape-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# no cgroups: works inside containers
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# several jobs share the node, one per CPU (memory is checked but not consumed)
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# no accounting database, like many small clusters (sacct fails)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# quick turn-around for tests: short kill wait, requeued jobs eligible at once
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
GresTypes=gpu
$node Gres=gpu:$count State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # slurmd counts a GPU only with a device file: /dev/null stands in for the missing one
    printf '%s\nNodeName=%s Name=gpu File=%s\n' "$MARK" "$host" "${files:-/dev/null}" >"$CONF_DIR/gres.conf"
    # Debian's cgroup.conf (if any) is not used: no cgroup plugins are configured
}

wait_idle() {
    local host state i
    host=$(hostname -s)
    for i in $(seq 1 "$TIMEOUT"); do
        state=$(sinfo -h -N -n "$host" -o %t 2>/dev/null | head -n 1 || true)
        case "$state" in
        idle | mix | alloc) return 0 ;;
        down* | drain* | fail*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    die "node $host not idle after ${TIMEOUT}s (state: ${state:-none}, reason: $(sinfo -h -R -o %E 2>/dev/null | head -n 1)); logs: $STATE/slurmctld.log, $STATE/slurmd.log"
}

start() {
    if cluster_answers && ! ours_running; then
        say "a Slurm cluster already answers (sinfo); leaving it as it is"
        return 0
    fi
    if ours_running && cluster_answers; then
        wait_idle
        say "already running (partition $PARTITION)"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        local missing
        missing=$(missing_binaries)
        [ -z "$missing" ] || die "not root, and Slurm is not installed (missing: $missing); as root this script installs ${PACKAGES[*]}"
        die "not root, and no Slurm cluster answers sinfo; run this script as root to start one"
    fi
    install_packages
    mkdir -p "$STATE"
    start_munge
    write_config
    # a clean controller every time (-c: no jobs left over from an earlier start)
    /usr/sbin/slurmctld -c
    /usr/sbin/slurmd
    wait_idle
    say "cluster up: node $(hostname -s), partition $PARTITION ($(sinfo -h -o '%c CPUs, %m MB' | head -n 1)); stop with: $0 stop"
}

stop_pid() {
    local name=$1 file=$2 pid i
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        say "stopped $name ($pid)"
    fi
    rm -f "$file"
}

stop() {
    if [ ! -f "$STATE/slurmctld.pid" ] && [ ! -f "$STATE/slurmd.pid" ] && [ ! -f "$STATE/munged.pid" ]; then
        say "nothing started here to stop"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "not root: cannot stop the daemons started by root"
    # jobs first, so no job step outlives its daemon
    if ours_running; then
        scancel --full --quiet --partition "$PARTITION" >/dev/null 2>&1 || true
    fi
    stop_pid slurmd "$STATE/slurmd.pid"
    stop_pid slurmctld "$STATE/slurmctld.pid"
    stop_pid munged "$STATE/munged.pid"
}

status() {
    if cluster_answers; then
        say "a cluster answers: $(sinfo -h -o '%P %a %D node(s) %t' | tr '\n' ' ')"
    else
        say "no Slurm cluster answers (sinfo)"
    fi
    local name
    for name in munged slurmctld slurmd; do
        if [ -f "$STATE/$name.pid" ] && kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
            say "$name runs here (pid $(cat "$STATE/$name.pid"))"
        fi
    done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
running) cluster_answers ;;
*) die "usage: $0 start|stop|status|running" ;;
esac
