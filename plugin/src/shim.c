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
#include <epan/conversation.h>
#include <epan/expert.h>
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
/* 4.4 moved preferences and heuristic dissectors from gboolean to C99 bool. */
typedef bool mail_bool_pref;
typedef bool mail_heur_result;
#else
typedef gboolean mail_bool_pref;
typedef gboolean mail_heur_result;
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

/* TCP's fields the postdissector reads, looked up by name at hand-off. */
static int hf_tcp_payload = -1;
static int hf_tcp_seq = -1;
static int hf_tcp_ack = -1;
static int hf_tcp_flags = -1;

/* Per-frame data keys besides the layer numbers the dissector uses. */
#define MAIL_KEY_SEEN 0x10000  /* the dissector took this frame's segment */
#define MAIL_KEY_POST 0x10001  /* what the postdissector fed from this frame */

static dissector_handle_t mail_handle;
static dissector_handle_t mail_post_handle;
static dissector_handle_t mail_tls_handle;
static dissector_handle_t imf_handle;
static dissector_handle_t tls_handle;

static mail_bool_pref pref_reassemble = TRUE;
static mail_bool_pref pref_show_passwords = TRUE;
static mail_bool_pref pref_imf = TRUE;

/* Per conversation: the protocol, who the server is, and the core's connections. */
/* One byte stream of a conversation as the core parses it. */
typedef struct {
    PluginConnection *conn;
    guint32 last_frame;        /* the last frame the first pass fed it */
    guint32 at_end_frame;      /* the frame `at_end` was computed for */
    const MsResult *at_end;    /* what only the end of the capture completes */
} mail_stream_t;

typedef struct {
    MsProtocol protocol;
    address server_addr;
    guint32 server_port;
    mail_stream_t outer;        /* the TCP stream as captured */
    mail_stream_t inner;        /* decrypted TLS after STARTTLS/STLS, or on 465/995 */
    gboolean tls_started;
} mail_conv_t;

/* Per frame (and layer): what the first pass produced. */
typedef struct {
    const MsResult *result;
    /* The TCP payload the postdissector fed, as a span of the frame. */
    gint payload_start;
    gint payload_len;
} mail_frame_t;

static void mail_cleanup(void)
{
    mailscope_reset();
}

static mail_conv_t *find_conv(packet_info *pinfo)
{
    return (mail_conv_t *)conversation_get_proto_data(find_or_create_conversation(pinfo), proto_mail);
}

static mail_conv_t *new_conv(packet_info *pinfo, MsProtocol protocol, gboolean src_is_server)
{
    conversation_t *conversation = find_or_create_conversation(pinfo);
    mail_conv_t *conv = (mail_conv_t *)conversation_get_proto_data(conversation, proto_mail);
    if (!conv) {
        conv = wmem_new0(wmem_file_scope(), mail_conv_t);
        conv->protocol = protocol;
        if (src_is_server) {
            copy_address_wmem(wmem_file_scope(), &conv->server_addr, &pinfo->src);
            conv->server_port = pinfo->srcport;
        } else {
            copy_address_wmem(wmem_file_scope(), &conv->server_addr, &pinfo->dst);
            conv->server_port = pinfo->destport;
        }
        conv->outer.conn = mailscope_conn_new(protocol);
        conversation_add_proto_data(conversation, proto_mail, conv);
    }
    return conv;
}

static gboolean from_server(const mail_conv_t *conv, packet_info *pinfo)
{
    return pinfo->srcport == conv->server_port && addresses_equal(&pinfo->src, &conv->server_addr);
}

/* Adds one PDU's items; `tvb` holds the PDU's bytes from `base` on. */
static proto_item *add_pdu(tvbuff_t *tvb, gint base, packet_info *pinfo, proto_tree *tree, const MsPdu *pdu)
{
    proto_tree *parents[MAIL_MAX_DEPTH + 1];
    proto_item *top = proto_tree_add_item(tree, proto_mail, tvb, base, pdu->len, ENC_NA);
    proto_item_append_text(top, ", %s", pdu->info);
    parents[0] = proto_item_add_subtree(top, ett_mail);

    for (guint32 i = 0; i < pdu->item_count; i++) {
        const MsItem *item = &pdu->items[i];
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
    for (guint32 i = 0; i < pdu->anomaly_count; i++) {
        const MsAnomaly *anomaly = &pdu->anomalies[i];
        expert_add_info_format(pinfo, top, &ei_ids[anomaly->expert], "%s", anomaly->message);
    }
    return top;
}

static void tap_credential(packet_info *pinfo, const MsPdu *pdu, const char *proto_name)
{
    tap_credential_t *auth = wmem_new0(pinfo->pool, tap_credential_t);
    auth->num = pinfo->num;
    auth->username_num = pinfo->num;
    auth->password_hf_id = hf_ids[pdu->credential_secret_field];
    auth->username = wmem_strdup(pinfo->pool, pdu->credential_user);
    auth->proto = proto_name;
    auth->info = wmem_strdup(pinfo->pool, pdu->credential_info);
    tap_queue_packet(credentials_tap, pinfo, auth);
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
        add_pdu(pdu_tvb, base, pinfo, tree, pdu);
        if (pdu->credential_user)
            tap_credential(pinfo, pdu, mailscope_protocol_name(conv->protocol));
        if (pdu->message && pref_imf && imf_handle) {
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
    if (stream->at_end && (stream->at_end->pdu_count > 0 || stream->at_end->internal_error))
        show_result(tvb, pinfo, tree, conv, stream->at_end, "Mail PDU at the end of the capture");
}

static const MsResult *first_pass(tvbuff_t *tvb, packet_info *pinfo, mail_conv_t *conv, PluginConnection *conn,
                                   struct tcpinfo *tcpinfo)
{
    guint len = tvb_captured_length(tvb);
    const guint8 *bytes = len ? tvb_get_ptr(tvb, 0, len) : NULL;
    bool to_server = !from_server(conv, pinfo);
    if (tcpinfo && pref_reassemble && conn == conv->outer.conn)
        return mailscope_conn_segment(conn, to_server, tcpinfo->seq, tcpinfo->lastackseq,
                                      (tcpinfo->flags & TH_ACK) != 0, bytes, len, pinfo->num);
    return mailscope_conn_stream(conn, to_server, bytes, len, pinfo->num);
}

static int dissect_with(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, mail_conv_t *conv, gboolean decrypted,
                        struct tcpinfo *tcpinfo)
{
    mail_stream_t *stream;
    mail_frame_t *frame;
    guint key = pinfo->curr_layer_num;

    col_set_str(pinfo->cinfo, COL_PROTOCOL, mailscope_protocol_column(conv->protocol));
    col_clear(pinfo->cinfo, COL_INFO);

    stream = decrypted ? &conv->inner : &conv->outer;
    frame = (mail_frame_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_mail, key);
    if (!frame && !PINFO_FD_VISITED(pinfo)) {
        if (decrypted && !conv->inner.conn)
            conv->inner.conn = conv->tls_started ? mailscope_conn_new_after_starttls(conv->protocol)
                                                 : mailscope_conn_new(conv->protocol);
        frame = wmem_new0(wmem_file_scope(), mail_frame_t);
        frame->result = first_pass(tvb, pinfo, conv, stream->conn, decrypted ? NULL : tcpinfo);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_mail, key, frame);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_mail, MAIL_KEY_SEEN, GUINT_TO_POINTER(1));
        stream->last_frame = pinfo->num;
    }
    if (!frame || !frame->result) {
        proto_tree_add_item(tree, proto_mail, tvb, 0, -1, ENC_NA);
        col_add_fstr(pinfo->cinfo, COL_INFO, "%s: [%u bytes not parsed]", from_server(conv, pinfo) ? "S" : "C",
                     tvb_reported_length(tvb));
        return tvb_captured_length(tvb);
    }
    if (frame->result->encrypted && !decrypted && tls_handle) {
        /* STARTTLS was accepted and this is the handshake: TLS owns the rest. */
        if (!conv->tls_started) {
            conv->tls_started = TRUE;
            ssl_starttls_post_ack(tls_handle, pinfo, mail_tls_handle);
        }
        return call_dissector(tls_handle, tvb, pinfo, tree);
    }
    if (frame->result->pdu_count == 0) {
        proto_item *ti = proto_tree_add_item(tree, proto_mail, tvb, 0, -1, ENC_NA);
        proto_item_append_text(ti, ", continuation");
        col_add_fstr(pinfo->cinfo, COL_INFO, "%s: [continuation, %u bytes]", from_server(conv, pinfo) ? "S" : "C",
                     tvb_reported_length(tvb));
    }
    show_result(tvb, pinfo, tree, conv, frame->result, decrypted ? "Decrypted mail PDU" : "Reassembled mail PDU");
    show_at_end(tvb, pinfo, tree, conv, stream);
    return tvb_captured_length(tvb);
}

/* The harness's content rules on this packet: the protocol, and whether the
 * packet flowed to the server. */
static gboolean detect_in_tvb(tvbuff_t *tvb, MsProtocol *protocol, bool *to_server)
{
    guint len = tvb_captured_length(tvb);
    return len > 0 && mailscope_detect(tvb_get_ptr(tvb, 0, len), len, to_server, protocol);
}

/* A conversation seen first on a port mailscope was given (by default, a
 * preference or Decode As): the matched port is the server's; the protocol is
 * the port's, else what the content says, else SMTP. */
static mail_conv_t *conv_for_port(tvbuff_t *tvb, packet_info *pinfo, gboolean implicit_tls)
{
    mail_conv_t *conv = find_conv(pinfo);
    if (conv)
        return conv;
    gboolean src_is_server = pinfo->srcport == pinfo->match_uint && pinfo->destport != pinfo->match_uint;
    MsProtocol protocol = mailscope_protocol_for_port((guint16)pinfo->match_uint, implicit_tls);
    /* An opening the content rules recognise (a greeting, EHLO, USER) says
     * which side is the server better than the ports: a tunnel (HTTP CONNECT,
     * SOCKS) hands over its payload under the port it named, and HTTP sets
     * that port on whichever side it likes. */
    bool to_server = 0;
    MsProtocol found = MS_PROTOCOL_NONE;
    if (detect_in_tvb(tvb, &found, &to_server)) {
        src_is_server = !to_server;
        if (protocol == MS_PROTOCOL_NONE)
            protocol = found;
    } else if (protocol == MS_PROTOCOL_NONE) {
        protocol = MS_PROTOCOL_SMTP;
    }
    return new_conv(pinfo, protocol, src_is_server);
}

static int dissect_mail(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    /* A segment quoted inside an ICMP error is a truncated copy, not data. */
    if (pinfo->flags.in_error_pkt)
        return 0;
    return dissect_with(tvb, pinfo, tree, conv_for_port(tvb, pinfo, FALSE), FALSE, (struct tcpinfo *)data);
}

/* Any other port: the same content rules the harness applies. */
static mail_heur_result dissect_mail_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    if (pinfo->flags.in_error_pkt)
        return FALSE;
    mail_conv_t *conv = find_conv(pinfo);
    if (!conv) {
        bool to_server = 0;
        MsProtocol protocol = MS_PROTOCOL_NONE;
        if (!detect_in_tvb(tvb, &protocol, &to_server))
            return FALSE;
        conv = new_conv(pinfo, protocol, !to_server);
        conversation_set_dissector(find_or_create_conversation(pinfo), mail_handle);
    }
    dissect_with(tvb, pinfo, tree, conv, FALSE, (struct tcpinfo *)data);
    return TRUE;
}

/* Decrypted TLS application data (implicit TLS ports, or after STARTTLS/STLS). */
static int dissect_mail_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    return dissect_with(tvb, pinfo, tree, conv_for_port(tvb, pinfo, TRUE), TRUE, NULL);
}

/* The only field of `hf` in the tree, or NULL when there is none or several. */
static field_info *single_field(proto_tree *tree, int hf)
{
    GPtrArray *found = hf < 0 ? NULL : proto_get_finfo_ptr_array(tree, hf);
    return found && found->len == 1 ? (field_info *)g_ptr_array_index(found, 0) : NULL;
}

/* At Wireshark's default TCP preferences, retransmitted and out-of-order
 * segments are withheld from subdissectors, yet they may carry bytes no
 * other segment had (a sender re-segmenting after an ICMP "fragmentation
 * needed"). TCP still puts their payload in the tree: this postdissector
 * hands those segments of mail conversations to the same reassembly, in
 * capture order, so the result does not depend on TCP's settings. */
static mail_frame_t *post_first_pass(tvbuff_t *frame_tvb, packet_info *pinfo, proto_tree *tree)
{
    if (!tree || p_get_proto_data(wmem_file_scope(), pinfo, proto_mail, MAIL_KEY_SEEN))
        return NULL;
    /* A segment quoted inside an ICMP error is a truncated copy, not data. */
    if (proto_is_frame_protocol(pinfo->layers, "icmp") || proto_is_frame_protocol(pinfo->layers, "icmpv6"))
        return NULL;
    field_info *payload = single_field(tree, hf_tcp_payload);
    field_info *seq = single_field(tree, hf_tcp_seq);
    /* Only a payload that is plain bytes of the frame (the span is kept for later passes). */
    if (!payload || !seq || payload->length <= 0 || payload->ds_tvb != frame_tvb)
        return NULL;
    conversation_t *conversation = find_conversation_pinfo(pinfo, 0);
    mail_conv_t *conv = conversation ? (mail_conv_t *)conversation_get_proto_data(conversation, proto_mail) : NULL;
    if (!conv || !conv->outer.conn || conv->tls_started)
        return NULL;
    field_info *ack = single_field(tree, hf_tcp_ack);
    field_info *flags = single_field(tree, hf_tcp_flags);
    struct tcpinfo segment;
    memset(&segment, 0, sizeof segment);
    segment.seq = fvalue_get_uinteger(MAIL_FIELD_VALUE(seq));
    segment.lastackseq = ack ? fvalue_get_uinteger(MAIL_FIELD_VALUE(ack)) : 0;
    segment.flags = flags && ack ? (guint16)fvalue_get_uinteger(MAIL_FIELD_VALUE(flags)) : 0;
    mail_frame_t *frame = wmem_new0(wmem_file_scope(), mail_frame_t);
    frame->payload_start = payload->start;
    frame->payload_len = payload->length;
    tvbuff_t *payload_tvb = tvb_new_subset_length(frame_tvb, payload->start, payload->length);
    frame->result = first_pass(payload_tvb, pinfo, conv, conv->outer.conn, &segment);
    conv->outer.last_frame = pinfo->num;
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
    if (!frame || !frame->result || (frame->result->pdu_count == 0 && !frame->result->internal_error))
        return 0;
    conversation_t *conversation = find_conversation_pinfo(pinfo, 0);
    mail_conv_t *conv = conversation ? (mail_conv_t *)conversation_get_proto_data(conversation, proto_mail) : NULL;
    if (!conv)
        return 0;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, mailscope_protocol_column(conv->protocol));
    tvbuff_t *payload_tvb = tvb_new_subset_length(tvb, frame->payload_start, frame->payload_len);
    show_result(payload_tvb, pinfo, tree, conv, frame->result, "Reassembled mail PDU");
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
    mail_tls_handle = register_dissector("mail.tls", dissect_mail_tls, proto_mail);
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
        "dissector, so imf.* fields and File > Export Objects > IMF work.",
        &pref_imf);

    credentials_tap = register_tap("credentials");
    register_cleanup_routine(mail_cleanup);
}

static void handoff_mail(void)
{
    /* Creates the mail.tcp.port preference ("Decode As" works as well). */
    dissector_add_uint_range_with_preference("tcp.port", mailscope_default_ports(), mail_handle);
    heur_dissector_add("tcp", dissect_mail_heur, "SMTP and POP3 on any port (mailscope)", "mail_tcp", proto_mail,
                       HEURISTIC_ENABLE);
    guint16 port;
    for (guint32 i = 0; mailscope_implicit_tls_port(i, &port); i++)
        ssl_dissector_add(port, mail_tls_handle);
    imf_handle = find_dissector_add_dependency("imf", proto_mail);
    hf_tcp_payload = proto_registrar_get_id_byname("tcp.payload");
    hf_tcp_seq = proto_registrar_get_id_byname("tcp.seq");
    hf_tcp_ack = proto_registrar_get_id_byname("tcp.ack");
    hf_tcp_flags = proto_registrar_get_id_byname("tcp.flags");
    register_postdissector(mail_post_handle);
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    int fields[] = {hf_tcp_payload, hf_tcp_seq, hf_tcp_ack, hf_tcp_flags};
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
