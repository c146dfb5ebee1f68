//! `chosync` child processes of the CLI tests, stopped when dropped (also
//! when a test fails).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct Process {
    pub child: Child,
    /// The JSON line a sandbox announces itself with (`Null` otherwise).
    pub announced: Value,
}

impl Process {
    /// Guards an already spawned child.
    pub fn guard(child: Child) -> Self {
        Self {
            child,
            announced: Value::Null,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `chosync sandbox PLATFORM --port 0 ARGS…`, once it has announced itself.
pub fn sandbox(platform: &str, args: &[&str]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .args(["sandbox", platform, "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sandbox");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("announcement");
    Process {
        child,
        announced: serde_json::from_str(&line).expect("one JSON line"),
    }
}
