//! The tower layer that applies faults: in front of both gRPC services it counts each request,
//! asks the [`FaultController`] what to do with it, waits out any injected latency and answers an
//! injected error instead of calling the service.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{injected_status, FaultController, Rpc};

/// Wraps the server's routes in a [`FaultService`].
#[derive(Debug, Clone)]
pub(crate) struct FaultLayer {
    faults: FaultController,
}

impl FaultLayer {
    /// A layer applying the faults of `faults`.
    pub(crate) fn new(faults: FaultController) -> Self {
        Self { faults }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            faults: self.faults.clone(),
        }
    }
}

/// A service that applies the active faults to each gRPC request before `S` sees it.
#[derive(Debug, Clone)]
pub(crate) struct FaultService<S> {
    inner: S,
    faults: FaultController,
}

impl<S, B, ResBody> Service<Request<B>> for FaultService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let decision = Rpc::from_path(request.uri().path())
            .and_then(|rpc| self.faults.on_request(rpc).map(|decision| (rpc, decision)));
        let Some((rpc, decision)) = decision else {
            return Box::pin(self.inner.call(request));
        };
        if decision.latency.is_zero() && decision.error.is_none() {
            return Box::pin(self.inner.call(request));
        }
        // `self.inner` was made ready by `poll_ready`; take it for the delayed call and leave a
        // fresh clone in its place (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if !decision.latency.is_zero() {
                tracing::debug!(%rpc, latency = ?decision.latency, "injected latency");
                tokio::time::sleep(decision.latency).await;
            }
            if let Some(code) = decision.error {
                tracing::debug!(%rpc, ?code, "injected error");
                return Ok(injected_status(code).into_http());
            }
            inner.call(request).await
        })
    }
}
