//! The shared momento-lite, hosted inside the bench on a runtime of its own (one worker
//! thread), so the load generator's thousands of tasks never queue in front of its requests:
//! the app processes meet it as they would meet a separate server.

use std::io;
use std::sync::Arc;

use momento_lite::{FaultController, LiteServer, MomentoLite};
use tokio::runtime::Runtime;
use tokio::sync::Mutex;

use crate::fixtures::BenchResult;

/// momento-lite on its own runtime; stopped with the runtime when dropped.
pub struct LiteHost {
    runtime: Option<Runtime>,
    server: Arc<Mutex<LiteServer>>,
    endpoint: String,
    faults: FaultController,
}

impl LiteHost {
    /// Starts momento-lite on an ephemeral port.
    pub async fn start() -> BenchResult<LiteHost> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("momento-lite")
            .enable_all()
            .build()?;
        let server = runtime
            .spawn(async { MomentoLite::builder().start().await })
            .await??;
        Ok(LiteHost {
            endpoint: server.endpoint(),
            faults: server.faults(),
            server: Arc::new(Mutex::new(server)),
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its fault controller.
    pub fn faults(&self) -> &FaultController {
        &self.faults
    }

    /// Takes it down as a crash would (see [`LiteServer::stop`]).
    pub async fn stop(&self) -> BenchResult<()> {
        let server = self.server.clone();
        self.spawn(async move { server.lock().await.stop().await })
            .await?;
        Ok(())
    }

    /// Brings it back on the same port with its data.
    pub async fn start_again(&self) -> BenchResult<()> {
        let server = self.server.clone();
        let started: io::Result<()> = self
            .spawn(async move { server.lock().await.start_again().await })
            .await?;
        Ok(started?)
    }

    fn spawn<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.runtime
            .as_ref()
            .expect("runtime until drop")
            .spawn(fut)
    }
}

impl Drop for LiteHost {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
