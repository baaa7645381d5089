/* What a frame shows: items, PDUs, columns, expert infos and a login's known outcome.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "mail.h"

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
void note_outcomes(packet_info *pinfo, const MsResult *result)
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

/* The Protocol and Info columns are mailscope's on a frame it shows: what
 * the built-in dissectors wrote there, fences and all (IMF fences "POP/"),
 * is replaced, so the column reads "POP", not "POP/POP". */
void set_columns(packet_info *pinfo, const mail_conv_t *conv)
{
    col_clear_fence(pinfo->cinfo, COL_PROTOCOL);
    col_set_str(pinfo->cinfo, COL_PROTOCOL, mailscope_protocol_column(conv->protocol));
    col_clear_fence(pinfo->cinfo, COL_INFO);
    col_clear(pinfo->cinfo, COL_INFO);
}

/* Shows a first-pass result on this frame (any pass). */
void show_result(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const mail_conv_t *conv,
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
void show_at_end(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const mail_conv_t *conv,
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
