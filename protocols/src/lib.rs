//! The protocol description compiler.
