//! The public captures that hold no SMTP, POP3 or IMAP (see
//! `../shared/pcaps/INDEX.md`), for the false-positive tests of the harness
//! and of the plugin (which includes this file by path).

/// Zeek's traces of protocols that look like mail from afar, relative to `../shared/pcaps`.
pub const NOT_MAIL: &[&str] = &[
    "zeek/Traces/ftp/ipv4.pcap",
    "zeek/Traces/ftp/bruteforce.pcap",
    "zeek/Traces/redis/auth.pcap",
    "zeek/Traces/irc-basic.pcap",
    "zeek/Traces/ldap/simpleauth.pcap",
    "zeek/Traces/mysql/auth.pcap",
];
