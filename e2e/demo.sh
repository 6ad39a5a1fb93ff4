#!/usr/bin/env bash
# make demo: build pi2pi, start a server (127.0.0.1:8082) and two terminals
# (ali on 127.0.0.2, bianca on 127.0.0.3) with console keypads, log both in,
# do the course handouts' round trip, print both transcripts side by side, and leave
# everything running to play with.
#
#   bash e2e/demo.sh        (re)start the demo; a running one is stopped first
#   bash e2e/demo.sh stop   stop it (make demo-stop)
#
# Everything lives in ./.demo (binaries, state, sockets, logs). Nothing to
# configure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.demo
BIN=$RUN/bin
SERVER=127.0.0.1:8082
declare -A IP=([ali]=127.0.0.2 [bianca]=127.0.0.3)
declare -A PIN=([ali]=1234 [bianca]=5678)

say() { printf '%s\n' "$*" >&2; }
die() { say "demo: $*"; exit 1; }

# stop_all ends the programs a previous run started, found by their pid
# files; a pid is only signalled while it still runs one of our binaries.
stop_all() {
	local f pid n
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		if [ -n "$pid" ] && grep -qs "$BIN/" "/proc/$pid/cmdline"; then
			kill -TERM "$pid" 2>/dev/null || true
			for n in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

# wait_for FILE TEXT [SECONDS]: until FILE contains TEXT.
wait_for() {
	local n
	for n in $(seq $((${3:-10} * 20))); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start NAME CMD...: run CMD detached, logging to NAME.log.
start() {
	local name=$1
	shift
	setsid "$@" </dev/null >"$RUN/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
}

if [ "${1:-}" = stop ]; then
	stop_all
	say "demo stopped"
	exit 0
fi
[ $# -eq 0 ] || die "usage: bash e2e/demo.sh [stop]"

stop_all
rm -rf "$RUN"
mkdir -p "$BIN"

say "building..."
go build -o "$BIN/pi2pi-server" ./server/cmd/pi2pi-server
go build -o "$BIN/pi2pid" ./daemon/cmd/pi2pid
go build -o "$BIN/pi2pictl" ./ctl/cmd/pi2pictl

say "enrolling ali (passcode ${PIN[ali]}) and bianca (passcode ${PIN[bianca]})..."
for u in ali bianca; do
	echo "${PIN[$u]}" | "$BIN/pi2pi-server" user add "$u" --users "$RUN/users" --state-dir "$RUN/server" >/dev/null
done

say "starting the server on $SERVER..."
start server "$BIN/pi2pi-server" serve --listen "$SERVER" --users "$RUN/users" --state-dir "$RUN/server" --security secure
wait_for "$RUN/server.log" "msg=listening" || die "the server did not start (is $SERVER in use?):
$(cat "$RUN/server.log")"
FP=$("$BIN/pi2pi-server" fingerprint --state-dir "$RUN/server")

for u in ali bianca; do
	say "starting $u's terminal on ${IP[$u]}:8085..."
	start "$u" "$BIN/pi2pid" --server "$SERVER" --listen "${IP[$u]}:8085" --control "$RUN/$u.sock" \
		--state-dir "$RUN/$u" --keypad console --security secure --server-fingerprint "$FP"
	wait_for "$RUN/$u.log" "msg=ready" || die "$u's terminal did not start:
$(cat "$RUN/$u.log")"
done

# Each user runs the pi2pictl shell, as a person would, and types into it
# through a FIFO, each answer once the shell has asked for it.
mkfifo "$RUN/ali.in" "$RUN/bianca.in"
"$BIN/pi2pictl" --socket "$RUN/bianca.sock" <"$RUN/bianca.in" >"$RUN/bianca.out" 2>&1 &
BPID=$!
exec 4>"$RUN/bianca.in"
"$BIN/pi2pictl" --socket "$RUN/ali.sock" <"$RUN/ali.in" >"$RUN/ali.out" 2>&1 &
APID=$!
exec 3>"$RUN/ali.in"

# count FILE TEXT: how many lines of FILE hold TEXT.
count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

for u in bianca ali; do
	fd=4
	[ "$u" = ali ] && fd=3
	wait_for "$RUN/$u.out" "Login:" || die "$u's pi2pictl did not start: $(cat "$RUN/$u.out")"
	echo "$u" >&$fd
	wait_for "$RUN/$u.out" "Enter passcode" || die "$u's pi2pictl did not ask for the passcode: $(cat "$RUN/$u.out")"
	echo "${PIN[$u]}" >&$fd
	wait_for "$RUN/$u.out" "Enter destination user ID:" || die "$u could not log in: $(cat "$RUN/$u.out")"
done

# ali calls bianca. Her shell attaches to take calls right after its
# prompt, so a call in that instant may find her away: then ali tries again.
for try in $(seq 40); do
	prompts=$(count "$RUN/ali.out" "Enter destination user ID:")
	echo bianca >&3
	for n in $(seq 200); do
		grep -qF "Connection established" "$RUN/ali.out" && break 2
		[ "$(count "$RUN/ali.out" "Enter destination user ID:")" -gt "$prompts" ] && break
		sleep 0.05
	done
	sleep 0.1
done
grep -qF "Connection established" "$RUN/ali.out" || die "ali could not reach bianca: $(cat "$RUN/ali.out")"
wait_for "$RUN/bianca.out" "Connection received" || die "bianca was not called: $(cat "$RUN/bianca.out")"
echo "Hello, are you there?" >&3
wait_for "$RUN/bianca.out" "Hello, are you there?" || die "bianca did not get ali's line"
echo "Yes, here I am!" >&4
wait_for "$RUN/ali.out" "Yes, here I am!" || die "ali did not get bianca's line"
exec 3>&- # ali is done: the end of his input ends the chat and his shell
wait_for "$RUN/bianca.out" "Connection ended" || die "bianca's chat did not end: $(cat "$RUN/bianca.out")"
for n in $(seq 100); do
	[ "$(count "$RUN/bianca.out" "Enter destination user ID:")" -ge 2 ] && break
	sleep 0.05
done
exec 4>&- # bianca leaves her shell; both terminals stay logged in
wait "$APID" "$BPID" 2>/dev/null || true

# Side by side; "> " marks what each user typed (the course handouts' italics).
{
	echo "ali @ ${IP[ali]}"
	awk '/Yes, here I am!/ && !done { print "> Hello, are you there?"; done = 1 } { print }' "$RUN/ali.out"
} >"$RUN/ali.txt"
{
	echo "bianca @ ${IP[bianca]}"
	awk '{ print } /Hello, are you there\?/ && !done { print "> Yes, here I am!"; done = 1 }' "$RUN/bianca.out"
} >"$RUN/bianca.txt"
echo
awk 'NR == FNR { a[FNR] = $0; n = FNR; next } { b[FNR] = $0; m = FNR }
	END { for (i = 1; i <= (n > m ? n : m); i++) printf "%-66s %s\n", a[i], b[i] }' "$RUN/ali.txt" "$RUN/bianca.txt"
cat <<MSG

The system is still running (state, logs and sockets in .demo/):
  pi2pi-server on $SERVER, ali's terminal on ${IP[ali]}:8085, bianca's on ${IP[bianca]}:8085.
Attach to a terminal interactively (ali's passcode is ${PIN[ali]}, bianca's ${PIN[bianca]}):
  $BIN/pi2pictl --socket $RUN/ali.sock
  $BIN/pi2pictl --socket $RUN/bianca.sock
  (at \`Enter destination user ID:\` type a user to call; calls arrive there too; /help lists commands)
Logs: .demo/server.log .demo/ali.log .demo/bianca.log
Stop everything: make demo-stop
MSG
