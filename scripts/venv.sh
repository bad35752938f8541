# Sourced by scripts/serve and scripts/test (from the checkout's top): apt through root or sudo,
# and the checkout's own virtual environment, .venv (Debian's and Ubuntu's Python refuse
# `pip install`, PEP 668).

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "${0##*/}: needs root or sudo for: $*" >&2
        exit 1
    fi
}

apt_install() {
    echo "${0##*/}: installing Debian packages: $*"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# ensure_venv [dev]: .venv holding the project (and its dev dependencies with `dev`), installed
# again only when pyproject.toml or the Python changed: .venv/cti-stamp and .venv/cti-dev-stamp
# hold the hash of both as last installed.
ensure_venv() {
    local with="${1:-}"
    # A .venv whose Python is gone or unreadable (made by another user, Python upgraded) is made again.
    if ! .venv/bin/python -c '' >/dev/null 2>&1; then
        rm -rf .venv
        if ! python3 -m venv .venv >/dev/null 2>&1; then
            rm -rf .venv
            apt_install python3-venv  # Debian ships venv's pip apart
            python3 -m venv .venv
        fi
    fi
    local stamp stamp_file=.venv/cti-stamp target=.
    stamp="$( (cat pyproject.toml; .venv/bin/python -VV) | sha256sum | cut -d' ' -f1)"
    if [ "$with" = dev ]; then
        stamp_file=.venv/cti-dev-stamp
        target='.[dev]'
    fi
    # The dev install holds the project too.
    if [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ] && [ "$(cat .venv/cti-dev-stamp 2>/dev/null)" != "$stamp" ]; then
        echo "${0##*/}: installing the project${with:+ and its $with dependencies} into .venv"
        .venv/bin/python -m pip install -q --disable-pip-version-check -e "$target"
        echo "$stamp" > "$stamp_file"
    fi
}
