# Sourced by the scripts: `heartbeat LABEL CMD...` runs CMD and, while it runs, prints
# "LABEL: still running after N s" every 10 seconds on stderr, so no long step is silent
# (a large crate compiles for a minute without a line). Returns CMD's exit status.
heartbeat() {
  local label="$1" started last now pid status=0
  shift
  started=$(date +%s)
  last=$started
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    now=$(date +%s)
    if (( now - last >= 10 )); then
      echo "$label: still running after $(( now - started )) s" >&2
      last=$now
    fi
  done
  wait "$pid" || status=$?
  return $status
}
