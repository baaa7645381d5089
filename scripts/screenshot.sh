#!/usr/bin/env bash
# Makes docs/wireshark-auth.png: the Wireshark GUI (Qt, under Xvfb) with the
# mailscope plugin, showing a decoded AUTH PLAIN exchange in the packet tree
# beside Wireshark's own SMTP; and docs/wireshark-mime.png: a decoded message
# with its MIME parts, and File > Export Objects > mail listing its
# attachments under their decoded names.
#
#   scripts/screenshot.sh          # both
#   scripts/screenshot.sh auth     # or: mime
#
# Needs: wireshark-qt xvfb xdotool imagemagick fonts-dejavu-core
#   (sudo apt-get install wireshark-qt xvfb xdotool imagemagick fonts-dejavu-core)
# Wireshark run as root ignores personal plugins, so as root it runs as
# `nobody`; either way WIRESHARK_PLUGIN_DIR holds only the freshly built plugin.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
if [ "$what" = all ]; then
    "$0" auth
    exec "$0" mime
fi
case "$what" in
auth) capture=fixtures/auth-plain/capture.pcap frame=10 out=docs/wireshark-auth.png row_y=560 ;;
mime) capture=fixtures/mime-mixed-data-bdat/capture.pcap frame=28 out=docs/wireshark-mime.png row_y=577 ;;
*) echo "usage: $0 [auth|mime]" >&2; exit 2 ;;
esac
display=:${SCREENSHOT_DISPLAY:-87}

cargo build --release -p mailscope-plugin
series=$(pkg-config --modversion wireshark | cut -d. -f1,2)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/plugins/$series/epan" "$work/home"
cp target/release/libmailscope.so "$work/plugins/$series/epan/mailscope.so"
cp "$capture" "$work/capture.pcap"
chmod -R a+rwX "$work"

run=(env "HOME=$work/home" "WIRESHARK_PLUGIN_DIR=$work/plugins" "DISPLAY=$display")
if [ "$(id -u)" -eq 0 ]; then
    run=(runuser -u nobody -- "${run[@]}")
fi

Xvfb "$display" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
sleep 2
"${run[@]}" wireshark -r "$work/capture.pcap" -g "$frame" -o gui.update.enabled:FALSE >/dev/null 2>&1 &
# Wait for the main window, then expand every subtree of the selected packet.
for _ in $(seq 1 60); do
    window=$(DISPLAY=$display xdotool search --name "capture.pcap" 2>/dev/null | head -n 1 || true)
    [ -n "$window" ] && break
    sleep 1
done
[ -n "${window:-}" ] || { echo "Wireshark did not open a window" >&2; exit 1; }
sleep 3
# No window manager runs under Xvfb: place and size the window directly.
DISPLAY=$display xdotool windowmove "$window" 0 0 windowsize "$window" 1280 860
sleep 2
if [ -n "${SCREENSHOT_PROBE:-}" ]; then
    DISPLAY=$display import -window root "$out"
    exit 0
fi
# Keyboard focus follows the pointer without a window manager: click the
# mailscope row of the packet details (the sixth, below Wireshark's own SMTP)
# and expand its subtrees.
DISPLAY=$display xdotool mousemove "${ROW_X:-120}" "${ROW_Y:-$row_y}" click 1
sleep 1
DISPLAY=$display xdotool key shift+Right
sleep 2
if [ "$what" = mime ]; then
    # File > Export Objects > mail: the attachments under their decoded names.
    DISPLAY=$display xdotool mousemove 20 10 click 1
    sleep 1
    # The menu has the keyboard: up from the bottom to Export Objects, into its submenu.
    DISPLAY=$display xdotool key Up Up Up Right
    sleep 1
    if [ -n "${SCREENSHOT_MENU_PROBE:-}" ]; then
        DISPLAY=$display import -window root "$out"
        exit 0
    fi
    DISPLAY=$display xdotool key ${MAIL_KEYS:-Down Down Down Down Return}
    sleep 3
    dialog=$(DISPLAY=$display xdotool search --name "Export" 2>/dev/null | head -n 1 || true)
    if [ -n "$dialog" ]; then
        DISPLAY=$display xdotool windowmove "$dialog" ${DIALOG_X:-480} ${DIALOG_Y:-430} windowsize "$dialog" 790 400
        sleep 2
    else
        echo "the Export Objects dialog did not open" >&2
    fi
fi
DISPLAY=$display import -window root "$out"
echo "wrote $out"
