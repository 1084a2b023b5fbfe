//! The PostgreSQL side of the database layer: tokio-postgres, driven synchronously.
//!
//! Store methods are called from inside tokio runtimes, where `Runtime::block_on`
//! panics. So the socket (tokio-postgres's `Connection` future) runs on a thread of its
//! own with its own current-thread runtime, and the `Client`, which only talks to that
//! future over channels, is driven with `futures_executor::block_on`, which needs no
//! runtime and works from any thread.

use super::value::{Row, Value};
use crate::error::StoreError;
use crate::location::{scrub, PgUrl, StoreName};
use bytes::BytesMut;
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Statement};

type BoxError = Box<dyn Error + Sync + Send>;

/// How long connecting may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Statements sent before awaiting answers in `run` (bounds the memory a batch holds).
const PIPELINE_DEPTH: usize = 1024;

/// Prepared statements kept per connection (the store has fewer distinct queries).
const STATEMENT_CACHE: usize = 512;

/// One connection to the server.
pub(crate) struct PgConn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    /// The password, to scrub it from any driver message that might echo it.
    secret: Option<String>,
}

impl ToSql for Value {
    /// Encodes by the type the server inferred for the parameter.
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT4) => (*i as f32).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT8) => r.to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT4) => (*r as f32).to_sql(ty, out),
            (Value::Text(s), ty) if <&str as ToSql>::accepts(ty) => s.as_str().to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (v, ty) => Err(format!("cannot send {v:?} as a parameter of type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        Ok(match *ty {
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            ref ty if <String as FromSql>::accepts(ty) => Value::Text(String::from_sql(ty, raw)?),
            ref ty => {
                return Err(
                    format!("column type {ty} is not supported (cast it in the query)").into(),
                )
            }
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// `?1, ?2…` as `$1, $2…`, outside string literals and quoted identifiers.
pub(crate) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The innermost cause of a driver error (e.g. "Connection refused (os error 111)").
fn innermost(e: &tokio_postgres::Error) -> String {
    let mut cause: &dyn Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Maps a driver error to ours: lock conflicts are `Busy`, the rest `Database`.
pub(crate) fn error(
    store: &StoreName,
    secret: Option<&str>,
    e: &tokio_postgres::Error,
) -> StoreError {
    let store = store.clone();
    let Some(db) = e.as_db_error() else {
        let detail = if e.is_closed() {
            "the connection to the server was lost".to_string()
        } else {
            innermost(e)
        };
        return StoreError::Database {
            store,
            detail: scrub(&detail, secret),
        };
    };
    let code = db.code();
    if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
    {
        return StoreError::Busy { store };
    }
    StoreError::Database {
        store,
        detail: scrub(db.message(), secret),
    }
}

/// Hands the client to the caller (or the reason it could not connect), then drives the
/// connection until the client is dropped or the server goes away.
async fn serve<C>(
    connected: Result<(Client, C), tokio_postgres::Error>,
    tx: std::sync::mpsc::Sender<Result<Client, String>>,
    secret: Option<String>,
    store: StoreName,
) where
    C: Future<Output = Result<(), tokio_postgres::Error>>,
{
    match connected {
        Ok((client, connection)) => {
            if tx.send(Ok(client)).is_err() {
                return;
            }
            if let Err(e) = connection.await {
                let detail = scrub(&innermost(&e), secret.as_deref());
                tracing::warn!(%store, detail, "store connection ended");
            }
        }
        Err(e) => {
            let detail = match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => innermost(&e),
            };
            let _ = tx.send(Err(detail));
        }
    }
}

impl PgConn {
    /// Connects, running the socket on a thread of its own (see the module doc).
    pub(crate) fn connect(url: &PgUrl) -> Result<PgConn, StoreError> {
        let store = url.redacted().clone();
        let secret = url.password();
        let connect_error = |detail: String| StoreError::Connect {
            store: store.clone(),
            detail: scrub(&detail, secret.as_deref()),
        };
        let mut config =
            Config::from_str(url.secret()).map_err(|e| connect_error(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("warden");
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            _ => Some(super::tls::connector().map_err(connect_error)?),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread_secret = secret.clone();
        let thread_store = store.clone();
        std::thread::Builder::new()
            .name("warden-store-pg".to_string())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(format!("cannot start the connection thread: {e}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match tls {
                        Some(tls) => {
                            serve(config.connect(tls).await, tx, thread_secret, thread_store).await
                        }
                        None => {
                            serve(config.connect(NoTls).await, tx, thread_secret, thread_store)
                                .await
                        }
                    }
                });
            })
            .map_err(|e| connect_error(format!("cannot start the connection thread: {e}")))?;
        let client = rx
            .recv()
            .map_err(|_| connect_error("the connection thread stopped".to_string()))?
            .map_err(connect_error)?;
        Ok(PgConn {
            client,
            statements: RefCell::new(HashMap::new()),
            secret,
        })
    }

    pub(crate) fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(stmt) = self.statements.borrow().get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = futures_executor::block_on(self.client.prepare(&translate(sql)))?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    pub(super) fn execute(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, tokio_postgres::Error> {
        let stmt = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        futures_executor::block_on(self.client.execute(&stmt, &params))
    }

    pub(super) fn query(
        &self,
        store: &StoreName,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let stmt = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = futures_executor::block_on(self.client.query(&stmt, &params))?;
        rows.iter()
            .map(|row| {
                let values = (0..row.len())
                    .map(|i| row.try_get::<_, Value>(i))
                    .collect::<Result<Vec<Value>, _>>()?;
                Ok(Row::new(values, store.clone()))
            })
            .collect()
    }

    /// Runs the statements in order, pipelined in chunks: each chunk's requests are all
    /// sent before the first answer is awaited.
    pub(super) fn run(
        &self,
        stmts: &[(&'static str, Vec<Value>)],
    ) -> Result<Vec<u64>, tokio_postgres::Error> {
        let mut changed = Vec::with_capacity(stmts.len());
        for chunk in stmts.chunks(PIPELINE_DEPTH) {
            let prepared = chunk
                .iter()
                .map(|(sql, _)| self.statement(sql))
                .collect::<Result<Vec<_>, _>>()?;
            let params: Vec<Vec<&(dyn ToSql + Sync)>> = chunk
                .iter()
                .map(|(_, params)| params.iter().map(|v| v as _).collect())
                .collect();
            let pending = prepared
                .iter()
                .zip(&params)
                .map(|(stmt, params)| Box::pin(self.client.execute(stmt, params)))
                .collect();
            for result in futures_executor::block_on(InOrder::new(pending)) {
                changed.push(result?);
            }
        }
        Ok(changed)
    }

    /// Runs statements without parameters (DDL, `BEGIN`, `COMMIT`).
    pub(super) fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        futures_executor::block_on(self.client.batch_execute(sql))
    }
}

/// Awaits futures, polling them in their order every time: a request is sent on its
/// future's first poll, so the server receives the statements in this order (a general
/// join may poll them in any order).
struct InOrder<F: Future> {
    pending: Vec<Pin<Box<F>>>,
    done: Vec<Option<F::Output>>,
}

// Only the boxed futures are pinned; the outputs are moved freely.
impl<F: Future> Unpin for InOrder<F> {}

impl<F: Future> InOrder<F> {
    fn new(pending: Vec<Pin<Box<F>>>) -> InOrder<F> {
        let done = pending.iter().map(|_| None).collect();
        InOrder { pending, done }
    }
}

impl<F: Future> Future for InOrder<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        let mut all_done = true;
        for (fut, slot) in this.pending.iter_mut().zip(this.done.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(out) => *slot = Some(out),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if !all_done {
            return Poll::Pending;
        }
        Poll::Ready(this.done.iter_mut().filter_map(Option::take).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_are_translated_outside_quotes_only() {
        assert_eq!(
            translate("SELECT '?1', \"a?2\" FROM t WHERE a = ?1 AND b = ?12 AND c <> 'it''s ?3'"),
            "SELECT '?1', \"a?2\" FROM t WHERE a = $1 AND b = $12 AND c <> 'it''s ?3'"
        );
    }
}
