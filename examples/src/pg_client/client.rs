//! The client channel's handler: the StartupMessage and the password, then one query
//! at a time, its rows and command tags printed as `psql -A -t` prints them.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use asyncore_runtime::wire::{DecodeError, Seq};
use asyncore_runtime::{dispatcher, Channel, Result};

use super::pg::{self, ClientCx};
use super::{Next, ServerError, Shared};

/// The client side of the description: authenticates, runs the queries one at a time
/// and prints their results.
pub struct PgClient {
    shared: Rc<RefCell<Shared>>,
}

impl std::fmt::Debug for PgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgClient").finish_non_exhaustive()
    }
}

impl PgClient {
    /// A client of the session `shared`.
    pub(super) fn new(shared: Rc<RefCell<Shared>>) -> PgClient {
        PgClient { shared }
    }

    /// Sends what comes next through the generated channel.
    fn pump(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let next = self.shared.borrow_mut().next();
        match next {
            Next::Query(sql) => cx.send(pg::Query {
                sql: sql.as_bytes(),
            }),
            Next::Terminate => {
                cx.send(pg::Terminate {})?;
                cx.close();
                Ok(())
            }
            Next::Wait => Ok(()),
        }
    }

    /// The same, from outside the channel's handlers (a statement read from standard
    /// input while the client waited): the generated encoder writes the message into
    /// the channel's output.
    pub(super) fn pump_outside(&mut self, ch: &mut Channel<'_>) -> Result {
        let next = self.shared.borrow_mut().next();
        let mut out = Vec::new();
        match next {
            Next::Query(sql) => pg::Query {
                sql: sql.as_bytes(),
            }
            .encode(&mut out)?,
            Next::Terminate => {
                pg::Terminate {}.encode(&mut out)?;
                ch.send_buffered(&out)?;
                ch.close_when_done();
                return Ok(());
            }
            Next::Wait => return Ok(()),
        }
        ch.send_buffered(&out)?;
        Ok(())
    }

    fn print_notice(&mut self, e: &ServerError) {
        let mut s = self.shared.borrow_mut();
        let text = e.format(&s.query.clone());
        s.stderr(&text);
    }
}

#[dispatcher(protocol = pg, role = client)]
impl PgClient {
    fn on_open(&mut self, cx: &mut ClientCx<'_, '_>) -> Result {
        let s = self.shared.borrow();
        let params = [
            pg::StartupParams {
                name: b"user",
                value: s.options.user.as_bytes(),
            },
            pg::StartupParams {
                name: b"database",
                value: s.options.database.as_bytes(),
            },
            pg::StartupParams {
                name: b"application_name",
                value: b"pg-client",
            },
            pg::StartupParams {
                name: b"client_encoding",
                value: b"UTF8",
            },
        ];
        cx.send(pg::Startup {
            params: Seq::from(&params[..]),
        })
    }

    fn on_encryption_answer(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        _msg: pg::EncryptionAnswer<'_>,
    ) -> Result {
        // Never asked for.
        self.shared
            .borrow_mut()
            .connection_failed("unexpected answer to an encryption request");
        cx.close();
        Ok(())
    }

    fn on_auth_ok(&mut self, _cx: &mut ClientCx<'_, '_>, _msg: pg::AuthOk) -> Result {
        Ok(())
    }

    fn on_auth_cleartext(&mut self, cx: &mut ClientCx<'_, '_>, _msg: pg::AuthCleartext) -> Result {
        let password = self.shared.borrow().options.password.clone();
        match password {
            Some(p) => cx.send(pg::Password {
                password: p.as_bytes(),
            }),
            None => {
                self.shared
                    .borrow_mut()
                    .connection_failed("fe_sendauth: no password supplied");
                cx.close();
                Ok(())
            }
        }
    }

    fn on_parameter_status(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::ParameterStatus<'_>,
    ) -> Result {
        Ok(())
    }

    fn on_backend_key_data(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::BackendKeyData,
    ) -> Result {
        Ok(())
    }

    fn on_ready_for_query(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        _msg: pg::ReadyForQuery<'_>,
    ) -> Result {
        {
            let mut s = self.shared.borrow_mut();
            s.connected = true;
            let _ = s.out.flush();
            if s.busy && s.failed {
                s.status = Some(s.error_status);
            }
            s.busy = false;
            s.failed = false;
        }
        self.pump(cx)
    }

    fn on_row_description(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::RowDescription<'_>,
    ) -> Result {
        self.shared.borrow_mut().rows = true;
        Ok(())
    }

    fn on_data_row(&mut self, _cx: &mut ClientCx<'_, '_>, msg: pg::DataRow<'_>) -> Result {
        if msg.values.is_empty() {
            return Ok(());
        }
        let mut line = Vec::new();
        for (i, v) in msg.values.iter().enumerate() {
            if i > 0 {
                line.push(b'|');
            }
            line.extend_from_slice(v.value.unwrap_or_default());
        }
        line.push(b'\n');
        self.shared.borrow_mut().out.write_all(&line)?;
        Ok(())
    }

    fn on_command_complete(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        msg: pg::CommandComplete<'_>,
    ) -> Result {
        let mut s = self.shared.borrow_mut();
        let returning = [&b"INSERT"[..], b"UPDATE", b"DELETE"]
            .iter()
            .any(|p| msg.tag.starts_with(p));
        if !s.rows || returning {
            s.out.write_all(msg.tag)?;
            s.out.write_all(b"\n")?;
        }
        s.rows = false;
        Ok(())
    }

    fn on_empty_query_response(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        _msg: pg::EmptyQueryResponse,
    ) -> Result {
        Ok(())
    }

    fn on_error_response(
        &mut self,
        cx: &mut ClientCx<'_, '_>,
        msg: pg::ErrorResponse<'_>,
    ) -> Result {
        let e = ServerError::from_fields(msg.fields.iter().map(|f| (f.code, f.value)));
        let mut s = self.shared.borrow_mut();
        if !s.connected {
            let text = e.format("");
            s.connection_failed(&text);
            cx.close();
            return Ok(());
        }
        let text = e.format(&s.query.clone());
        s.stderr(&text);
        s.failed = true;
        Ok(())
    }

    fn on_notice_response(
        &mut self,
        _cx: &mut ClientCx<'_, '_>,
        msg: pg::NoticeResponse<'_>,
    ) -> Result {
        let e = ServerError::from_fields(msg.fields.iter().map(|f| (f.code, f.value)));
        self.print_notice(&e);
        Ok(())
    }

    fn on_bad_input(&mut self, _cx: &mut ClientCx<'_, '_>, err: &DecodeError) {
        let mut s = self.shared.borrow_mut();
        s.stderr(&format!(
            "pg-client: error: bad message from the server: {err}\n"
        ));
        s.status.get_or_insert(2);
    }

    fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: Option<&io::Error>) {
        {
            let mut s = self.shared.borrow_mut();
            let _ = s.out.flush();
            if s.status.is_none() {
                match (reason, s.connected) {
                    (Some(e), false) => {
                        let why = e.to_string();
                        s.connection_failed(&why);
                    }
                    (reason, _) => {
                        let why = reason.map_or(String::new(), |e| format!(": {e}"));
                        s.stderr(&format!(
                            "pg-client: error: the server closed the connection unexpectedly{why}\n"
                        ));
                        s.status = Some(2);
                    }
                }
            }
        }
        cx.channel().map().stop();
    }
}
