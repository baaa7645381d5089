/* Wireshark's own SMTP and POP beside mailscope: the wrapper on their ports, the private tables they are called through, and the TLS handles that stand in for them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "mail.h"

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

/* Runs Wireshark's own SMTP or POP dissector on decrypted bytes mailscope
 * took from TLS, so smtp.* and pop.* are there as without mailscope. It
 * parses each record as it comes: asking TLS to reassemble would hand
 * mailscope the same bytes twice. */
void call_builtin(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
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
dissector_handle_t builtin_for(guint32 port, gboolean tls)
{
    dissector_table_t table = tls ? builtin_tls : builtin_tcp;
    return table ? dissector_get_uint_handle(table, port) : NULL;
}

/* Calls the built-in dissector of `port`; `add_layer` false when the
 * calling handle already belongs to its protocol. */
int call_builtin_of(guint32 port, gboolean tls, gboolean add_layer, tvbuff_t *tvb, packet_info *pinfo,
                    proto_tree *tree, void *data)
{
    dissector_table_t table = tls ? builtin_tls : builtin_tcp;
    return table ? dissector_try_uint_new(table, port, tvb, pinfo, tree, add_layer, data) : 0;
}

void remember_builtin(dissector_table_t table, guint32 port, gboolean tls, dissector_handle_t ours)
{
    dissector_handle_t builtin = table ? dissector_get_uint_handle(table, port) : NULL;
    if (builtin && builtin != ours)
        dissector_add_uint(tls ? "mail.builtin.tls" : "mail.builtin.tcp", port, builtin);
}

/* Whether mailscope is enabled (Analyze > Enabled Protocols, --disable-protocol mail). */
gboolean mail_enabled(void)
{
    return proto_is_protocol_enabled(find_protocol_by_id(proto_mail));
}

/* mailscope's ports (its defaults, mail.tcp.port, Decode As): a thin
 * wrapper that hands every segment on to the dissector that had the port
 * before (Wireshark's SMTP or POP, with TCP reassembly as usual), so smtp.*,
 * pop.* and imf.* stay where users expect them. mailscope itself parses in
 * its postdissector. On the defaults the handle belongs to no protocol: with
 * mailscope disabled the built-in dissector still gets every segment. */
int dissect_mail(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
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

dissector_handle_t tls_wrapper_for(guint32 port, gboolean tls)
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
