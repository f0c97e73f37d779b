#!/usr/bin/env bash
# Real, clocked audio devices on a machine with no sound card: a private PulseAudio
# server with null sinks (see ../shared/docs/VIRTUAL_AUDIO.md for why each piece is here).
#
#   eval "$(scripts/virtual-audio.sh start)"   # start (idempotent), export its env
#   scripts/virtual-audio.sh env               # print the exports of a running server
#   scripts/virtual-audio.sh status            # exit 0 when running
#   scripts/virtual-audio.sh stop              # stop only the server this script started
#   scripts/virtual-audio.sh start --install   # apt-get install the packages when missing
#   scripts/virtual-audio.sh loopback-on -12 40   # open speakers: speaker -> mic echo
#   scripts/virtual-audio.sh loopback-off         # headphones again
#
# Devices: sink `speaker` (default sink; record it from `speaker.monitor`), sink `mic`
# (its monitor `mic.monitor` is the default source: `paplay --device=mic x.wav` feeds the
# microphone). PortAudio sees them through ALSA's `pulse`/`default` devices, which accept
# every rate (no ALSA plugin here could be made to refuse 24 kHz: the 48 kHz path is tested
# by asking the audio worker for a 48 kHz device rate). State lives in $VIRTUAL_AUDIO_DIR
# (default: $PWD/.virtual-audio).
set -euo pipefail

DIR="${VIRTUAL_AUDIO_DIR:-$PWD/.virtual-audio}"
PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox)

say() { echo "virtual-audio: $*" >&2; }

abs_dir() { mkdir -p "$DIR" && DIR="$(cd "$DIR" && pwd)"; }

pid_alive() {
    # A stopped daemon lingers as a zombie for a while: kill -0 would still succeed.
    local pid="$1" state
    [[ -r "/proc/$pid/status" ]] || return 1
    state="$(awk '/^State:/ {print $2}' "/proc/$pid/status")"
    [[ "$state" != "Z" && "$state" != "X" ]]
}

server_pid() {
    local pid
    [[ -r "$DIR/runtime/pid" ]] || return 1
    pid="$(tr -dc '0-9' <"$DIR/runtime/pid")"
    [[ -n "$pid" ]] && pid_alive "$pid" && echo "$pid"
}

print_env() {
    echo "export PULSE_SERVER=unix:$DIR/native"
    echo "export PULSE_COOKIE=$DIR/cookie"
}

ensure_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ "$1" != "--install" ]]; then
        say "missing packages: ${missing[*]} (run: $0 start --install, or sudo apt-get install ${missing[*]})"
        return 1
    fi
    say "installing ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
        { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

write_config() {
    mkdir -p "$DIR/runtime" "$DIR/state" "$DIR/xdg"
    cat >"$DIR/default.pa" <<PA
load-module module-native-protocol-unix socket=$DIR/native auth-anonymous=1
load-module module-null-sink sink_name=speaker norewinds=1 sink_properties=device.description=speaker
load-module module-null-sink sink_name=mic norewinds=1 sink_properties=device.description=mic
load-module module-null-sink sink_name=keepalive norewinds=1 sink_properties=device.description=keepalive
# An idle null sink sleeps in 2 s blocks: keep both ticking so new streams start at once.
load-module module-loopback source=mic.monitor sink=keepalive latency_msec=60
load-module module-loopback source=speaker.monitor sink=keepalive latency_msec=60
set-default-sink speaker
set-default-source mic.monitor
PA
    cat >"$DIR/daemon.conf" <<PA
exit-idle-time = -1
flat-volumes = no
PA
}

start() {
    ensure_packages "${1:-}"
    abs_dir
    if server_pid >/dev/null; then
        print_env
        return 0
    fi
    write_config
    rm -f "$DIR/native"
    PULSE_RUNTIME_PATH="$DIR/runtime" PULSE_STATE_PATH="$DIR/state" \
        XDG_CONFIG_HOME="$DIR/xdg" PULSE_COOKIE="$DIR/cookie" \
        pulseaudio -n -F "$DIR/default.pa" \
        --daemonize=yes --use-pid-file=yes --exit-idle-time=-1 --disallow-exit \
        --log-target="file:$DIR/pulseaudio.log" 2>/dev/null ||
        { say "pulseaudio failed to start; see $DIR/pulseaudio.log"; return 1; }
    for _ in $(seq 50); do
        [[ -S "$DIR/native" ]] && PULSE_SERVER="unix:$DIR/native" PULSE_COOKIE="$DIR/cookie" \
            pactl info >/dev/null 2>&1 && break
        sleep 0.1
    done
    PULSE_SERVER="unix:$DIR/native" PULSE_COOKIE="$DIR/cookie" pactl info >/dev/null 2>&1 ||
        { say "pulseaudio did not answer on $DIR/native"; return 1; }
    print_env
}

stop() {
    abs_dir
    local pid
    if ! pid="$(server_pid)"; then
        say "not running (no live server in $DIR)"
        return 0
    fi
    kill "$pid"
    for _ in $(seq 50); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        kill -9 "$pid"
    fi
    rm -f "$DIR/runtime/pid" "$DIR/native"
    say "stopped pid $pid"
}

# -- echo loopback (issue 8) ------------------------------------------------------------
# A module-loopback from speaker.monitor into the mic sink, LEVEL_DB loud (e.g. -12) and
# about DELAY_MS late: the application hears itself as with open speakers. It acts on the
# server in $PULSE_SERVER when set (as tests have it), else on this script's server.
LOOPBACK_NAME=voice-tui-echo-loopback

echo_pactl() {
    PULSE_SERVER="${PULSE_SERVER:-unix:$DIR/native}" PULSE_COOKIE="${PULSE_COOKIE:-$DIR/cookie}" \
        pactl "$@"
}

loopback_off() {
    abs_dir
    local module
    for module in $(echo_pactl list short modules | awk -v n="$LOOPBACK_NAME" '$0 ~ n {print $1}'); do
        echo_pactl unload-module "$module"
    done
}

loopback_on() {
    local level="${1:-}" delay="${2:-}" module input
    [[ "$level" =~ ^[-+]?[0-9]+([.][0-9]+)?$ && "$delay" =~ ^[0-9]+$ ]] ||
        { say "usage: $0 loopback-on LEVEL_DB DELAY_MS (e.g. -12 40)"; return 2; }
    loopback_off
    module="$(echo_pactl load-module module-loopback source=speaker.monitor sink=mic \
        latency_msec="$delay" source_dont_move=true sink_dont_move=true \
        sink_input_properties=media.name="$LOOPBACK_NAME")"
    input="$(echo_pactl list sink-inputs | awk -v m="$module" '
        /^Sink Input #/ {id = substr($3, 2)}
        /Owner Module:/ && $3 == m {print id; exit}')"
    [[ -n "$input" ]] || { say "loopback module $module has no sink input"; return 1; }
    echo_pactl set-sink-input-volume "$input" "${level#+}dB"
    say "echo loopback: speaker.monitor -> mic at ${level} dB, ${delay} ms (module $module)"
}

case "${1:-}" in
start) start "${2:-}" ;;
loopback-on) loopback_on "${2:-}" "${3:-}" ;;
loopback-off) loopback_off ;;
stop) stop ;;
env)
    abs_dir
    server_pid >/dev/null || { say "not running in $DIR"; exit 1; }
    print_env
    ;;
status)
    abs_dir
    server_pid >/dev/null
    ;;
*)
    echo "usage: $0 start [--install] | stop | env | status | loopback-on LEVEL_DB DELAY_MS | loopback-off" >&2
    exit 2
    ;;
esac
