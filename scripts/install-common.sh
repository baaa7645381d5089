# What both installers share (sourced by install-plugin.sh and
# install-harness.sh with their arguments): their options, which set
# `system` (--system: the machine-wide place, as root) and `remove`
# (--remove: take it away again), and the step that builds and installs.
system=0
remove=0
for arg in "$@"; do
    case "$arg" in
        --system) system=1 ;;
        --remove) remove=1 ;;
        *) echo "usage: $0 [--system] [--remove]" >&2; exit 2 ;;
    esac
done

# install_built PACKAGE BUILT MODE DEST NAME [NOTE]: builds PACKAGE in
# release mode and installs BUILT as DEST/NAME, or with --remove removes it.
install_built() {
    local package=$1 built=$2 mode=$3 dest=$4 name=$5 note=${6:-}
    if [ "$remove" -eq 1 ]; then
        rm -f "$dest/$name"
        echo "removed $dest/$name"
        exit 0
    fi
    cargo build --release -p "$package"
    mkdir -p "$dest"
    install -m "$mode" "$built" "$dest/$name"
    echo "installed $dest/$name${note:+ ($note)}"
}
