//! POP3
