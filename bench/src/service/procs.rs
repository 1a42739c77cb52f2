//! The child processes of `bench -- service`: the 4 app processes (`service`) and the
//! change-capture invalidator (`momento-seaorm-invalidator`), found next to the bench's own
//! executable. A [`Fleet`] kills every child it started when dropped, also on a panic.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::BenchResult;

/// The binary of the example service.
pub const SERVICE_BIN: &str = "service";
/// The binary of the invalidator program.
pub const INVALIDATOR_BIN: &str = "momento-seaorm-invalidator";

/// How long a child gets to answer its `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Where the service and invalidator binaries are: next to this executable (`target/<profile>/`),
/// or `dir` when given.
pub fn bin_dir(dir: Option<&Path>) -> BenchResult<PathBuf> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => {
            let exe = std::env::current_exe()?;
            exe.parent()
                .map(Path::to_path_buf)
                .ok_or("no executable dir")?
        }
    };
    for bin in [SERVICE_BIN, INVALIDATOR_BIN] {
        if !dir.join(bin).is_file() {
            return Err(format!(
                "{} not found: build it first with the same profile, \
                 `cargo build -p service-example -p momento-seaorm-invalidator` (add --release for a \
                 release bench), or pass --service-bin-dir",
                dir.join(bin).display()
            )
            .into());
        }
    }
    Ok(dir)
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a bench).
pub fn free_port() -> BenchResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One child process and how to start it again.
struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn spawn(&mut self) -> BenchResult<()> {
        let log = File::options().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .env("RUST_LOG", "warn")
            // The service's pool size (4 processes x 8 stay well under PostgreSQL's 100).
            .env("SERVICE_DB_MAX_CONNECTIONS", "8")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, as a crash; waits for the exit.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An error if the child has exited.
    fn check_alive(&mut self) -> BenchResult<()> {
        if let Some(child) = &mut self.child {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Err(format!(
                    "{} exited ({status}); its log: {}",
                    self.name,
                    self.log.display()
                )
                .into());
            }
        }
        Ok(())
    }
}

/// The service processes and the invalidator; kills them all when dropped.
pub struct Fleet {
    bin_dir: PathBuf,
    log_dir: PathBuf,
    http: reqwest::Client,
    apps: Vec<(String, Proc)>,
    invalidator: Option<(String, Proc)>,
}

impl Fleet {
    /// No processes yet; logs go to `log_dir`. Old logs there are removed (a restarted process
    /// appends to its log).
    pub fn new(bin_dir: PathBuf, log_dir: PathBuf, http: reqwest::Client) -> BenchResult<Fleet> {
        std::fs::create_dir_all(&log_dir)?;
        for entry in std::fs::read_dir(&log_dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "log") {
                std::fs::remove_file(path)?;
            }
        }
        Ok(Fleet {
            bin_dir,
            log_dir,
            http,
            apps: Vec::new(),
            invalidator: None,
        })
    }

    /// The base URLs of the app processes, in start order.
    pub fn app_urls(&self) -> Vec<String> {
        self.apps.iter().map(|(url, _)| url.clone()).collect()
    }

    /// Runs `service --setup` with `args` and waits for it to exit successfully.
    pub async fn setup(&self, args: &[String]) -> BenchResult<()> {
        let mut proc = self.proc("setup", SERVICE_BIN, args.to_vec());
        proc.spawn()?;
        let started = Instant::now();
        let mut child = proc.child.take().ok_or("setup did not start")?;
        loop {
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                let log = proc.log.display();
                return Err(format!("service --setup failed ({status}); log: {log}").into());
            }
            if started.elapsed() > Duration::from_secs(600) {
                let _ = child.kill();
                return Err("service --setup took over 10 minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts one app process per argument list (each holds its own `--listen`), at
    /// `urls[i]`, and waits until every one answers `/healthz`.
    pub async fn start_apps(&mut self, urls: &[String], args: &[Vec<String>]) -> BenchResult<()> {
        for (i, (url, args)) in urls.iter().zip(args).enumerate() {
            let mut proc = self.proc(&format!("app{i}"), SERVICE_BIN, args.clone());
            proc.spawn()?;
            self.apps.push((url.clone(), proc));
        }
        for i in 0..self.apps.len() {
            self.wait_app(i).await?;
        }
        Ok(())
    }

    /// Kills every app process.
    pub fn stop_apps(&mut self) {
        for (_, proc) in &mut self.apps {
            proc.kill();
        }
        self.apps.clear();
    }

    /// Kills app process `i` (SIGKILL).
    pub fn kill_app(&mut self, i: usize) {
        self.apps[i].1.kill();
    }

    /// Starts app process `i` again with its arguments and waits for its `/healthz`.
    pub async fn restart_app(&mut self, i: usize) -> BenchResult<()> {
        self.apps[i].1.spawn()?;
        self.wait_app(i).await
    }

    async fn wait_app(&mut self, i: usize) -> BenchResult<()> {
        let url = format!("{}/healthz", self.apps[i].0);
        let (_, proc) = &mut self.apps[i];
        wait_ready(&self.http, &url, proc).await
    }

    /// Starts the invalidator with `args` (holding `--listen` at `url`) and waits until its
    /// `/healthz` says it is caught up.
    pub async fn start_invalidator(&mut self, url: String, args: Vec<String>) -> BenchResult<()> {
        let mut proc = self.proc("invalidator", INVALIDATOR_BIN, args);
        proc.spawn()?;
        self.invalidator = Some((url, proc));
        self.wait_invalidator().await
    }

    /// Kills the invalidator (SIGKILL: no last heartbeat, its slot left as it was).
    pub fn kill_invalidator(&mut self) {
        if let Some((_, proc)) = &mut self.invalidator {
            proc.kill();
        }
    }

    /// Starts the invalidator again and waits until it is caught up.
    pub async fn restart_invalidator(&mut self) -> BenchResult<()> {
        if let Some((_, proc)) = &mut self.invalidator {
            proc.spawn()?;
        }
        self.wait_invalidator().await
    }

    async fn wait_invalidator(&mut self) -> BenchResult<()> {
        let Some((url, proc)) = &mut self.invalidator else {
            return Ok(());
        };
        let url = format!("{url}/healthz");
        wait_ready(&self.http, &url, proc).await
    }

    /// An error naming the first child that exited unexpectedly.
    pub fn check_alive(&mut self) -> BenchResult<()> {
        for (_, proc) in &mut self.apps {
            proc.check_alive()?;
        }
        if let Some((_, proc)) = &mut self.invalidator {
            proc.check_alive()?;
        }
        Ok(())
    }

    fn proc(&self, name: &str, bin: &str, args: Vec<String>) -> Proc {
        Proc {
            name: name.to_owned(),
            program: self.bin_dir.join(bin),
            args,
            log: self.log_dir.join(format!("{name}.log")),
            child: None,
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, proc) in &mut self.apps {
            proc.kill();
        }
        if let Some((_, proc)) = &mut self.invalidator {
            proc.kill();
        }
    }
}

/// Polls `url` until it answers 200, the child exits, or [`READY_TIMEOUT`] passes.
async fn wait_ready(http: &reqwest::Client, url: &str, proc: &mut Proc) -> BenchResult<()> {
    let started = Instant::now();
    loop {
        proc.check_alive()?;
        let ok = http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            let log = proc.log.display();
            return Err(format!("{} not ready at {url} after 90 s; log: {log}", proc.name).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
