//! Operations on a long-lived session (a WebSocket) are admitted one by one,
//! as HTTP requests are: the key is checked again and rate limited, each
//! operation gets its own session and DataLoaders, a bounded share of the
//! session, and the request timeout; a revoked key's running operations end
//! with `UNAUTHENTICATED`. The session puts its [`OperationGate`] in its data;
//! requests without one (HTTP) pass through untouched.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextSubscribe,
};
use async_graphql::{ErrorExtensions, Pos, Request, Response, ServerError, ServerResult};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use crate::error::{Error, code};
use crate::service::session::Session;

/// What a session decides about the operations started on it.
#[async_trait::async_trait]
pub trait OperationGate: Send + Sync {
    /// The session of a new operation, its caller checked now, or the refusal.
    async fn admit(&self) -> Result<Session, Error>;
    /// One of the session's operation places, held while the operation runs;
    /// `RATE_LIMITED` when all are taken.
    fn place(&self) -> Result<Box<dyn Send>, Error>;
    /// Resolves once the session's key is revoked.
    fn revoked(&self) -> BoxFuture<'static, ()>;
    /// How long a query or mutation may run.
    fn timeout(&self) -> Duration;
}

/// The session data key of a gate.
pub type Gate = Arc<dyn OperationGate>;

fn server_error(err: Error) -> ServerError {
    err.extend().into_server_error(Pos::default())
}

/// The message a revoked key's operations end with.
pub fn revoked_error() -> Error {
    Error::Unauthenticated("this API key was revoked; the operation ended and the connection closes")
}

/// The extension that applies a session's gate to each of its operations.
pub struct GatedOperations;

impl ExtensionFactory for GatedOperations {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GatedOperations)
    }
}

#[async_trait::async_trait]
impl Extension for GatedOperations {
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let Some(gate) = ctx.data_opt::<Gate>() else {
            return next.run(ctx, stream);
        };
        let place = match gate.place() {
            Ok(place) => place,
            Err(err) => {
                return futures_util::stream::once(async move { Response::from_errors(vec![server_error(err)]) })
                    .boxed();
            }
        };
        let mut revoked = gate.revoked();
        let mut responses = next.run(ctx, stream);
        Box::pin(async_stream::stream! {
            // Released when the operation ends, however it ends.
            let _place = place;
            loop {
                tokio::select! {
                    response = responses.next() => match response {
                        Some(response) => yield response,
                        None => break,
                    },
                    _ = &mut revoked => {
                        yield Response::from_errors(vec![server_error(revoked_error())]);
                        break;
                    }
                }
            }
        })
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = match ctx.data_opt::<Gate>() {
            Some(gate) => {
                let session = gate.admit().await.map_err(server_error)?;
                super::context::attach(request, session)
            }
            None => request,
        };
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let Some(timeout) = ctx.data_opt::<Gate>().map(|gate| gate.timeout()) else {
            return next.run(ctx, operation_name).await;
        };
        match tokio::time::timeout(timeout, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                let message = format!("the operation took longer than {} s and was stopped", timeout.as_secs_f64());
                Response::from_errors(vec![super::request_guard::with_code(
                    ServerError::new(message, None),
                    code::QUERY_TOO_COMPLEX,
                )])
            }
        }
    }
}
