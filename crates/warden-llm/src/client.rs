//! The one interface the agent code uses, whatever the provider.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

pub use tokio_util::sync::CancellationToken;

use crate::error::LlmError;
use crate::types::{Event, Request, Response};

/// A stream of provider-neutral events; it ends after [`Event::MessageStop`] or an error.
pub type EventStream = BoxStream<'static, Result<Event, LlmError>>;

/// A model API client. Cancelling the token aborts the HTTP request in flight
/// (the connection is dropped) and the call returns [`LlmError::Cancelled`].
pub trait ModelClient: Send + Sync {
    /// Sends the request and waits for the whole answer.
    fn send<'a>(
        &'a self,
        req: &'a Request,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Response, LlmError>>;

    /// Sends the request and streams the answer as it arrives.
    fn stream<'a>(
        &'a self,
        req: &'a Request,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<EventStream, LlmError>>;

    /// Sends the request as a stream and collects the whole answer. Unlike
    /// [`ModelClient::send`], whose answer may legitimately take many minutes
    /// to start, a streamed call that makes no progress for the client's stall
    /// timeout ends in [`LlmError::Stalled`]. The provider clients retry the
    /// whole call (also when it failed mid-stream) on a retryable error.
    fn send_streamed<'a>(
        &'a self,
        req: &'a Request,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Response, LlmError>> {
        Box::pin(async move { crate::stream::collect(self.stream(req, cancel).await?).await })
    }
}
