//! Loopback fakes of the services the HTTP kinds talk to (tests only). One fake serves any
//! path on 127.0.0.1; each kind's `fake` module says what its service documents:
//! [`Shape::check`] lists what a request does wrong, [`Shape::answer`] is the service's
//! success answer. Tests script failures (`429` with `Retry-After`, `4xx`, `5xx`) ahead of
//! the next requests and read back every request received, in order, with the problems the
//! shape found.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

use crate::Kind;

/// A service's documented request shape and its success answer.
#[derive(Clone, Copy)]
pub struct Shape {
    /// What is wrong with a request, by the service's documentation (empty: nothing).
    pub check: fn(&Received) -> Vec<String>,
    /// The service's answer to a good request: status, body.
    pub answer: fn(&Received) -> (u16, String),
    /// Settings and secrets of a channel that sends to the fake at `base`
    /// (`http://127.0.0.1:<port>`).
    pub sample: fn(&str) -> (Value, crate::Secrets),
}

/// The shape of `kind`'s service.
pub fn shape(kind: Kind) -> Shape {
    crate::kinds::fake_shape(kind)
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// GET, POST, PUT.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string (empty when none).
    pub query: String,
    /// Headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
    /// What the service's shape found wrong with it.
    pub problems: Vec<String>,
    /// The status the fake answered.
    pub status: u16,
}

impl Received {
    /// Header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A scripted answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Scripted>,
}

/// A fake service on loopback.
#[derive(Clone)]
pub struct FakeService {
    addr: SocketAddr,
    kind: Kind,
    state: Arc<Mutex<State>>,
}

impl FakeService {
    /// Starts the fake of `kind`'s service on 127.0.0.1 (a port of its own).
    pub async fn start(kind: Kind) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shape = shape(kind);
        let handler_state = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = handler_state.clone();
            async move {
                let mut received = Received {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or_default().to_owned(),
                    headers: headers
                        .iter()
                        .map(|(n, v)| {
                            (
                                n.as_str().to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                    body: body.to_vec(),
                    at: Instant::now(),
                    problems: Vec::new(),
                    status: 0,
                };
                received.problems = (shape.check)(&received);
                let scripted = state.lock().unwrap().script.pop_front();
                let (status, headers, body) = match scripted {
                    Some(s) => (s.status, s.headers, s.body),
                    None if !received.problems.is_empty() => (400, Vec::new(), received.problems.join("; ")),
                    None => {
                        let (status, body) = (shape.answer)(&received);
                        (
                            status,
                            vec![("content-type".to_owned(), "application/json".to_owned())],
                            body,
                        )
                    }
                };
                received.status = status;
                state.lock().unwrap().received.push(received);
                let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
                for (n, v) in headers {
                    response.headers_mut().insert(
                        axum::http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                        v.parse().unwrap(),
                    );
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, kind, state }
    }

    /// The kind it fakes.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next request with `status`, `headers` and `body` instead of the shape's
    /// answer (queued: several calls script several requests).
    pub fn respond_next(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.state.lock().unwrap().script.push_back(Scripted {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.to_owned(),
        });
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived, or panics at `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} fake: {} of {n} requests within {timeout:?}",
                self.kind,
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Every text a request carries, decoded: the string values of a JSON body, the values of a
/// form, else the body as text (tests look for the notice's words in it).
pub fn texts(r: &Received) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    let json = r.json();
    if !json.is_null() {
        walk(&json, &mut out);
    } else if r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        for (_, v) in url::form_urlencoded::parse(&r.body) {
            out.push_str(&v);
            out.push('\n');
        }
    } else {
        out = r.text();
    }
    for (name, value) in &r.headers {
        if !matches!(
            name.as_str(),
            "authorization" | "content-type" | "content-length" | "host"
        ) {
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

/// Problems of a JSON body against required string fields (`"text"`, `"payload.summary"`).
pub fn require_strings(body: &Value, paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| {
            let v = p.split('.').try_fold(body, |v, key| v.get(key));
            v.is_none_or(|v| v.as_str().is_none_or(str::is_empty))
        })
        .map(|p| format!("`{p}` must be a non-empty string"))
        .collect()
}
