//! One client connection: handshake, authentication, then the command loop.
//!
//! Everything the client sends goes through the pure decoders in
//! [`crate::protocol`]; every answer is built into one [`Out`] buffer and
//! written with one syscall. Bad input gets an ERR packet where the
//! protocol allows one; bytes the protocol cannot make sense of (packets out
//! of order, oversized packets, garbage during the handshake) close this
//! connection only. When the connection ends for any reason its session
//! rolls back an open transaction, so a vanished client leaves no locks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;

use crate::error::{Error, code};
use crate::execute::entry;
use crate::protocol::auth::{self, CACHING_SHA2_PASSWORD, NATIVE_PASSWORD};
use crate::protocol::packet::{Out, ProtocolError, Reader};
use crate::protocol::{binary, caps, command, handshake, resultset, status};
use crate::session::shared::Shared;
use crate::session::{Output, Session};

type ConnReader = Reader<BufReader<tokio::net::tcp::OwnedReadHalf>>;

pub async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let conn_id = shared.next_conn_id();
    let (rd, mut wr) = stream.into_split();
    let mut reader = Reader::new(
        BufReader::with_capacity(16 * 1024, rd),
        shared.config.max_packet,
    );
    let host = peer.ip().to_string();
    let session = tokio::select! {
        s = handshake(&shared, conn_id, &host, &mut reader, &mut wr) => s,
        _ = shutdown.changed() => None,
    };
    let Some(mut session) = session else { return };
    shared
        .metrics
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared
        .metrics
        .connections_total
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let process = session.process().clone();
    tokio::select! {
        r = command_loop(&mut session, &mut reader, &mut wr) => {
            if let Err(e) = r {
                tracing::debug!(conn_id, "connection ended: {e}");
            }
        }
        _ = process.kill_connection.notified() => {}
        _ = shutdown.changed() => {}
    }
    session.close().await;
    shared
        .metrics
        .connections
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

async fn send(wr: &mut OwnedWriteHalf, out: Out) -> Result<(), ProtocolError> {
    wr.write_all(&out.buf).await?;
    Ok(())
}

fn err_packet(out: &mut Out, e: &Error) {
    let mark = out.start();
    resultset::err(&mut out.buf, e.code(), e.sqlstate(), &e.message());
    out.finish(mark);
}

/// The connection phase, step by step as the protocol orders it (greeting,
/// SSL request refusal, response, auth switch or fast/full auth): one
/// function so the exchange reads top to bottom.
async fn handshake(
    shared: &Arc<Shared>,
    conn_id: u32,
    host: &str,
    reader: &mut ConnReader,
    wr: &mut OwnedWriteHalf,
) -> Option<Session> {
    let salt = auth::new_salt();
    let mut out = Out::new(0);
    out.packet(&handshake::greeting(
        conn_id,
        &salt,
        NATIVE_PASSWORD,
        status::AUTOCOMMIT,
    ));
    send(wr, out).await.ok()?;
    reader.seq = 1;
    let payload = reader.read().await.ok()?;
    let reply_seq = reader.seq;
    let fail = |seq: u8, e: Error| {
        let mut out = Out::new(seq);
        err_packet(&mut out, &e);
        out
    };
    if handshake::is_ssl_request(&payload) {
        let out = fail(
            reply_seq,
            Error::new(code::ER_NOT_SUPPORTED_YET, "duet does not support TLS yet"),
        );
        let _ = send(wr, out).await;
        return None;
    }
    let resp = match handshake::parse_response(&payload) {
        Ok(r) => r,
        Err(e) => {
            let out = fail(
                reply_seq,
                Error::new(code::ER_UNKNOWN_COM, format!("Bad handshake: {e}")),
            );
            let _ = send(wr, out).await;
            return None;
        }
    };
    let mut plugin = resp
        .plugin
        .clone()
        .unwrap_or_else(|| NATIVE_PASSWORD.into());
    let mut token = resp.auth_response.clone();
    let mut seq = reply_seq;
    if plugin != NATIVE_PASSWORD && plugin != CACHING_SHA2_PASSWORD {
        // Ask for a plugin we verify.
        let mut out = Out::new(seq);
        out.packet(&handshake::auth_switch(NATIVE_PASSWORD, &salt));
        send(wr, out).await.ok()?;
        reader.seq = seq.wrapping_add(1);
        token = reader.read().await.ok()?;
        seq = reader.seq;
        plugin = NATIVE_PASSWORD.into();
    }
    let schema = shared.catalog.schema();
    let verified = schema
        .user(&resp.user, host)
        .is_some_and(|u| u.password.verify(&plugin, &salt, &token));
    let mut out = Out::new(seq);
    if !verified {
        let using = if token.is_empty() { "NO" } else { "YES" };
        let e = Error::new(
            code::ER_ACCESS_DENIED,
            format!(
                "Access denied for user '{}'@'{}' (using password: {using})",
                resp.user, host
            ),
        );
        err_packet(&mut out, &e);
        let _ = send(wr, out).await;
        return None;
    }
    if plugin == CACHING_SHA2_PASSWORD && !token.is_empty() {
        out.packet(&handshake::FAST_AUTH_OK);
    }
    let capabilities = resp.capabilities & caps::SERVER;
    let mut session = Session::new(
        shared.clone(),
        conn_id,
        &resp.user,
        host,
        capabilities,
        crate::planner::query_context(),
    );
    if let Some(db) = &resp.database
        && let Err(e) = session.use_db(db)
    {
        err_packet(&mut out, &e);
        let _ = send(wr, out).await;
        session.close().await;
        return None;
    }
    let mark = out.start();
    resultset::ok(&mut out.buf, 0, 0, 0, session.status_flags(), 0, "");
    out.finish(mark);
    send(wr, out).await.ok()?;
    Some(session)
}

/// Per-connection prepared-statement protocol state.
#[derive(Default)]
struct StmtState {
    types: HashMap<u32, binary::ParamTypes>,
    long_data: HashMap<u32, HashMap<u16, Vec<u8>>>,
}

async fn command_loop(
    session: &mut Session,
    reader: &mut ConnReader,
    wr: &mut OwnedWriteHalf,
) -> Result<(), ProtocolError> {
    let mut stmts = StmtState::default();
    loop {
        reader.seq = 0;
        let payload = read_command(reader, wr).await?;
        let mut out = Out::new(reader.seq);
        let Some((&cmd, body)) = payload.split_first() else {
            return Err(ProtocolError::Malformed("empty command packet"));
        };
        let next = if is_stmt_command(cmd) {
            stmt_command(cmd, body, session, &mut stmts, &mut out).await
        } else {
            command(cmd, body, session, &mut stmts, &mut out, reader, wr).await?
        };
        match next {
            Next::Quit => return Ok(()),
            Next::Silent => {}
            Next::Reply => send(wr, out).await?,
        }
    }
}

/// What the command loop does once a command ran.
enum Next {
    /// Send the reply written to `out`.
    Reply,
    /// The command has no reply (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE).
    Silent,
    /// COM_QUIT.
    Quit,
}

/// The next command packet; a packet over `max_allowed_packet` is answered
/// with ER_NET_PACKET_TOO_LARGE and ends the connection.
async fn read_command(
    reader: &mut ConnReader,
    wr: &mut OwnedWriteHalf,
) -> Result<Vec<u8>, ProtocolError> {
    match reader.read().await {
        Ok(p) => Ok(p),
        Err(ProtocolError::TooLarge) => {
            let mut out = Out::new(reader.seq);
            err_packet(
                &mut out,
                &Error::new(
                    code::ER_NET_PACKET_TOO_LARGE,
                    "Got a packet bigger than 'max_allowed_packet' bytes",
                ),
            );
            let _ = send(wr, out).await;
            Err(ProtocolError::TooLarge)
        }
        Err(e) => Err(e),
    }
}

/// Commands outside the prepared-statement family.
async fn command(
    cmd: u8,
    body: &[u8],
    session: &mut Session,
    stmts: &mut StmtState,
    out: &mut Out,
    reader: &mut ConnReader,
    wr: &mut OwnedWriteHalf,
) -> Result<Next, ProtocolError> {
    match cmd {
        command::QUIT => return Ok(Next::Quit),
        command::QUERY => {
            let sql = String::from_utf8_lossy(body);
            run_queries(session, &sql, out, reader, wr).await?;
        }
        command::PING | command::DEBUG => ok(out, session, 0, 0),
        command::INIT_DB => {
            let db = String::from_utf8_lossy(body);
            match session.use_db(&db) {
                Ok(()) => ok(out, session, 0, 0),
                Err(e) => err_packet(out, &e),
            }
        }
        command::FIELD_LIST => field_list(body, session, out),
        command::STATISTICS => {
            let text = session.statistics();
            out.packet(text.as_bytes());
        }
        command::PROCESS_KILL => {
            let id = u32::from_le_bytes(
                body.get(..4)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0; 4]),
            );
            match session.kill(id, false) {
                Ok(()) => ok(out, session, 0, 0),
                Err(e) => err_packet(out, &e),
            }
        }
        command::RESET_CONNECTION => {
            session.reset().await;
            *stmts = StmtState::default();
            ok(out, session, 0, 0);
        }
        command::CHANGE_USER => {
            // Re-authentication needs the salt of a new handshake round;
            // duet answers like a server that refuses the change.
            err_packet(out, &Error::unsupported("COM_CHANGE_USER"));
        }
        command::SET_OPTION => {
            // 0: multi-statements on, 1: off.
            match body.first() {
                Some(0) => session.capabilities |= caps::MULTI_STATEMENTS,
                Some(1) => session.capabilities &= !caps::MULTI_STATEMENTS,
                _ => {}
            }
            let mark = out.start();
            resultset::eof(&mut out.buf, session.status_flags(), 0);
            out.finish(mark);
        }
        _ => err_packet(out, &Error::new(code::ER_UNKNOWN_COM, "Unknown command")),
    }
    Ok(Next::Reply)
}

/// COM_FIELD_LIST: the table's column definitions, then EOF.
fn field_list(body: &[u8], session: &Session, out: &mut Out) {
    let table = String::from_utf8_lossy(body.split(|&b| b == 0).next().unwrap_or_default());
    match entry::field_list(session, &table) {
        Ok(cols) => {
            for c in &cols {
                let mark = out.start();
                c.encode(&mut out.buf, true);
                out.finish(mark);
            }
            end_of_rows(out, session, 0);
        }
        Err(e) => err_packet(out, &e),
    }
}

fn is_stmt_command(cmd: u8) -> bool {
    matches!(
        cmd,
        command::STMT_PREPARE
            | command::STMT_EXECUTE
            | command::STMT_SEND_LONG_DATA
            | command::STMT_CLOSE
            | command::STMT_RESET
            | command::STMT_FETCH
    )
}

/// The prepared-statement commands (binary protocol).
async fn stmt_command(
    cmd: u8,
    body: &[u8],
    session: &mut Session,
    stmts: &mut StmtState,
    out: &mut Out,
) -> Next {
    match cmd {
        command::STMT_PREPARE => {
            let sql = String::from_utf8_lossy(body);
            match entry::prepare(session, &sql).await {
                Ok(p) => write_prepare_ok(out, session, &p),
                Err(e) => err_packet(out, &e),
            }
        }
        command::STMT_EXECUTE => match execute_prepared(session, stmts, body).await {
            Ok(output) => write_output(out, session, &output, true, false),
            Err(e) => err_packet(out, &e),
        },
        command::STMT_SEND_LONG_DATA => {
            // No reply. body: stmt_id u32, param u16, data.
            if body.len() >= 6 {
                let id = u32::from_le_bytes(body[..4].try_into().expect("4"));
                let param = u16::from_le_bytes(body[4..6].try_into().expect("2"));
                stmts
                    .long_data
                    .entry(id)
                    .or_default()
                    .entry(param)
                    .or_default()
                    .extend_from_slice(&body[6..]);
            }
            return Next::Silent;
        }
        command::STMT_CLOSE => {
            if body.len() >= 4 {
                let id = u32::from_le_bytes(body[..4].try_into().expect("4"));
                session.close_prepared(id);
                stmts.types.remove(&id);
                stmts.long_data.remove(&id);
            }
            return Next::Silent;
        }
        command::STMT_RESET => {
            let id = binary::stmt_id(body).unwrap_or(0);
            if session.prepared_params(id).is_some() {
                stmts.long_data.remove(&id);
                ok(out, session, 0, 0);
            } else {
                err_packet(out, &unknown_stmt(id, "mysqld_stmt_reset"));
            }
        }
        _ => err_packet(out, &Error::unsupported("cursor fetch")),
    }
    Next::Reply
}

fn unknown_stmt(id: u32, what: &str) -> Error {
    Error::new(
        code::ER_UNKNOWN_STMT_HANDLER,
        format!("Unknown prepared statement handler ({id}) given to {what}"),
    )
}

async fn execute_prepared(
    session: &mut Session,
    stmts: &mut StmtState,
    body: &[u8],
) -> crate::Result<Output> {
    let id = binary::stmt_id(body).map_err(|e| Error::new(code::ER_UNKNOWN_COM, e))?;
    let n = session
        .prepared_params(id)
        .ok_or_else(|| unknown_stmt(id, "mysqld_stmt_execute"))?;
    let types = stmts.types.entry(id).or_default();
    let long_data = stmts.long_data.remove(&id).unwrap_or_default();
    let params = binary::parse_params(body, n, types, &long_data).map_err(|e| {
        Error::new(
            code::ER_WRONG_ARGUMENTS,
            format!("Incorrect arguments to mysqld_stmt_execute: {e}"),
        )
    })?;
    entry::prepared(session, id, params).await
}

async fn run_queries(
    session: &mut Session,
    sql: &str,
    out: &mut Out,
    reader: &mut ConnReader,
    wr: &mut OwnedWriteHalf,
) -> Result<(), ProtocolError> {
    let multi = session.capabilities & caps::MULTI_STATEMENTS != 0;
    let statements = if multi {
        crate::session::split::split_statements(sql)
    } else {
        vec![sql.to_string()]
    };
    if statements.is_empty() {
        err_packet(out, &Error::new(code::ER_EMPTY_QUERY, "Query was empty"));
        return Ok(());
    }
    let n = statements.len();
    for (i, stmt) in statements.iter().enumerate() {
        let result = entry::text(session, stmt).await;
        let result = match result {
            Ok(Output::LocalInfile(req)) => {
                load_local_infile(session, req, out, reader, wr).await?
            }
            r => r,
        };
        match result {
            Ok(output) => write_output(out, session, &output, false, i + 1 < n),
            Err(e) => {
                err_packet(out, &e);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// LOAD DATA LOCAL INFILE: ask the client for the file and stream its
/// packets into the session until the empty packet that ends it. After an
/// error the rest of the file is still read (the protocol requires it),
/// then the error is answered.
async fn load_local_infile(
    session: &mut Session,
    req: crate::session::LocalInfile,
    out: &mut Out,
    reader: &mut ConnReader,
    wr: &mut OwnedWriteHalf,
) -> Result<crate::Result<Output>, ProtocolError> {
    if session.capabilities & caps::LOCAL_FILES == 0 {
        return Ok(Err(Error::new(
            code::ER_NOT_SUPPORTED_YET,
            "The used command is not allowed with this MySQL version",
        )));
    }
    let mut request = vec![0xFB];
    request.extend_from_slice(req.file_name.as_bytes());
    out.packet(&request);
    let next = out.seq;
    let pending = std::mem::replace(out, Out::new(0));
    send(wr, pending).await?;
    reader.seq = next;
    let mut state = entry::load_data_begin(session, req);
    loop {
        let chunk = reader.read().await?;
        let last = chunk.is_empty();
        if let Ok(s) = &mut state
            && let Err(e) = entry::load_data_chunk(session, s, &chunk, last).await
        {
            state = Err(e);
        }
        if last {
            break;
        }
    }
    *out = Out::new(reader.seq);
    Ok(state.map(|s| entry::load_data_end(session, s)))
}

fn ok(out: &mut Out, session: &Session, affected: u64, last_insert_id: u64) {
    let mark = out.start();
    resultset::ok(
        &mut out.buf,
        0,
        affected,
        last_insert_id,
        session.status_flags(),
        session.warning_count(),
        "",
    );
    out.finish(mark);
}

fn end_of_rows(out: &mut Out, session: &Session, more: u16) {
    let mark = out.start();
    let status = session.status_flags() | more;
    if session.capabilities & caps::DEPRECATE_EOF != 0 {
        resultset::ok(
            &mut out.buf,
            0xFE,
            0,
            0,
            status,
            session.warning_count(),
            "",
        );
    } else {
        resultset::eof(&mut out.buf, status, session.warning_count());
    }
    out.finish(mark);
}

fn write_output(out: &mut Out, session: &Session, output: &Output, binary: bool, more: bool) {
    let more = if more { status::MORE_RESULTS_EXISTS } else { 0 };
    match output {
        Output::Ok {
            affected,
            last_insert_id,
            info,
        } => {
            let mark = out.start();
            resultset::ok(
                &mut out.buf,
                0,
                *affected,
                *last_insert_id,
                session.status_flags() | more,
                session.warning_count(),
                info,
            );
            out.finish(mark);
        }
        Output::Rows(rs) => {
            out.packet(&lenenc(rs.columns.len() as u64));
            for c in &rs.columns {
                let mark = out.start();
                c.encode(&mut out.buf, false);
                out.finish(mark);
            }
            if session.capabilities & caps::DEPRECATE_EOF == 0 {
                let mark = out.start();
                resultset::eof(
                    &mut out.buf,
                    session.status_flags(),
                    session.warning_count(),
                );
                out.finish(mark);
            }
            for row in &rs.rows {
                let mark = out.start();
                if binary {
                    resultset::binary_row(&mut out.buf, &rs.columns, row);
                } else {
                    resultset::text_row(&mut out.buf, &rs.columns, row);
                }
                out.finish(mark);
            }
            end_of_rows(out, session, more);
        }
        Output::LocalInfile(_) => unreachable!("handled by run_queries"),
    }
}

fn lenenc(v: u64) -> Vec<u8> {
    let mut b = Vec::new();
    crate::protocol::packet::put_lenenc_int(&mut b, v);
    b
}

fn write_prepare_ok(out: &mut Out, session: &Session, p: &crate::session::PreparedInfo) {
    let mark = out.start();
    out.buf.push(0);
    out.buf.extend_from_slice(&p.id.to_le_bytes());
    out.buf
        .extend_from_slice(&(p.columns.len() as u16).to_le_bytes());
    out.buf.extend_from_slice(&(p.params as u16).to_le_bytes());
    out.buf.push(0);
    out.buf
        .extend_from_slice(&session.warning_count().to_le_bytes());
    out.finish(mark);
    let deprecate_eof = session.capabilities & caps::DEPRECATE_EOF != 0;
    if p.params > 0 {
        let param = resultset::ColumnDef::expr("?", crate::protocol::ColumnType::VarString);
        for _ in 0..p.params {
            let mark = out.start();
            param.encode(&mut out.buf, false);
            out.finish(mark);
        }
        if !deprecate_eof {
            let mark = out.start();
            resultset::eof(&mut out.buf, session.status_flags(), 0);
            out.finish(mark);
        }
    }
    if !p.columns.is_empty() {
        for c in &p.columns {
            let mark = out.start();
            c.encode(&mut out.buf, false);
            out.finish(mark);
        }
        if !deprecate_eof {
            let mark = out.start();
            resultset::eof(&mut out.buf, session.status_flags(), 0);
            out.finish(mark);
        }
    }
}
