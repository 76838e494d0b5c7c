//! Shared pieces of the example programs: command-line flags, the server runner, and the
//! echo channel (also used by the benchmark and the tests).

#![warn(missing_docs)]

pub mod chat;
pub mod chat_client;
pub mod cli;
pub mod echo;
pub mod http_client;
pub mod http_server;
pub mod kv;
pub mod memcache_client;
pub mod memcache_server;
pub mod mqtt_broker;
pub mod pg_client;
pub mod pg_server;
pub mod pop3_client;
pub mod pop3_server;
pub mod resp_client;
pub mod resp_server;
pub mod server;
pub mod smtp_client;
pub mod smtp_server;
mod waiting;
