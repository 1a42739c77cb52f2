//! The auth token check, a tonic interceptor in front of both services.
//!
//! The SDK sends its API key verbatim in the `authorization` metadata of every call. A server
//! started with a token answers `UNAUTHENTICATED` (the SDK's `AuthenticationError`) to any call
//! whose `authorization` is missing or differs; a server without a token accepts every call.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Checks the `authorization` metadata of each request against the configured token.
#[derive(Debug, Clone, Default)]
pub struct TokenCheck {
    token: Option<Arc<str>>,
}

impl TokenCheck {
    /// A check that requires exactly `token`, or accepts everything when `token` is `None`.
    pub fn new(token: Option<&str>) -> Self {
        Self {
            token: token.map(Arc::from),
        }
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = self.token.as_deref() else {
            return Ok(request);
        };
        let presented = request.metadata().get("authorization");
        if presented.is_some_and(|value| value.as_bytes() == expected.as_bytes()) {
            Ok(request)
        } else {
            Err(Status::unauthenticated("invalid or missing auth token"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(token: Option<&'static str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(token) = token {
            let value = tonic::metadata::MetadataValue::from_static(token);
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    #[test]
    fn a_token_must_match_exactly() {
        let mut check = TokenCheck::new(Some("secret"));
        assert!(check.call(request_with(Some("secret"))).is_ok());
        for token in [None, Some("wrong"), Some("secret ")] {
            let status = check.call(request_with(token)).err();
            assert_eq!(status.map(|s| s.code()), Some(tonic::Code::Unauthenticated));
        }
    }

    #[test]
    fn without_a_token_everything_passes() {
        let mut check = TokenCheck::new(None);
        assert!(check.call(request_with(None)).is_ok());
        assert!(check.call(request_with(Some("anything"))).is_ok());
    }
}
