# Set-up shared by the shell tests (sourced): a scratch directory $TMP removed on exit, the
# process in $PID (a server the test started) killed on exit, fail() and json().
# FAIL_LOG: when set, fail() also prints that file (the server's log).
TMP=$(mktemp -d)
PID=""
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  if [ -n "${FAIL_LOG:-}" ]; then
    echo "--- $FAIL_LOG" >&2
    cat "$FAIL_LOG" >&2 || true
  fi
  exit 1
}
# json 'python statements on d' < FILE
json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
