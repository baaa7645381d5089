/* Registration and hand-off: the field table, expert infos, preferences, ports, dissector tables and taps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "mail.h"

/* Registration: the protocol, one hf and one ett per field of the table, one ei per expert. */
int proto_mail = -1;
int *hf_ids;
gint *ett_ids;
gint ett_mail = -1;
expert_field *ei_ids;
hf_register_info *hf_table;
ei_register_info *ei_table;
guint field_count;
guint expert_count;
int credentials_tap = -1;
int export_tap = -1;

/* TCP's fields the postdissector reads, looked up by name at hand-off. */
int hf_tcp_payload = -1;
int hf_tcp_seq = -1;
int hf_tcp_ack = -1;
int hf_tcp_flags = -1;
int hf_tcp_srcport = -1;
int hf_tcp_dstport = -1;

/* Wireshark's own dissectors on mailscope's ports, in TCP and inside TLS (see builtin.c). */
dissector_table_t builtin_tcp;
dissector_table_t builtin_tls;

/* A credential's frame -> (answer frame << 1) | success, per file (see tree.c). */
wmem_map_t *outcomes;

/* Handles. */
dissector_table_t tcp_port_table;
dissector_handle_t mail_handle;
dissector_handle_t mail_port_handle;
dissector_handle_t mail_post_handle;
dissector_handle_t mail_tls_handle;
dissector_handle_t imf_handle;
dissector_handle_t tls_handle;

/* Preferences (see proto_register_mail for what each means). */
mail_bool_pref pref_reassemble = TRUE;
mail_bool_pref pref_show_passwords = TRUE;
const char *pref_default_charset = "";
mail_bool_pref pref_imf = FALSE;

static void mail_cleanup(void)
{
    mailscope_reset();
}

void proto_register_mail(void)
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

void proto_reg_handoff_mail(void)
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
    plugin.register_protoinfo = proto_register_mail;
    plugin.register_handoff = proto_reg_handoff_mail;
    proto_register_plugin(&plugin);
}
