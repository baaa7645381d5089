/* mailscope's epan shim: what its C files share.
 *
 * Everything that calls into epan lives in these files, in C, because epan
 * reports errors by longjmp (THROW) and a longjmp must not unwind Rust
 * frames. The Rust side (lib.rs and its modules) exports mailscope_*
 * functions that never call back into epan: the shim asks them for the
 * field table and for the PDUs a segment completes, then builds trees,
 * expert infos, the Info column, the credentials tap and the IMF hand-off
 * from those plain C views. One file per job, as Wireshark's multi-file
 * plugins do:
 *
 *   register.c      proto_register_mail, proto_reg_handoff_mail: fields,
 *                   experts, preferences, ports, tables, taps
 *   builtin.c       Wireshark's own SMTP and POP beside mailscope: the port
 *                   wrapper, the private tables, the TLS stand-ins
 *   conversation.c  per-conversation state, detection, the first pass, the
 *                   postdissector
 *   tls.c           STARTTLS/STLS hand-off and decrypted TLS data
 *   tree.c          items, PDUs, columns and expert infos shown on a frame
 *   taps.c          the credentials tap and export objects
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MAILSCOPE_SHIM_H
#define MAILSCOPE_SHIM_H

#include <string.h>

#include <ws_version.h>
#include <epan/packet.h>
#include <epan/address_types.h>
#include <epan/to_str.h>
#include <epan/conversation.h>
#include <epan/exceptions.h>
#include <epan/expert.h>
#include <epan/export_object.h>
#include <epan/show_exception.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/range.h>
#include <epan/tap.h>
#include <epan/dissectors/packet-tcp.h>
#include <epan/dissectors/packet-tls.h>
#include <epan/dissectors/packet-tls-utils.h>

/* ---- what differs between Wireshark 4.0 and 4.6 ---- */

#define MAIL_WS_AT_LEAST(major, minor) \
    (WIRESHARK_VERSION_MAJOR > (major) || (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

#if MAIL_WS_AT_LEAST(4, 4)
/* 4.4 moved preferences from gboolean to C99 bool. */
typedef bool mail_bool_pref;
#else
typedef gboolean mail_bool_pref;
#endif

#if MAIL_WS_AT_LEAST(4, 2)
/* 4.2 made a field's value a pointer. */
#define MAIL_FIELD_VALUE(fi) ((fi)->value)
#else
#define MAIL_FIELD_VALUE(fi) (&(fi)->value)
#endif

/* ---- the Rust side: its ABI, generated from plugin/src/abi.rs and lib.rs ---- */

#include "mailscope.h"

/* The credentials tap's record. Wireshark does not install its header
 * (tap-credentials.h); this is its layout, unchanged since 3.2. */
typedef struct tap_credential {
    guint num;
    guint username_num;
    guint password_hf_id;
    gchar *username;
    const gchar *proto;
    gchar *info;
} tap_credential_t;

#define MAIL_MAX_DEPTH 16

/* One object queued for the export tap, in packet scope. */
typedef struct {
    const char *hostname;
    const char *filename;
    const char *content_type;
    const guint8 *payload;
    size_t payload_len;
} mail_export_t;

/* Per-frame data keys besides the layer numbers the dissector uses. */
#define MAIL_KEY_POST 1        /* what the postdissector fed from this frame */
#define MAIL_KEY_CALLS 2       /* packet scope: decrypted records seen in this frame so far */
#define MAIL_KEY_TLS 16        /* + the record's index: what a decrypted record gave */

/* One byte stream of a conversation as the core parses it. */
typedef struct {
    PluginConnection *conn;
    guint32 last_frame;        /* the last frame the first pass fed it */
    guint32 at_end_frame;      /* the frame `at_end` was computed for */
    const MsResult *at_end;    /* what only the end of the capture completes */
} mail_stream_t;

/* Per TCP conversation: whether it is mail (decided as the harness decides),
 * who the server is, and the core's connections. */
typedef struct {
    MsProtocol protocol;        /* MS_PROTOCOL_NONE while undecided */
    PluginDetector *detector;   /* content detection while undecided */
    address a_addr;             /* side a for the detector: who sent the first payload */
    guint32 a_port;
    gboolean not_mail;          /* the detector gave up on it */
    gboolean by_content;        /* found by the detector, not by a port */
    gboolean released;          /* found by content, then shown to be another protocol */
    address server_addr;
    guint32 server_port;
    mail_stream_t outer;        /* the TCP stream as captured */
    mail_stream_t inner;        /* decrypted TLS after STARTTLS/STLS, or on 465/995 */
    gboolean tls_started;
    gboolean implicit_tls;      /* TLS from the first byte (465, 995): no clear text to parse */
} mail_conv_t;

/* Per frame: what the first pass produced. */
typedef struct {
    const MsResult *result;
    mail_conv_t *conv;
    /* The TCP payload fed, as a span of the frame (-1: not plain frame bytes). */
    gint payload_start;
    gint payload_len;
} mail_frame_t;

/* Who sent a segment: network addresses and TCP ports. Tunnel dissectors
 * (SOCKS, HTTP CONNECT) rewrite pinfo's ports for what they carry, so the
 * postdissector takes the ports from TCP's own fields. */
typedef struct {
    const address *src;
    const address *dst;
    guint32 srcport;
    guint32 dstport;
} mail_endpoints_t;

/* Registration: the protocol, one hf and one ett per field of the table, one ei per expert. */
extern int proto_mail;
extern int *hf_ids;
extern gint *ett_ids;
extern gint ett_mail;
extern expert_field *ei_ids;
extern hf_register_info *hf_table;
extern ei_register_info *ei_table;
extern guint field_count;
extern guint expert_count;
extern int credentials_tap;
extern int export_tap;

/* TCP's fields the postdissector reads, looked up by name at hand-off. */
extern int hf_tcp_payload;
extern int hf_tcp_seq;
extern int hf_tcp_ack;
extern int hf_tcp_flags;
extern int hf_tcp_srcport;
extern int hf_tcp_dstport;

/* Wireshark's own dissectors on mailscope's ports, in TCP and inside TLS (see builtin.c). */
extern dissector_table_t builtin_tcp;
extern dissector_table_t builtin_tls;

/* A credential's frame -> (answer frame << 1) | success, per file (see tree.c). */
extern wmem_map_t *outcomes;

/* Handles. */
extern dissector_table_t tcp_port_table;
extern dissector_handle_t mail_handle;
extern dissector_handle_t mail_port_handle;
extern dissector_handle_t mail_post_handle;
extern dissector_handle_t mail_tls_handle;
extern dissector_handle_t imf_handle;
extern dissector_handle_t tls_handle;

/* Preferences (see proto_register_mail for what each means). */
extern mail_bool_pref pref_reassemble;
extern mail_bool_pref pref_show_passwords;
extern const char *pref_default_charset;
extern mail_bool_pref pref_imf;

/* register.c */
void proto_register_mail(void);
void proto_reg_handoff_mail(void);

/* builtin.c */
void call_builtin(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
                  proto_tree *tree);
dissector_handle_t builtin_for(guint32 port, gboolean tls);
int call_builtin_of(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
                    proto_tree *tree, void *data);
void remember_builtin(dissector_table_t table, guint32 port, gboolean tls, dissector_handle_t ours);
gboolean mail_enabled(void);
int dissect_mail(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
dissector_handle_t tls_wrapper_for(guint32 port, gboolean tls);

/* conversation.c */
mail_endpoints_t pinfo_endpoints(packet_info *pinfo);
mail_conv_t *conv_of(conversation_t *conversation);
PluginConnection *new_conn(MsProtocol protocol, gboolean after_starttls);
void decide_as(mail_conv_t *conv, const mail_endpoints_t *ep, MsProtocol protocol, gboolean src_is_server);
gboolean from_server(const mail_conv_t *conv, packet_info *pinfo);
const MsResult *first_pass(tvbuff_t *tvb, packet_info *pinfo, bool to_server, PluginConnection *conn,
                           struct tcpinfo *tcpinfo);
int dissect_mail_post(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_);

/* tls.c */
int dissect_mail_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
void claim_tls(tvbuff_t *tvb, packet_info *pinfo, mail_conv_t *conv);
void take_tls_after(packet_info *pinfo, mail_conv_t *conv, const MsResult *result);

/* tree.c */
void note_outcomes(packet_info *pinfo, const MsResult *result);
void set_columns(packet_info *pinfo, const mail_conv_t *conv);
void show_result(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const mail_conv_t *conv,
                 const MsResult *result, const char *data_source);
void show_at_end(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const mail_conv_t *conv,
                 mail_stream_t *stream);

/* taps.c */
void tap_credential(packet_info *pinfo, const MsTap *tap, const char *proto_name);
tap_packet_status export_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_, const void *data,
                                tap_flags_t flags _U_);
void queue_exports(packet_info *pinfo, const mail_conv_t *conv, const MsPdu *pdu);

#endif
