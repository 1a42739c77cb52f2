//! RPCs momento-lite does not serve: each answers `UNIMPLEMENTED`.
//!
//! The generated service traits have no default methods, so every RPC must be written out. The
//! [`unimplemented_rpcs!`] macro writes them from a `method: Request => Response;` table inside
//! a `#[tonic::async_trait]` impl. It spells out the signature `async_trait` gives a trait
//! method (a boxed `Send` future bound to `'async_trait`), because `async_trait` rewrites only
//! the `async fn`s it can see before macros expand.

use tonic::Status;

/// The status every unsupported RPC answers; the SDK reports it as `BadRequestError`.
pub fn status(method: &str) -> Status {
    Status::unimplemented(format!("momento-lite does not implement {method}"))
}

/// Writes trait methods that answer [`status`] for each `method: Request => Response;` line.
macro_rules! unimplemented_rpcs {
    ($($method:ident: $request:ty => $response:ty;)*) => {
        $(
            fn $method<'life0, 'async_trait>(
                &'life0 self,
                _request: ::tonic::Request<$request>,
            ) -> ::std::pin::Pin<
                Box<
                    dyn ::std::future::Future<
                            Output = ::std::result::Result<
                                ::tonic::Response<$response>,
                                ::tonic::Status,
                            >,
                        > + Send
                        + 'async_trait,
                >,
            >
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(::std::future::ready(Err($crate::unimplemented::status(
                    stringify!($method),
                ))))
            }
        )*
    };
}

pub(crate) use unimplemented_rpcs;
