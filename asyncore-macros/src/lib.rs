//! Procedural macros for `asyncore-runtime`.
//!
//! This crate will hold the `#[dispatcher]` attribute, which turns a plain struct and its
//! `handle_*` methods into a channel and compiles protocol descriptions into state
//! machines. It exports nothing yet; use `asyncore_runtime::Dispatcher` directly.

#![forbid(unsafe_code)]
