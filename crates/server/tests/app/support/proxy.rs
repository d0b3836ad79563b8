//! A TCP proxy a test can cut, as a network partition between one node and its
//! database would: every connection through it is closed at once, and new ones are
//! held unanswered (a black hole: the client waits until it gives up), until it is
//! restored.

use std::io::copy;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A proxy on a loopback port to `upstream` (`host:port`).
pub struct CuttableProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl CuttableProxy {
    /// Starts forwarding to `upstream`; its accepting thread lives as long as the test
    /// process.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, open) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (accepting_cut, accepting_open, upstream) = (cut.clone(), open.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                if accepting_cut.load(Ordering::SeqCst) {
                    held.push(client);
                    continue;
                }
                held.clear();
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let mut open = accepting_open.lock().unwrap();
                open.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Self { port, cut, open }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every connection through it and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
