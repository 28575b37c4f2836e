# Shared by the redis corpus cases (10, 11); sourced by the case files.
# Needs lib.sh (T, start_bg, why, alive) and $ROOT.
REDISPROBE=$ROOT/tests/corpus/drivers/redisprobe.py
REDIS_PW=hp-corpus-secret

# redis_start RUN: RUN/src/redis-server on 127.0.0.1, a free port, no
# persistence, files in $T, requirepass; sets REDIS_PORT and CASE_PID.
redis_start() {
	local run=$1 i
	REDIS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
		why "no free port" || return
	mkdir -p "$T/redis"
	start_bg redis "$run/src/redis-server" --port "$REDIS_PORT" --bind 127.0.0.1 \
		--save '' --appendonly no --dir "$T/redis" --daemonize no \
		--requirepass "$REDIS_PW" --logfile '' --loglevel notice
	CASE_PID=$BG_PID
	for ((i = 0; i < 200; i++)); do
		alive "$CASE_PID" || why "redis-server exited: $(tail -n 3 "$T/redis.log" | tr '\n' ' ')" || return
		[ "$(python3 "$REDISPROBE" ping "$REDIS_PORT" "$REDIS_PW" 2>&1)" = ok ] && return 0
		sleep 0.05
	done
	why "redis-server not answering on 127.0.0.1:$REDIS_PORT"
}

# redis_normal: the ordinary service gives the known answers (NOAUTH before
# AUTH, SET/GET/INCR/DEL, EVAL, an authenticated 20000-command pipeline).
redis_normal() {
	local out
	alive "$CASE_PID" || why "redis-server $CASE_PID is not running" || return
	out=$(python3 "$REDISPROBE" normal "$REDIS_PORT" "$REDIS_PW" 2>&1)
	[ "$out" = ok ] || why "redis normal service: $out" || return
	alive "$CASE_PID" || why "redis-server $CASE_PID died" || return
}
