//! Child processes that cannot outlive their handle.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::HarnessError;

/// How many of a peer's last stderr lines are kept for error messages.
const STDERR_LINES_KEPT: usize = 40;

/// A port on 127.0.0.1 that was free a moment ago (the OS picked it, then we let go).
pub fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether a process with this id exists (a zombie does not count: it is gone but
/// unreaped, which is not our case since every handle reaps its child).
pub fn process_is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the ")" that ends the command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

// std has no way to signal a process group; libc's kill(2) is always linked on unix.
extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGKILL: i32 = 9;

/// A running peer process in its own process group; dropping it kills the group (the
/// peer and anything it started) and reaps the child.
pub(crate) struct PeerProcess {
    name: String,
    child: Child,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl PeerProcess {
    /// Starts `command` as the leader of a new process group. Its stderr is collected (the
    /// last lines) for error messages; stdin and stdout are as the caller set them.
    pub(crate) fn spawn(name: &str, mut command: Command) -> Result<Self, HarnessError> {
        command.process_group(0).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| HarnessError::Spawn {
            program: format!("{name} ({:?})", command.get_program()),
            source,
        })?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            thread::spawn(move || keep_tail(stderr, &tail));
        }
        Ok(Self {
            name: name.to_owned(),
            child,
            stderr_tail,
        })
    }

    /// The process id (also the process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child itself, e.g. to take its stdin or stdout.
    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The last lines the process wrote to stderr, joined.
    pub(crate) fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The exit status once the process has exited (`None` while it runs).
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// A startup error saying the process exited, with what it wrote to stderr.
    pub(crate) fn exited_error(&mut self, status: &str) -> HarnessError {
        // The stderr reader may still be catching up with the last lines.
        thread::sleep(Duration::from_millis(50));
        HarnessError::Startup {
            peer: self.name.clone(),
            detail: format!("exited ({status}); stderr:\n{}", self.stderr_tail()),
        }
    }

    /// Waits until every port accepts TCP connections, failing early if the process exits.
    pub(crate) fn wait_for_ports(
        &mut self,
        ports: &[u16],
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        for &port in ports {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some(status) = self.exit_status() {
                    return Err(self.exited_error(&status.to_string()));
                }
                if Instant::now() >= deadline {
                    return Err(HarnessError::Timeout {
                        what: format!("{} accepting connections on port {port}", self.name),
                        after: timeout,
                        detail: self.stderr_tail(),
                    });
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) takes plain integers; a negative pid names our child's group.
            unsafe {
                kill(-pgid, SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keeps the last lines of a stream until it closes.
fn keep_tail(stream: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == STDERR_LINES_KEPT {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// A `Command` for a script run with `bash` (the scripts under `tools/peers/`).
pub(crate) fn bash_script(script: &Path) -> Command {
    let mut command = Command::new("bash");
    command.arg(script);
    command
}

/// Runs `command` to its end and returns its stdout (`what` names it in errors). A
/// non-zero exit is [`HarnessError::Failed`] and running past `timeout` is
/// [`HarnessError::Timeout`] (the process group is killed); both carry its stderr.
pub(crate) fn run_to_end(
    what: &str,
    mut command: Command,
    timeout: Duration,
) -> Result<String, HarnessError> {
    command.stdout(Stdio::piped());
    let mut process = PeerProcess::spawn(what, command)?;
    let mut stdout = process.child_mut().stdout.take().expect("stdout was piped");
    // Read concurrently: a child that fills the pipe would otherwise never exit.
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = process.exit_status() {
            break status;
        }
        if Instant::now() >= deadline {
            let detail = process.stderr_tail();
            drop(process); // kills it, which closes stdout and ends the reader
            let _ = reader.join();
            return Err(HarnessError::Timeout {
                what: format!("{what} finishing"),
                after: timeout,
                detail,
            });
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    // The stderr reader finishes once the pipe closes, just after exit.
    thread::sleep(Duration::from_millis(20));
    if status.success() {
        Ok(stdout)
    } else {
        Err(HarnessError::Failed {
            what: what.to_owned(),
            detail: format!(
                "{status}\nstdout:\n{stdout}\nstderr:\n{}",
                process.stderr_tail()
            ),
        })
    }
}
