# shellcheck shell=bash
# Shared by scripts/launch and scripts/test (sourced, not run): get from a fresh
# Debian/Ubuntu with Python 3.11+ to a working .venv with voice-tui installed.
#
#   ROOT=...; source scripts/bootstrap.sh
#   ensure_venv            # .venv exists and works (installs pythonX.Y-venv if needed)
#   ensure_installed dev   # pip install -e '.[dev]' when pyproject.toml changed
#   ensure_debs required|optional pkg...   # apt-get install what is missing

say() { echo "voice-tui: $*" >&2; }

VENV="$ROOT/.venv"
STAMP="$VENV/.voice-tui-installed"

# Root runs apt-get directly; others through sudo (never prompting without a terminal).
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
    else
        return 1
    fi
}

# ensure_debs required|optional PACKAGE...: install the missing ones (apt-get update
# first, only when something is missing). "optional" only warns when it cannot.
ensure_debs() {
    local need="$1" missing=() p
    shift
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        say "please install: ${missing[*]} (no apt-get here)"
        [[ "$need" == optional ]] && return 0 || return 1
    fi
    say "installing ${missing[*]} (apt-get)"
    if as_root apt-get update -qq >&2 &&
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        return 0
    fi
    if [[ "$need" == optional ]]; then
        say "could not install ${missing[*]}; continuing without (run as root or with sudo)"
        return 0
    fi
    say "could not install ${missing[*]}: run as root, or: sudo apt-get install ${missing[*]}"
    return 1
}

# The newest python3.X >= 3.11 on PATH.
find_python() {
    local candidate
    for candidate in python3.14 python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    say "Python 3.11 or newer is needed (found: $(python3 --version 2>&1 || echo none))"
    return 1
}

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        return 0
    fi
    local python version
    python="$(find_python)"
    version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    say "creating $VENV with $python ($version)"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian/Ubuntu ship venv's pip bootstrap separately.
        rm -rf "$VENV"
        ensure_debs required "python$version-venv" || ensure_debs required python3-venv
        "$python" -m venv "$VENV"
    fi
}

# ensure_installed [EXTRAS]: `pip install -e .[EXTRAS]` unless this pyproject.toml with
# these extras is already installed (the stamp records its hash and the extras).
ensure_installed() {
    local extras="${1:-}" hash spec="$ROOT"
    hash="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [[ -x "$VENV/bin/voice-tui" && -r "$STAMP" ]]; then
        local stamped_hash stamped_extras
        read -r stamped_hash stamped_extras <"$STAMP" || true
        if [[ "$stamped_hash" == "$hash" && ( -z "$extras" || "$stamped_extras" == *"$extras"* ) ]]; then
            return 0
        fi
    fi
    [[ -n "$extras" ]] && spec="${ROOT}[${extras}]"
    say "installing voice-tui${extras:+ [$extras]} into $VENV"
    local log="$VENV/pip-install.log"
    # pip's build backend is chatty even with -q: show its output only when it fails.
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "$spec" \
        >"$log" 2>&1; then
        cat "$log" >&2
        say "pip install failed (log: $log)"
        return 1
    fi
    echo "$hash ${extras:-base}" >"$STAMP"
}
