/* STARTTLS/STLS hand-off and the decrypted TLS data mailscope parses.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "mail.h"

/* Decrypted TLS application data: after STARTTLS/STLS (mailscope took the
 * session from TLS when the server accepted) or on 465/995. The handle
 * belongs to no protocol, so with mailscope disabled it still hands 465
 * and 995 to the dissector that had them, as if mailscope were not there. */
int dissect_mail_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
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
void claim_tls(tvbuff_t *tvb, packet_info *pinfo, mail_conv_t *conv)
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

/* The server accepted STARTTLS/STLS in this frame (the core says so): the
 * decrypted session is mailscope's, where no other dissector asked first. */
void take_tls_after(packet_info *pinfo, mail_conv_t *conv, const MsResult *result)
{
    for (guint32 i = 0; result && i < result->pdu_count; i++)
        if (result->pdus[i].starts_tls)
            hand_to_tls(pinfo, conv);
}
