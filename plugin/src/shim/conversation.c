/* Per-conversation state, content detection, the first pass over each segment, and the postdissector that shows it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "mail.h"

mail_endpoints_t pinfo_endpoints(packet_info *pinfo)
{
    mail_endpoints_t ep = {&pinfo->src, &pinfo->dst, pinfo->srcport, pinfo->destport};
    return ep;
}

/* The conversation's mailscope state, created blank (undecided). */
mail_conv_t *conv_of(conversation_t *conversation)
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
PluginConnection *new_conn(MsProtocol protocol, gboolean after_starttls)
{
    PluginConnection *conn =
        after_starttls ? mailscope_conn_new_after_starttls(protocol) : mailscope_conn_new(protocol);
    mailscope_conn_set_default_charset(conn, pref_default_charset);
    return conn;
}

void decide_as(mail_conv_t *conv, const mail_endpoints_t *ep, MsProtocol protocol, gboolean src_is_server)
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

gboolean from_server(const mail_conv_t *conv, packet_info *pinfo)
{
    mail_endpoints_t ep = pinfo_endpoints(pinfo);
    return sent_by_server(conv, &ep);
}

const MsResult *first_pass(tvbuff_t *tvb, packet_info *pinfo, bool to_server, PluginConnection *conn,
                           struct tcpinfo *tcpinfo)
{
    guint len = tvb_captured_length(tvb);
    const guint8 *bytes = len ? tvb_get_ptr(tvb, 0, len) : NULL;
    if (tcpinfo && pref_reassemble)
        return mailscope_conn_segment(conn, to_server, tcpinfo->seq, tcpinfo->lastackseq,
                                      (tcpinfo->flags & TH_ACK) != 0, bytes, len, pinfo->num);
    return mailscope_conn_stream(conn, to_server, bytes, len, pinfo->num);
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

int dissect_mail_post(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
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
