//! STARTTLS for generated channels: what a handler gives to start TLS in the middle of
//! a connection (a description's `starttls`), and the calls the channels make.
//!
//! With the `tls` feature these are rustls's configurations; without it, [`ServerTls`]
//! and [`ClientTls`] have no values, so a handler can only refuse the upgrade (and the
//! generated code still compiles, for decoders and tests that never start TLS).

#[cfg(feature = "tls")]
use std::sync::Arc;

use super::Io;
use crate::{Channel, Result};

/// What a server starts TLS with: its configuration
/// (`asyncore_runtime::tls::server_config`). A generated server sends the reply that
/// agrees to start TLS with `cx.start_tls(reply, config)`.
///
/// ```no_run
/// let config: asyncore_runtime::wire::ServerTls =
///     asyncore_runtime::tls::server_config("cert.pem", "key.pem")?;
/// # let _ = config;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "tls")]
pub type ServerTls = Arc<crate::tls::ServerConfig>;

/// What a server starts TLS with. Without the runtime's `tls` feature there is none: a
/// handler can only refuse the upgrade.
///
/// ```
/// fn refuse(tls: Option<asyncore_runtime::wire::ServerTls>) -> bool { tls.is_none() }
/// assert!(refuse(None));
/// ```
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum ServerTls {}

/// What a client starts TLS with: the configuration that says which certificates it
/// trusts, and the name the server's certificate must be for. A generated client sends
/// the request that may start TLS with `cx.start_tls(request, tls)`; the session starts
/// when the reply agrees.
///
/// ```no_run
/// use asyncore_runtime::{tls, wire::ClientTls};
/// let tls = ClientTls::new(tls::client_config(None)?, tls::server_name("mail.example.org")?);
/// # let _ = tls;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The roots the server's certificate is checked against.
    pub config: Arc<crate::tls::ClientConfig>,
    /// The name the server's certificate must be for.
    pub name: crate::tls::ServerName<'static>,
}

#[cfg(feature = "tls")]
impl ClientTls {
    /// A configuration and the server's name.
    ///
    /// ```no_run
    /// use asyncore_runtime::{tls, wire::ClientTls};
    /// let tls = ClientTls::new(tls::client_config(None)?, tls::server_name("127.0.0.1")?);
    /// assert_eq!(tls.name.to_str(), "127.0.0.1");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(
        config: Arc<crate::tls::ClientConfig>,
        name: crate::tls::ServerName<'static>,
    ) -> ClientTls {
        ClientTls { config, name }
    }
}

/// What a client starts TLS with. Without the runtime's `tls` feature there is none: a
/// client cannot send a request that may start TLS.
///
/// ```
/// fn plain(tls: Option<asyncore_runtime::wire::ClientTls>) -> bool { tls.is_none() }
/// assert!(plain(None));
/// ```
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum ClientTls {}

/// Whether the channel's traffic goes through a TLS session (always false without the
/// `tls` feature).
///
/// ```
/// # use asyncore_runtime::{Dispatcher, Map};
/// # struct D; impl Dispatcher for D {}
/// let mut map = Map::new();
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let t = map.add(a.into(), D)?;
/// assert_eq!(map.with_channel(t, |ch| asyncore_runtime::wire::is_tls(ch)), Some(false));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn is_tls(ch: &Channel<'_>) -> bool {
    #[cfg(feature = "tls")]
    {
        ch.is_tls()
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = ch;
        false
    }
}

/// The server side of an upgrade, once the reply that agrees to it is queued: the
/// replies queued so far go out in plaintext, then the session starts with `config`.
/// What the client sent after its request and that was read already is dropped, and so
/// is what reaches the socket before the reply has left (the runtime discards it): none
/// of it came through the session.
///
/// ```
/// // Used by generated channels; nothing to do by hand.
/// let _ = asyncore_runtime::wire::start_tls_server;
/// ```
pub fn start_tls_server(io: &mut Io, ch: &mut Channel<'_>, config: ServerTls) -> Result {
    io.queue_replies(ch)?;
    #[cfg(feature = "tls")]
    {
        ch.start_tls_server(config)?;
        io.discard_input();
        ch.flush()?;
        Ok(())
    }
    #[cfg(not(feature = "tls"))]
    {
        match config {}
    }
}

/// The client side of an upgrade, when the reply that agrees to it has arrived: the
/// session starts with `tls`, before anything more is sent. The generated channel then
/// drops what it read after that reply ([`Io::discard_input`]).
///
/// ```
/// // Used by generated channels; nothing to do by hand.
/// let _ = asyncore_runtime::wire::start_tls_client;
/// ```
pub fn start_tls_client(ch: &mut Channel<'_>, tls: ClientTls) -> Result {
    #[cfg(feature = "tls")]
    {
        ch.start_tls_client(tls.config, tls.name)?;
        Ok(())
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = ch;
        match tls {}
    }
}
