/* What mailscope binds from the installed Wireshark: its version, and the
 * epan types the plugin's C shim and Rust side exchange. */
#include <ws_version.h>
#include <epan/packet.h>
#include <epan/dissectors/packet-tcp.h>
