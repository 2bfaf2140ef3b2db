//! A TCP proxy on 127.0.0.1 in front of a real server that can hold back what the server says
//! (a directory or copier that answers, but late). Client bytes go through at once; each chunk
//! from the server waits `delay` while one is set.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub struct LateProxy {
    pub port: u16,
    delay: Arc<Mutex<Option<Duration>>>,
}

impl LateProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream`, without delay to begin with.
    pub fn start(upstream: u16) -> LateProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&delay);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || pump(c2, s2, None));
                let delay = Arc::clone(&shared);
                thread::spawn(move || pump(server, client, Some(delay)));
            }
        });
        LateProxy { port, delay }
    }

    /// From now on, every chunk the server sends waits `delay` (None: none).
    pub fn set_delay(&self, delay: Option<Duration>) {
        *self.delay.lock().unwrap() = delay;
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, delay: Option<Arc<Mutex<Option<Duration>>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(wait) = delay.as_ref().and_then(|d| *d.lock().unwrap()) {
            thread::sleep(wait);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
