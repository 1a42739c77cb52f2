//! momento-lite started as its own process, as Momento is, for the hit and throughput
//! scenarios' `_standalone` figures: the client then runs beside a separate server program
//! instead of a server on the bench's own threads.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use momento_seaorm_cache::MomentoBackend;

use crate::fixtures::{BenchResult, Lite};
use crate::service::procs::free_port;

/// The token the standalone server requires.
const TOKEN: &str = "bench-standalone";

/// A `momento-lite` process and a backend on it; the process is killed on drop.
pub struct Standalone {
    /// The backend the caches are built on.
    pub backend: MomentoBackend,
    _process: Killed,
}

/// A child process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Standalone {
    /// Starts the `momento-lite` binary next to the bench's executable on a free port.
    pub async fn start() -> BenchResult<Standalone> {
        let program = binary()?;
        let port = free_port()?;
        let child = Command::new(&program)
            .args(["--port", &port.to_string(), "--auth-token", TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut process = Killed(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || process.0.try_wait()?.is_some() {
                return Err(format!("{} did not listen on port {port}", program.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let url = format!("http://127.0.0.1:{port}");
        let backend = MomentoBackend::builder()
            .credential_provider(momento_lite::credential_provider(&url, TOKEN))
            .create_cache_if_missing(true)
            .default_ttl(Duration::from_secs(3_600))
            .build()
            .await?;
        Ok(Standalone {
            backend,
            _process: process,
        })
    }
}

/// The `momento-lite` binary built with the bench's profile, next to the bench's executable.
pub fn binary() -> BenchResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .ok_or("no executable dir")?
        .join("momento-lite");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it with the bench's profile first \
             (`cargo build --release -p momento-lite`)",
            path.display()
        )
        .into())
    }
}

/// The server a scenario runs against: momento-lite in this process, or as its own process.
pub enum Server {
    /// In this process (its keys read are counted).
    InProcess(Box<Lite>),
    /// Its own process.
    Standalone(Box<Standalone>),
}

impl Server {
    /// Starts one: standalone when `standalone`.
    pub async fn start(standalone: bool) -> BenchResult<Server> {
        Ok(match standalone {
            false => Server::InProcess(Box::new(Lite::start().await?)),
            true => Server::Standalone(Box::new(Standalone::start().await?)),
        })
    }

    /// The backend the caches are built on.
    pub fn backend(&self) -> &MomentoBackend {
        match self {
            Server::InProcess(lite) => &lite.backend,
            Server::Standalone(process) => &process.backend,
        }
    }

    /// The in-process server, if it is one.
    pub fn lite(&self) -> Option<&Lite> {
        match self {
            Server::InProcess(lite) => Some(lite),
            Server::Standalone(_) => None,
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        if let Server::InProcess(lite) = self {
            (*lite).stop().await;
        }
    }
}
