/* mailscope's epan shim.
 *
 * Everything that calls into epan lives here, in C, because epan reports
 * errors by longjmp (THROW) and a longjmp must not unwind Rust frames. The
 * Rust side (lib.rs) exports mailscope_* functions that never call back into
 * epan: this file asks them for the field table and for the PDUs a segment
 * completes, then builds trees, expert infos, the Info column, the
 * credentials tap and the IMF hand-off from those plain C views.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

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

/* ---- registration state ---- */

#define MAIL_MAX_DEPTH 16

static int proto_mail = -1;
static int *hf_ids;       /* one per field, indexed like the table */
static gint *ett_ids;     /* one per field: any field may head a subtree */
static gint ett_mail = -1;
static expert_field *ei_ids;
static hf_register_info *hf_table;
static ei_register_info *ei_table;
static guint field_count;
static guint expert_count;
static int credentials_tap = -1;
/* File > Export Objects > mail: messages and their attachments. */
static int export_tap = -1;

/* One object queued for the export tap, in packet scope. */
typedef struct {
    const char *hostname;
    const char *filename;
    const char *content_type;
    const guint8 *payload;
    size_t payload_len;
} mail_export_t;

/* TCP's fields the postdissector reads, looked up by name at hand-off. */
static int hf_tcp_payload = -1;
static int hf_tcp_seq = -1;
static int hf_tcp_ack = -1;
static int hf_tcp_flags = -1;
static int hf_tcp_srcport = -1;
static int hf_tcp_dstport = -1;

/* The built-in dissectors mailscope sits beside: what tcp.port and
 * tls.port held for mailscope's ports before it registered, kept in two
 * private tables so they are called with dissector_try_uint_new (which can
 * leave out the layer a wrapper owned by the same protocol already added). */
static dissector_table_t builtin_tcp;
static dissector_table_t builtin_tls;

/* TLS application-data handles that run dissect_mail_tls, one per protocol
 * of the built-in dissector they stand in for (so TLS names "Simple Mail
 * Transfer Protocol" as without mailscope, and the handle runs, handing on
 * to the built-in dissector, while mailscope is disabled). */
#define MAIL_MAX_TLS_WRAPPERS 8
static struct {
    int proto;
    dissector_handle_t handle;
} tls_wrappers[MAIL_MAX_TLS_WRAPPERS];
static guint tls_wrapper_count;

/* Per-frame data keys besides the layer numbers the dissector uses. */
#define MAIL_KEY_POST 1        /* what the postdissector fed from this frame */
#define MAIL_KEY_CALLS 2       /* packet scope: decrypted records seen in this frame so far */
#define MAIL_KEY_TLS 16        /* + the record's index: what a decrypted record gave */

/* Per file, on the first pass: a credential's frame -> the frame that
 * answered its login and whether it succeeded ((answer << 1) | success),
 * so later passes show the outcome on the credential's frame too. */
static wmem_map_t *outcomes;

static dissector_table_t tcp_port_table;
static dissector_handle_t mail_handle;
static dissector_handle_t mail_port_handle; /* mailscope's default ports that a built-in dissector had */
static dissector_handle_t mail_post_handle;
static dissector_handle_t mail_tls_handle;
static dissector_handle_t imf_handle;
static dissector_handle_t tls_handle;

static mail_bool_pref pref_reassemble = TRUE;
static mail_bool_pref pref_show_passwords = TRUE;
/* Charset for message text and headers that declare none (empty: none). */
static const char *pref_default_charset = "";
/* The built-in SMTP and POP dissectors hand DATA to IMF themselves; an
 * extra hand-off would add IMF where Wireshark shows none (POP3 RETR, BDAT,
 * other ports), so it is the user's choice. */
static mail_bool_pref pref_imf = FALSE;

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

static dissector_handle_t builtin_for(guint32 port, gboolean tls);
static int call_builtin_of(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
                           proto_tree *tree, void *data);

/* Per frame: what the first pass produced. */
typedef struct {
    const MsResult *result;
    mail_conv_t *conv;
    /* The TCP payload fed, as a span of the frame (-1: not plain frame bytes). */
    gint payload_start;
    gint payload_len;
} mail_frame_t;

static void mail_cleanup(void)
{
    mailscope_reset();
}

/* Who sent a segment: network addresses and TCP ports. Tunnel dissectors
 * (SOCKS, HTTP CONNECT) rewrite pinfo's ports for what they carry, so the
 * postdissector takes the ports from TCP's own fields. */
typedef struct {
    const address *src;
    const address *dst;
    guint32 srcport;
    guint32 dstport;
} mail_endpoints_t;

static mail_endpoints_t pinfo_endpoints(packet_info *pinfo)
{
    mail_endpoints_t ep = {&pinfo->src, &pinfo->dst, pinfo->srcport, pinfo->destport};
    return ep;
}

/* The conversation's mailscope state, created blank (undecided). */
static mail_conv_t *conv_of(conversation_t *conversation)
{
    mail_conv_t *conv = (mail_conv_t *)conversation_get_proto_data(conversation, proto_mail);
    if (!conv) {
        conv = wmem_new0(wmem_file_scope(), mail_conv_t);
        conv->protocol = MS_PROTOCOL_NONE;
        conversation_add_proto_data(conversation, proto_mail, conv);
    }
    return conv;
}

/* A connection of the core, reading undeclared charsets as the preference says. */
static PluginConnection *new_conn(MsProtocol protocol, gboolean after_starttls)
{
    PluginConnection *conn =
        after_starttls ? mailscope_conn_new_after_starttls(protocol) : mailscope_conn_new(protocol);
    mailscope_conn_set_default_charset(conn, pref_default_charset);
    return conn;
}

static void decide_as(mail_conv_t *conv, const mail_endpoints_t *ep, MsProtocol protocol, gboolean src_is_server)
{
    conv->protocol = protocol;
    copy_address_wmem(wmem_file_scope(), &conv->server_addr, src_is_server ? ep->src : ep->dst);
    conv->server_port = src_is_server ? ep->srcport : ep->dstport;
    conv->outer.conn = new_conn(protocol, FALSE);
}

/* The protocol a port names: mailscope's defaults, or a port the user gave
 * mailscope (mail.tcp.port, Decode As), which content then names. */
static MsProtocol port_protocol(guint32 port, gboolean *users)
{
    MsProtocol protocol = mailscope_protocol_for_port((guint16)port, FALSE);
    *users = protocol == MS_PROTOCOL_NONE && tcp_port_table &&
             dissector_get_uint_handle(tcp_port_table, port) == mail_handle;
    return protocol;
}

/* Whether the conversation is mail, decided on its payloads as the harness
 * decides: a mail port (the destination's first), else the core's content
 * detector, which holds the first payloads until they prove a mail protocol
 * and then starts the connection with them (`*replayed`: this frame's result). */
static gboolean decide(mail_conv_t *conv, const mail_endpoints_t *ep, const guint8 *bytes, guint len,
                       const struct tcpinfo *segment, guint32 frame, const MsResult **replayed)
{
    *replayed = NULL;
    if (conv->protocol != MS_PROTOCOL_NONE)
        return TRUE;
    if (conv->not_mail || len == 0)
        return FALSE;
    gboolean users_dst, users_src;
    MsProtocol dst = port_protocol(ep->dstport, &users_dst);
    MsProtocol src = port_protocol(ep->srcport, &users_src);
    bool to_server = 0;
    MsProtocol found = MS_PROTOCOL_NONE;
    if (dst != MS_PROTOCOL_NONE) {
        decide_as(conv, ep, dst, FALSE);
    } else if (src != MS_PROTOCOL_NONE) {
        decide_as(conv, ep, src, TRUE);
    } else if (users_dst || users_src) {
        /* A port the user named as mail: the first line guesses which protocol. */
        if (mailscope_first_line_guess(bytes, len, &to_server, &found))
            decide_as(conv, ep, found, !to_server);
        else
            decide_as(conv, ep, MS_PROTOCOL_SMTP, users_src && !users_dst);
    } else {
        if (!conv->detector) {
            conv->detector = mailscope_detector_new((guint16)ep->srcport, (guint16)ep->dstport);
            copy_address_wmem(wmem_file_scope(), &conv->a_addr, ep->src);
            conv->a_port = ep->srcport;
        }
        gboolean from_a = ep->srcport == conv->a_port && addresses_equal(ep->src, &conv->a_addr);
        MsVerdict verdict = mailscope_detector_payload(conv->detector, from_a, segment->seq, segment->lastackseq,
                                                       (segment->flags & TH_ACK) != 0, bytes, len, frame);
        if (verdict.kind == MS_VERDICT_KIND_NOT_MAIL)
            conv->not_mail = TRUE;
        if (verdict.kind != MS_VERDICT_KIND_MAIL)
            return FALSE;
        decide_as(conv, ep, verdict.protocol, verdict.server_is_a == from_a);
        conv->by_content = TRUE;
        *replayed = mailscope_conn_replay(conv->outer.conn, conv->detector, pref_reassemble);
        conv->detector = NULL;
    }
    return conv->protocol != MS_PROTOCOL_NONE;
}

static gboolean sent_by_server(const mail_conv_t *conv, const mail_endpoints_t *ep)
{
    return ep->srcport == conv->server_port && addresses_equal(ep->src, &conv->server_addr);
}

static gboolean from_server(const mail_conv_t *conv, packet_info *pinfo)
{
    mail_endpoints_t ep = pinfo_endpoints(pinfo);
    return sent_by_server(conv, &ep);
}

/* Adds items (in tree order, with depths) under `root`; `tvb` holds the
 * bytes their spans point into from `base` on. */
static void add_items(tvbuff_t *tvb, gint base, proto_tree *root, const MsItem *items, guint32 count)
{
    proto_tree *parents[MAIL_MAX_DEPTH + 1];
    parents[0] = root;
    for (guint32 i = 0; i < count; i++) {
        const MsItem *item = &items[i];
        guint depth = item->depth < MAIL_MAX_DEPTH ? item->depth : MAIL_MAX_DEPTH - 1;
        proto_tree *parent = parents[depth];
        int hf = hf_ids[item->field];
        gint offset = base + (gint)item->offset;
        gint len = (gint)item->len;
        proto_item *ti;
        switch (item->kind) {
        case MS_ITEM_KIND_STRING:
            if (!pref_show_passwords && mailscope_field_is_secret(item->field))
                ti = proto_tree_add_string(parent, hf, tvb, offset, len, "********");
            else
                ti = proto_tree_add_string(parent, hf, tvb, offset, len, item->text);
            break;
        case MS_ITEM_KIND_UINT:
            ti = proto_tree_add_uint64(parent, hf, tvb, offset, len, item->number);
            break;
        case MS_ITEM_KIND_BOOL:
            ti = proto_tree_add_boolean(parent, hf, tvb, offset, len, item->number != 0);
            break;
        default:
            ti = proto_tree_add_item(parent, hf, tvb, offset, len, ENC_NA);
            break;
        }
        if (item->len == 0)
            proto_item_set_generated(ti);
        parents[depth + 1] = proto_item_add_subtree(ti, ett_ids[item->field]);
    }
}

/* Notes, on the first pass, the outcome of each login a result answers. */
static void note_outcomes(packet_info *pinfo, const MsResult *result)
{
    for (guint32 i = 0; result && i < result->pdu_count; i++) {
        const MsPdu *pdu = &result->pdus[i];
        if (pdu->outcome_of)
            wmem_map_insert(outcomes, GUINT_TO_POINTER(pdu->outcome_of),
                            GUINT_TO_POINTER((pinfo->num << 1) | (pdu->outcome_success ? 1u : 0u)));
    }
}

/* Once every frame has been seen (tshark -2, the GUI), a credential's frame
 * also says how its login ended, so one row of -T fields holds the user, the
 * secret and the outcome. */
static void add_known_outcome(tvbuff_t *tvb, gint base, packet_info *pinfo, proto_tree *root, const MsPdu *pdu)
{
    if (!PINFO_FD_VISITED(pinfo) || !pdu->credential_frame)
        return;
    guint known = GPOINTER_TO_UINT(wmem_map_lookup(outcomes, GUINT_TO_POINTER(pdu->credential_frame)));
    if (!known || known >> 1 == pinfo->num)
        return;
    proto_item *ti = proto_tree_add_string(root, hf_ids[mailscope_field_auth_result()], tvb, base, 0,
                                           (known & 1) ? "success" : "failure");
    proto_item_set_generated(ti);
}

/* Adds one PDU's items; `tvb` holds the PDU's bytes from `base` on. The
 * decoded message's items point into the message as carried, shown as a
 * data source of its own. */
static proto_item *add_pdu(tvbuff_t *tvb, gint base, packet_info *pinfo, proto_tree *tree, const MsPdu *pdu,
                           const char *protocol)
{
    proto_item *top = proto_tree_add_item(tree, proto_mail, tvb, base, pdu->len, ENC_NA);
    proto_item_set_text(top, "mailscope %s, %s", protocol, pdu->label);
    proto_tree *root = proto_item_add_subtree(top, ett_mail);
    add_items(tvb, base, root, pdu->items, pdu->item_count);
    if (pdu->message_item_count > 0) {
        tvbuff_t *message_tvb = tvb_new_child_real_data(tvb, pdu->message, pdu->message_len, pdu->message_len);
        add_new_data_source(pinfo, message_tvb, "Message (mailscope)");
        add_items(message_tvb, 0, root, pdu->message_items, pdu->message_item_count);
    }
    add_known_outcome(tvb, base, pinfo, root, pdu);
    for (guint32 i = 0; i < pdu->anomaly_count; i++) {
        const MsAnomaly *anomaly = &pdu->anomalies[i];
        expert_add_info_format(pinfo, top, &ei_ids[anomaly->expert], "%s", anomaly->message);
    }
    return top;
}

static void tap_credential(packet_info *pinfo, const MsTap *tap, const char *proto_name)
{
    tap_credential_t *auth = wmem_new0(pinfo->pool, tap_credential_t);
    /* Listed at the credential's frame, as the harness's summary names it;
     * queued here, where its outcome is known. */
    auth->num = tap->username_frame ? tap->username_frame : pinfo->num;
    auth->username_num = tap->username_frame;
    auth->password_hf_id = hf_ids[tap->secret_field];
    auth->username = wmem_strdup(pinfo->pool, tap->user);
    auth->proto = proto_name;
    auth->info = wmem_strdup(pinfo->pool, tap->info);
    tap_queue_packet(credentials_tap, pinfo, auth);
}

static tap_packet_status export_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_, const void *data,
                                       tap_flags_t flags _U_)
{
    export_object_list_t *list = (export_object_list_t *)tapdata;
    const mail_export_t *object = (const mail_export_t *)data;
    export_object_entry_t *entry = g_new0(export_object_entry_t, 1);
    entry->pkt_num = pinfo->num;
    entry->hostname = g_strdup(object->hostname);
    entry->content_type = g_strdup(object->content_type);
    entry->filename = g_strdup(object->filename);
    entry->payload_len = object->payload_len;
    entry->payload_data = (guint8 *)g_memdup2(object->payload, object->payload_len);
    list->add_entry(list->gui_data, entry);
    return TAP_PACKET_REDRAW;
}

/* The message a PDU completes, and each attachment in it, for the export
 * tap; decoded only while someone listens. */
static void queue_exports(packet_info *pinfo, const mail_conv_t *conv, const MsPdu *pdu)
{
    if (!pdu->message || !have_tap_listener(export_tap))
        return;
    MsExports *exports = mailscope_message_exports(pdu->message, pdu->message_len);
    if (!exports)
        return;
    const char *host = address_to_str(pinfo->pool, &conv->server_addr);
    for (guint32 i = 0; i < exports->count; i++) {
        const MsExport *e = &exports->entries[i];
        mail_export_t *object = wmem_new0(pinfo->pool, mail_export_t);
        object->hostname = host;
        object->filename = wmem_strdup(pinfo->pool, e->filename);
        object->content_type = wmem_strdup(pinfo->pool, e->content_type);
        object->payload = (const guint8 *)wmem_memdup(pinfo->pool, e->data, e->len);
        object->payload_len = e->len;
        tap_queue_packet(export_tap, pinfo, object);
    }
    mailscope_exports_free(exports);
}

/* The Protocol and Info columns are mailscope's on a frame it shows: what
 * the built-in dissectors wrote there, fences and all (IMF fences "POP/"),
 * is replaced, so the column reads "POP", not "POP/POP". */
static void set_columns(packet_info *pinfo, const mail_conv_t *conv)
{
    col_clear_fence(pinfo->cinfo, COL_PROTOCOL);
    col_set_str(pinfo->cinfo, COL_PROTOCOL, mailscope_protocol_column(conv->protocol));
    col_clear_fence(pinfo->cinfo, COL_INFO);
    col_clear(pinfo->cinfo, COL_INFO);
}

/* Shows a first-pass result on this frame (any pass). */
static void show_result(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const mail_conv_t *conv,
                        const MsResult *result, const char *data_source)
{
    guint tvb_len = tvb_reported_length(tvb);
    if (result->internal_error) {
        proto_item *ti = proto_tree_add_item(tree, proto_mail, tvb, 0, -1, ENC_NA);
        expert_add_info_format(pinfo, ti, &ei_ids[mailscope_expert_internal()], "%s", result->internal_error);
    }
    for (guint32 i = 0; i < result->tap_count; i++)
        tap_credential(pinfo, &result->taps[i], mailscope_protocol_name(conv->protocol));
    for (guint32 i = 0; i < result->pdu_count; i++) {
        const MsPdu *pdu = &result->pdus[i];
        tvbuff_t *pdu_tvb = tvb;
        gint base = 0;
        gboolean inside = result->has_stream_offset && pdu->stream_offset >= result->stream_offset &&
                          pdu->stream_offset + pdu->len <= result->stream_offset + tvb_len;
        if (inside) {
            base = (gint)(pdu->stream_offset - result->stream_offset);
        } else if (pdu->len > 0) {
            /* The PDU began in earlier segments: show its bytes as reassembled. */
            pdu_tvb = tvb_new_child_real_data(tvb, pdu->bytes, pdu->len, pdu->len);
            add_new_data_source(pinfo, pdu_tvb, data_source);
        }
        col_append_sep_str(pinfo->cinfo, COL_INFO, " | ", pdu->info);
        add_pdu(pdu_tvb, base, pinfo, tree, pdu, mailscope_protocol_column(conv->protocol));
        queue_exports(pinfo, conv, pdu);
        /* Wireshark's own SMTP hands DATA to IMF where it has the port:
         * mailscope adds IMF only where Wireshark shows none. */
        gboolean builtin_imf = pdu->message_source == MS_MESSAGE_SOURCE_SMTP_DATA &&
                               builtin_for(conv->server_port, FALSE) != NULL;
        if (pdu->message && pref_imf && imf_handle && !builtin_imf) {
            tvbuff_t *message_tvb = tvb_new_child_real_data(tvb, pdu->message, pdu->message_len, pdu->message_len);
            add_new_data_source(pinfo, message_tvb, "Message content");
            call_dissector(imf_handle, message_tvb, pinfo, tree);
        }
    }
}

/* Once every frame has been seen (a later pass: tshark -2, or the GUI
 * showing a frame), the stream's last frame also shows what only the end of
 * the capture completes: a message still open, bytes behind a hole. A
 * single pass cannot know which frame is last. */
static void show_at_end(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const mail_conv_t *conv,
                        mail_stream_t *stream)
{
    if (!PINFO_FD_VISITED(pinfo) || !stream->conn || pinfo->num != stream->last_frame)
        return;
    if (stream->at_end_frame != stream->last_frame) {
        stream->at_end = mailscope_conn_at_end(stream->conn, pinfo->num);
        stream->at_end_frame = stream->last_frame;
    }
    if (stream->at_end && (stream->at_end->pdu_count > 0 || stream->at_end->tap_count > 0 ||
                           stream->at_end->internal_error))
        show_result(tvb, pinfo, tree, conv, stream->at_end, "Mail PDU at the end of the capture");
}

static const MsResult *first_pass(tvbuff_t *tvb, packet_info *pinfo, bool to_server, PluginConnection *conn,
                                   struct tcpinfo *tcpinfo)
{
    guint len = tvb_captured_length(tvb);
    const guint8 *bytes = len ? tvb_get_ptr(tvb, 0, len) : NULL;
    if (tcpinfo && pref_reassemble)
        return mailscope_conn_segment(conn, to_server, tcpinfo->seq, tcpinfo->lastackseq,
                                      (tcpinfo->flags & TH_ACK) != 0, bytes, len, pinfo->num);
    return mailscope_conn_stream(conn, to_server, bytes, len, pinfo->num);
}

/* Runs Wireshark's own SMTP or POP dissector on decrypted bytes mailscope
 * took from TLS, so smtp.* and pop.* are there as without mailscope. It
 * parses each record as it comes: asking TLS to reassemble would hand
 * mailscope the same bytes twice. */
static void call_builtin(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
                         proto_tree *tree)
{
    guint16 can_desegment = pinfo->can_desegment;
    pinfo->can_desegment = 0;
    TRY {
        call_builtin_of(port, tls, add_layer, tvb, pinfo, tree, NULL);
    }
    CATCH_NONFATAL_ERRORS {
        show_exception(tvb, pinfo, tree, EXCEPT_CODE, GET_MESSAGE);
    }
    ENDTRY;
    pinfo->can_desegment = can_desegment;
}

/* The built-in dissector that had a port before mailscope, in TCP or (`tls`) inside TLS. */
static dissector_handle_t builtin_for(guint32 port, gboolean tls)
{
    dissector_table_t table = tls ? builtin_tls : builtin_tcp;
    return table ? dissector_get_uint_handle(table, port) : NULL;
}

/* Calls the built-in dissector of `port`; `add_layer` false when the
 * calling handle already belongs to its protocol. */
static int call_builtin_of(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
                           proto_tree *tree, void *data)
{
    dissector_table_t table = tls ? builtin_tls : builtin_tcp;
    return table ? dissector_try_uint_new(table, port, tvb, pinfo, tree, add_layer, data) : 0;
}

static void remember_builtin(dissector_table_t table, guint32 port, gboolean tls, dissector_handle_t ours)
{
    dissector_handle_t builtin = table ? dissector_get_uint_handle(table, port) : NULL;
    if (builtin && builtin != ours)
        dissector_add_uint(tls ? "mail.builtin.tls" : "mail.builtin.tcp", port, builtin);
}

/* The TLS handle that stands in for the built-in dissector of `port`
 * (mailscope's own when there is none). */
static dissector_handle_t tls_wrapper_for(guint32 port, gboolean tls);

/* Whether mailscope is enabled (Analyze > Enabled Protocols, --disable-protocol mail). */
static gboolean mail_enabled(void)
{
    return proto_is_protocol_enabled(find_protocol_by_id(proto_mail));
}

/* Decrypted TLS application data: after STARTTLS/STLS (mailscope took the
 * session from TLS when the server accepted) or on 465/995. The handle
 * belongs to no protocol, so with mailscope disabled it still hands 465
 * and 995 to the dissector that had them, as if mailscope were not there. */
static int dissect_mail_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    if (!mail_enabled())
        return call_builtin_of(pinfo->match_uint, TRUE, FALSE, tvb, pinfo, tree, data);
    mail_conv_t *conv = conv_of(find_or_create_conversation(pinfo));
    if (conv->protocol == MS_PROTOCOL_NONE) {
        gboolean src_is_server = pinfo->srcport == pinfo->match_uint && pinfo->destport != pinfo->match_uint;
        MsProtocol protocol = mailscope_protocol_for_port((guint16)pinfo->match_uint, TRUE);
        mail_endpoints_t ep = pinfo_endpoints(pinfo);
        decide_as(conv, &ep, protocol == MS_PROTOCOL_NONE ? MS_PROTOCOL_SMTP : protocol, src_is_server);
        conv->implicit_tls = !conv->tls_started;
    }
    gboolean builtin_tls_port = !conv->tls_started;
    dissector_handle_t builtin = builtin_for(conv->server_port, builtin_tls_port);
    if (builtin)
        call_builtin(conv->server_port, builtin_tls_port, tls_wrapper_for(conv->server_port, builtin_tls_port) == mail_tls_handle,
                     tvb, pinfo, tree);

    /* TLS may hand over several records in one frame: one result each. */
    guint *calls = (guint *)p_get_proto_data(pinfo->pool, pinfo, proto_mail, MAIL_KEY_CALLS);
    if (!calls) {
        calls = wmem_new0(pinfo->pool, guint);
        p_add_proto_data(pinfo->pool, pinfo, proto_mail, MAIL_KEY_CALLS, calls);
    }
    guint key = MAIL_KEY_TLS + (*calls)++;
    mail_frame_t *frame = (mail_frame_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_mail, key);
    if (!frame && !PINFO_FD_VISITED(pinfo)) {
        if (!conv->inner.conn)
            conv->inner.conn = new_conn(conv->protocol, conv->tls_started);
        frame = wmem_new0(wmem_file_scope(), mail_frame_t);
        frame->conv = conv;
        frame->result = first_pass(tvb, pinfo, !from_server(conv, pinfo), conv->inner.conn, NULL);
        note_outcomes(pinfo, frame->result);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_mail, key, frame);
        conv->inner.last_frame = pinfo->num;
    }
    if (frame && frame->result && (frame->result->pdu_count > 0 || frame->result->internal_error)) {
        set_columns(pinfo, conv);
        show_result(tvb, pinfo, tree, conv, frame->result, "Decrypted mail PDU");
    }
    show_at_end(tvb, pinfo, tree, conv, &conv->inner);
    return tvb_captured_length(tvb);
}

/* TLS follows this frame, and its decrypted data goes to mailscope. */
static void hand_to_tls(packet_info *pinfo, mail_conv_t *conv)
{
    if (!tls_handle || conv->tls_started)
        return;
    conv->tls_started = TRUE;
    ssl_starttls_ack(tls_handle, pinfo, tls_wrapper_for(conv->server_port, FALSE));
}

/* A server's answer to STARTTLS/STLS: if it accepts, the decrypted session
 * goes to mailscope (which runs Wireshark's own SMTP or POP on it too). TLS
 * keeps the first dissector that asks, so this runs before the built-in
 * dissector sees the answer. */
static void claim_tls(tvbuff_t *tvb, packet_info *pinfo, mail_conv_t *conv)
{
    if (PINFO_FD_VISITED(pinfo) || !conv || !conv->outer.conn || conv->tls_started ||
        !from_server(conv, pinfo) || !mailscope_conn_awaits_tls(conv->outer.conn))
        return;
    const char *accept = conv->protocol == MS_PROTOCOL_POP3 ? "+OK" : "220";
    guint len = tvb_captured_length(tvb);
    const guint8 *bytes = len ? tvb_get_ptr(tvb, 0, len) : NULL;
    for (guint at = 0; bytes && at + 3 <= len;) {
        if (memcmp(bytes + at, accept, 3) == 0 && (at + 3 == len || bytes[at + 3] != '-')) {
            hand_to_tls(pinfo, conv);
            return;
        }
        const guint8 *eol = (const guint8 *)memchr(bytes + at, '\n', len - at);
        if (!eol)
            return;
        at = (guint)(eol - bytes) + 1;
    }
}

/* mailscope's ports (its defaults, mail.tcp.port, Decode As): a thin
 * wrapper that hands every segment on to the dissector that had the port
 * before (Wireshark's SMTP or POP, with TCP reassembly as usual), so smtp.*,
 * pop.* and imf.* stay where users expect them. mailscope itself parses in
 * its postdissector. On the defaults the handle belongs to no protocol: with
 * mailscope disabled the built-in dissector still gets every segment. */
static int dissect_mail(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    if (mail_enabled() && !pinfo->flags.in_error_pkt) {
        conversation_t *conversation = find_conversation_pinfo(pinfo, 0);
        claim_tls(tvb, pinfo, conversation ? (mail_conv_t *)conversation_get_proto_data(conversation, proto_mail) : NULL);
    }
    if (!builtin_for(pinfo->match_uint, FALSE))
        return tvb_captured_length(tvb);
    /* Each dissector call lowers can_desegment; the built-in dissector may
     * ask TCP to reassemble as if TCP had called it directly. */
    pinfo->can_desegment = pinfo->saved_can_desegment;
    return call_builtin_of(pinfo->match_uint, FALSE, TRUE, tvb, pinfo, tree, data);
}

/* The only field of `hf` in the tree, or NULL when there is none or several. */
static field_info *single_field(proto_tree *tree, int hf)
{
    GPtrArray *found = hf < 0 ? NULL : proto_get_finfo_ptr_array(tree, hf);
    return found && found->len == 1 ? (field_info *)g_ptr_array_index(found, 0) : NULL;
}

/* The first field of `hf` in the tree, in tree order. */
static field_info *first_field(proto_tree *tree, int hf)
{
    GPtrArray *found = hf < 0 ? NULL : proto_get_finfo_ptr_array(tree, hf);
    return found && found->len > 0 ? (field_info *)g_ptr_array_index(found, 0) : NULL;
}

/* The server accepted STARTTLS/STLS in this frame (the core says so): the
 * decrypted session is mailscope's, where no other dissector asked first. */
static void take_tls_after(packet_info *pinfo, mail_conv_t *conv, const MsResult *result)
{
    for (guint32 i = 0; result && i < result->pdu_count; i++)
        if (result->pdus[i].starts_tls)
            hand_to_tls(pinfo, conv);
}

/* Mail over TCP is parsed here, after every other dissector: from the
 * payload TCP puts in the tree, for every segment of a mail conversation in
 * capture order, whatever TCP handed to subdissectors (at Wireshark's
 * default settings it withholds out-of-order and retransmitted segments,
 * which can carry bytes no other segment had) and whichever dissector owns
 * the port (Wireshark's own SMTP and POP stay where they were). */
static mail_frame_t *post_first_pass(tvbuff_t *frame_tvb, packet_info *pinfo, proto_tree *tree)
{
    if (!tree)
        return NULL;
    /* A segment quoted inside an ICMP error is a truncated copy, not data. */
    if (proto_is_frame_protocol(pinfo->layers, "icmp") || proto_is_frame_protocol(pinfo->layers, "icmpv6"))
        return NULL;
    /* A tunnel (SOCKS) shows the payload again for what it carries: TCP's is the first. */
    field_info *payload = first_field(tree, hf_tcp_payload);
    field_info *seq = single_field(tree, hf_tcp_seq);
    if (!payload || !seq || payload->length <= 0 || !payload->ds_tvb)
        return NULL;
    field_info *srcport = single_field(tree, hf_tcp_srcport);
    field_info *dstport = single_field(tree, hf_tcp_dstport);
    if (!srcport || !dstport)
        return NULL;
    mail_endpoints_t ep = {&pinfo->net_src, &pinfo->net_dst, fvalue_get_uinteger(MAIL_FIELD_VALUE(srcport)),
                           fvalue_get_uinteger(MAIL_FIELD_VALUE(dstport))};
    conversation_t *conversation =
        find_conversation(pinfo->num, ep.src, ep.dst, CONVERSATION_TCP, ep.srcport, ep.dstport, 0);
    if (!conversation)
        return NULL;
    mail_conv_t *conv = conv_of(conversation);
    /* Implicit TLS: every byte on the wire is TLS; the decrypted data comes through mail.tls. */
    if (conv->implicit_tls || conv->released)
        return NULL;
    tvbuff_t *payload_tvb = tvb_new_subset_length(payload->ds_tvb, payload->start, payload->length);
    field_info *ack = single_field(tree, hf_tcp_ack);
    field_info *flags = single_field(tree, hf_tcp_flags);
    struct tcpinfo segment;
    memset(&segment, 0, sizeof segment);
    segment.seq = fvalue_get_uinteger(MAIL_FIELD_VALUE(seq));
    segment.lastackseq = ack ? fvalue_get_uinteger(MAIL_FIELD_VALUE(ack)) : 0;
    segment.flags = flags && ack ? (guint16)fvalue_get_uinteger(MAIL_FIELD_VALUE(flags)) : 0;
    const MsResult *replayed;
    if (!decide(conv, &ep, tvb_get_ptr(payload_tvb, 0, payload->length), (guint)payload->length, &segment, pinfo->num,
                &replayed))
        return NULL;
    mail_frame_t *frame = wmem_new0(wmem_file_scope(), mail_frame_t);
    frame->conv = conv;
    frame->payload_start = payload->ds_tvb == frame_tvb ? payload->start : -1;
    frame->payload_len = payload->length;
    frame->result = replayed ? replayed
                             : first_pass(payload_tvb, pinfo, !sent_by_server(conv, &ep), conv->outer.conn, &segment);
    conv->outer.last_frame = pinfo->num;
    if (conv->by_content && mailscope_conn_released(conv->outer.conn)) {
        conv->released = TRUE;
        return NULL;
    }
    note_outcomes(pinfo, frame->result);
    take_tls_after(pinfo, conv, frame->result);
    return frame;
}

static int dissect_mail_post(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    mail_frame_t *frame = (mail_frame_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_mail, MAIL_KEY_POST);
    if (!frame && !PINFO_FD_VISITED(pinfo)) {
        frame = post_first_pass(tvb, pinfo, tree);
        if (!frame)
            return 0;
        p_add_proto_data(wmem_file_scope(), pinfo, proto_mail, MAIL_KEY_POST, frame);
    }
    if (!frame || !frame->result || frame->conv->released)
        return 0;
    mail_conv_t *conv = frame->conv;
    /* Spans point into the segment when it is plain bytes of the frame;
     * otherwise every PDU is shown from its own reassembled bytes. */
    tvbuff_t *payload_tvb = frame->payload_start >= 0
                                ? tvb_new_subset_length(tvb, frame->payload_start, frame->payload_len)
                                : tvb_new_subset_length(tvb, 0, 0);
    if (frame->result->pdu_count > 0 || frame->result->internal_error) {
        set_columns(pinfo, conv);
        show_result(payload_tvb, pinfo, tree, conv, frame->result, "Reassembled mail PDU");
    }
    show_at_end(payload_tvb, pinfo, tree, conv, &conv->outer);
    return frame->payload_len;
}

static void register_mail(void)
{
    module_t *module;
    expert_module_t *expert_module;
    static gint *ett_single[] = {&ett_mail};

    proto_mail = proto_register_protocol("mailscope: SMTP and POP3 with decoded credentials", "mailscope", "mail");

    field_count = mailscope_field_count();
    hf_ids = g_new0(int, field_count);
    ett_ids = g_new0(gint, field_count);
    hf_table = g_new0(hf_register_info, field_count);
    gint **ett_pointers = g_new0(gint *, field_count);
    for (guint i = 0; i < field_count; i++) {
        MsFieldInfo info;
        mailscope_field_info(i, &info);
        enum ftenum type = FT_NONE;
        int display = BASE_NONE;
        switch (info.kind) {
        case MS_ITEM_KIND_STRING: type = FT_STRING; display = BASE_NONE; break;
        case MS_ITEM_KIND_UINT: type = FT_UINT64; display = BASE_DEC; break;
        case MS_ITEM_KIND_BOOL: type = FT_BOOLEAN; display = BASE_NONE; break;
        case MS_ITEM_KIND_NONE: break;
        }
        hf_ids[i] = -1;
        ett_ids[i] = -1;
        ett_pointers[i] = &ett_ids[i];
        hf_register_info hf = {&hf_ids[i], {info.name, info.abbrev, type, display, NULL, 0x0, info.blurb, HFILL}};
        hf_table[i] = hf;
    }
    proto_register_field_array(proto_mail, hf_table, field_count);
    proto_register_subtree_array(ett_pointers, field_count);
    proto_register_subtree_array(ett_single, 1);

    expert_count = mailscope_expert_count();
    ei_ids = g_new0(expert_field, expert_count);
    ei_table = g_new0(ei_register_info, expert_count);
    static const int groups[] = {
        [MS_EXPERT_GROUP_SECURITY] = PI_SECURITY,   [MS_EXPERT_GROUP_MALFORMED] = PI_MALFORMED,
        [MS_EXPERT_GROUP_PROTOCOL] = PI_PROTOCOL,   [MS_EXPERT_GROUP_SEQUENCE] = PI_SEQUENCE,
        [MS_EXPERT_GROUP_UNDECODED] = PI_UNDECODED,
    };
    static const int severities[] = {
        [MS_SEVERITY_CHAT] = PI_CHAT, [MS_SEVERITY_NOTE] = PI_NOTE,
        [MS_SEVERITY_WARN] = PI_WARN, [MS_SEVERITY_ERROR] = PI_ERROR,
    };
    for (guint i = 0; i < expert_count; i++) {
        MsExpertInfo info;
        mailscope_expert_info(i, &info);
        expert_field empty = EI_INIT;
        ei_ids[i] = empty;
        ei_register_info ei = {&ei_ids[i], {info.abbrev, groups[info.group], severities[info.severity], info.summary, EXPFILL}};
        ei_table[i] = ei;
    }
    expert_module = expert_register_protocol(proto_mail);
    expert_register_field_array(expert_module, ei_table, expert_count);

    mail_handle = register_dissector("mail", dissect_mail, proto_mail);
    mail_port_handle = create_dissector_handle_with_name_and_description(
        dissect_mail, -1, "mail.port", "SMTP/POP with mailscope beside Wireshark's own");
    mail_tls_handle = register_dissector("mail.tls", dissect_mail_tls, proto_mail);
    builtin_tcp = register_dissector_table("mail.builtin.tcp", "Wireshark's own dissectors on mailscope's ports",
                                           proto_mail, FT_UINT16, BASE_DEC);
    builtin_tls = register_dissector_table("mail.builtin.tls", "Wireshark's own dissectors on mailscope's TLS ports",
                                           proto_mail, FT_UINT16, BASE_DEC);
    mail_post_handle = register_dissector("mail.post", dissect_mail_post, proto_mail);

    module = prefs_register_protocol(proto_mail, NULL);
    prefs_register_bool_preference(module, "reassemble", "Reorder TCP segments before parsing",
        "Put out-of-order TCP segments back in order and drop retransmitted bytes before parsing, as the "
        "mailscope harness does. Turn off to parse each segment's bytes in capture order.",
        &pref_reassemble);
    prefs_register_bool_preference(module, "show_passwords", "Show passwords and tokens",
        "Show decoded passwords and bearer tokens in the packet tree. Turn off to show ******** instead "
        "(filters on mail.auth.password then match only the mask).",
        &pref_show_passwords);
    prefs_register_bool_preference(module, "imf", "Hand message content to the IMF dissector",
        "Pass each message's content, dot-unstuffed and with BDAT chunks joined, to Wireshark's IMF "
        "dissector where Wireshark's own dissectors hand it none (POP3 RETR/TOP, BDAT, SMTP on other ports), "
        "so imf.* fields and File > Export Objects > IMF include those messages too. Off by default, so that "
        "imf matches the packets it matches without mailscope.",
        &pref_imf);
    prefs_register_string_preference(module, "default_charset", "Default charset of message text",
        "Charset for message text and raw header bytes that declare none and are not UTF-8, e.g. gb18030 "
        "(Chinese mail clients often omit it) or windows-1252. Empty: such text is read in the charset "
        "guessed from it (named in mail.msg.charset_guess / mail.mime.charset_guess, with a note).",
        &pref_default_charset);

    credentials_tap = register_tap("credentials");
    outcomes = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);
    export_tap = register_export_object(proto_mail, export_packet, NULL);
    register_cleanup_routine(mail_cleanup);
}

static dissector_handle_t tls_wrapper_for(guint32 port, gboolean tls)
{
    dissector_handle_t builtin = builtin_for(port, tls);
    int proto = builtin ? dissector_handle_get_protocol_index(builtin) : -1;
    if (proto < 0)
        return mail_tls_handle;
    for (guint i = 0; i < tls_wrapper_count; i++)
        if (tls_wrappers[i].proto == proto)
            return tls_wrappers[i].handle;
    if (tls_wrapper_count == MAIL_MAX_TLS_WRAPPERS)
        return mail_tls_handle;
    /* TLS asks for a handle with a name (it registers it for Export PDU). */
    char *name = g_strdup_printf("mail.tls.%s", proto_get_protocol_filter_name(proto));
    char *description = g_strdup_printf("%s with mailscope", proto_get_protocol_short_name(find_protocol_by_id(proto)));
    dissector_handle_t handle = register_dissector_with_description(name, description, dissect_mail_tls, proto);
    tls_wrappers[tls_wrapper_count].proto = proto;
    tls_wrappers[tls_wrapper_count].handle = handle;
    tls_wrapper_count++;
    return handle;
}

static void handoff_mail(void)
{
    /* mailscope's ports wrap the dissectors that had them (see dissect_mail):
     * those ports get the protocol-less wrapper, the others (and the ports a
     * user adds to mail.tcp.port) mailscope's own handle. */
    tcp_port_table = find_dissector_table("tcp.port");
    dissector_table_t tls_ports = find_dissector_table("tls.port");
    range_t *ports = NULL;
    GString *own = g_string_new(NULL);
    if (range_convert_str(NULL, &ports, mailscope_default_ports(), 65535) == CVT_NO_ERROR && ports) {
        for (guint r = 0; r < ports->nranges; r++)
            for (guint32 port = ports->ranges[r].low; port <= ports->ranges[r].high; port++) {
                remember_builtin(tcp_port_table, port, FALSE, mail_handle);
                if (builtin_for(port, FALSE)) {
                    dissector_add_uint("tcp.port", port, mail_port_handle);
                } else {
                    g_string_append_printf(own, "%s%u", own->len ? "," : "", port);
                }
            }
        wmem_free(NULL, ports);
    }
    dissector_add_uint_range_with_preference("tcp.port", own->str, mail_handle);
    g_string_free(own, TRUE);
    /* Inside TLS on 465 and 995 mailscope takes the decrypted data and runs
     * the dissector that had the port on it as well. */
    guint16 port;
    for (guint32 i = 0; mailscope_implicit_tls_port(i, &port); i++) {
        remember_builtin(tls_ports, port, TRUE, mail_tls_handle);
        ssl_dissector_add(port, tls_wrapper_for(port, TRUE));
    }
    imf_handle = find_dissector_add_dependency("imf", proto_mail);
    hf_tcp_payload = proto_registrar_get_id_byname("tcp.payload");
    hf_tcp_seq = proto_registrar_get_id_byname("tcp.seq");
    hf_tcp_ack = proto_registrar_get_id_byname("tcp.ack");
    hf_tcp_flags = proto_registrar_get_id_byname("tcp.flags");
    hf_tcp_srcport = proto_registrar_get_id_byname("tcp.srcport");
    hf_tcp_dstport = proto_registrar_get_id_byname("tcp.dstport");
    register_postdissector(mail_post_handle);
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    int fields[] = {hf_tcp_payload, hf_tcp_seq, hf_tcp_ack, hf_tcp_flags, hf_tcp_srcport, hf_tcp_dstport};
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++)
        if (fields[i] >= 0)
            g_array_append_val(wanted, fields[i]);
    set_postdissector_wanted_hfids(mail_post_handle, wanted);
    tls_handle = find_dissector("tls");
}

void mailscope_shim_register_plugin(void)
{
    static proto_plugin plugin;
    plugin.register_protoinfo = register_mail;
    plugin.register_handoff = handoff_mail;
    proto_register_plugin(&plugin);
}
