/* The credentials tap and File > Export Objects > mail.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "mail.h"

void tap_credential(packet_info *pinfo, const MsTap *tap, const char *proto_name)
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

tap_packet_status export_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_, const void *data,
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
void queue_exports(packet_info *pinfo, const mail_conv_t *conv, const MsPdu *pdu)
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
