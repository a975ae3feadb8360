//! The accept loop against a toy interface, over real TLS on loopback. Timeouts here are
//! short (half a second) so that the tests are quick; the waits for what must happen are
//! generous (they only catch a hang) and no test asserts how fast anything happened.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use minimis_testkit::https::{Client, Method, Versions, read_until_closed, tls_stream};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt as _;

use super::*;
use crate::refusal::{RefusalBody, respond, verbatim};
use crate::tls::{ClientAuth, server_config};

/// How long anything may take before a test gives up: it catches a hang, nothing more.
const PATIENCE: Duration = Duration::from_secs(60);

struct ToyRefusals;

impl Refusals for ToyRefusals {
    fn refuse(&self, t: &Transport) -> Response {
        let code = match t {
            Transport::NotFound => "not_found",
            Transport::MethodNotAllowed => "method_not_allowed",
            Transport::Malformed { .. } => "malformed",
            Transport::BodyTooLarge { .. } => "body_too_large",
            Transport::BodyTimeout => "request_timeout",
            Transport::HeadTooLarge { .. } => "head_too_large",
            Transport::UriTooLong => "uri_too_long",
            _ => "internal_error",
        };
        respond(t.status(), code, &t.message())
    }
}

struct Toy {
    serving: Serving,
    cert: String,
}

fn short() -> Limits {
    Limits::default().with_timeouts(Duration::from_millis(500))
}

async fn toy(limits: Limits) -> Toy {
    let server = crate::dev_pki::self_signed_server("toy").unwrap();
    let tls = server_config(
        vec![CertificateDer::from_pem_slice(server.cert.as_bytes()).unwrap()],
        PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap(),
        &[],
        ClientAuth::Optional,
    )
    .unwrap();
    let router = Router::new()
        .route("/hello", get(|| async { "hi" }))
        .route("/echo", post(|b: Bytes| async move { b }))
        .route(
            "/big",
            get(|| async { vec![b'x'; 64 << 20].into_response() }),
        )
        .route(
            "/n/{n}",
            get(|Path(n): Path<u32>| async move { n.to_string() }),
        )
        .route(
            "/json",
            post(|Json(v): Json<HashMap<String, u32>>| async move { Json(v) }),
        )
        .route(
            "/q",
            get(|Query(q): Query<HashMap<String, u32>>| async move { Json(q) }),
        )
        .route("/bare", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/size",
            post(|| async {
                verbatim(
                    (
                        StatusCode::CONFLICT,
                        [(header::CONTENT_TYPE, "text/x.tlog.size")],
                        "7\n",
                    )
                        .into_response(),
                )
            }),
        );
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let serving = serve(
        listener,
        Endpoint {
            tls,
            router,
            limits,
            max_body: 1024,
            refusals: Arc::new(ToyRefusals),
            identify: Arc::new(|_: &rustls::ServerConnection| Some(())),
            log: RequestLog::new("toy", 1),
        },
    )
    .unwrap();
    Toy {
        serving,
        cert: server.cert,
    }
}

impl Toy {
    async fn client(&self) -> Client {
        Client::connect(self.serving.addr(), &self.cert, None, Versions::Tls13)
            .await
            .unwrap()
    }

    async fn raw(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        tls_stream(self.serving.addr(), &self.cert, None)
            .await
            .unwrap()
    }
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(s: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    read_until_closed(s, PATIENCE)
        .await
        .expect("the server did not close the connection")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_1_a_connection_that_never_finishes_its_handshake_is_closed() {
    let toy = toy(short()).await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(toy.serving.addr()).await.unwrap());
    }
    // A client is served meanwhile.
    let r = toy.client().await.get("/hello").await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    for s in idle {
        assert!(until_closed(s).await.is_empty());
    }
    assert!(
        toy.serving
            .request_log()
            .snapshot()
            .connections
            .handshake_failed
            >= 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_2_a_request_head_sent_slowly_is_cut_off() {
    // Idle far longer than the test's patience: only the header timeout can end it in
    // time.
    let mut limits = short();
    limits.idle_timeout = PATIENCE * 10;
    let toy = toy(limits).await;
    let s = toy.raw().await;
    let (r, mut w) = tokio::io::split(s);
    let reader = tokio::spawn(until_closed(r));
    w.write_all(b"GET /hello HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    // One header byte every 50 ms: always something moving, so only the header timeout
    // can end it.
    let dribble = tokio::spawn(async move {
        for _ in 0..2000 {
            if w.write_all(b"x").await.is_err() || w.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let sent = reader.await.unwrap();
    assert!(sent.is_empty(), "no response to a head that never ended");
    dribble.abort();
    assert_eq!(
        toy.serving
            .request_log()
            .snapshot()
            .connections
            .header_timeouts,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_3_svc_8_a_body_sent_slowly_is_refused_with_408_in_json() {
    let toy = toy(short()).await;
    let s = toy.raw().await;
    let (r, mut w) = tokio::io::split(s);
    let reader = tokio::spawn(until_closed(r));
    w.write_all(b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n")
        .await
        .unwrap();
    let dribble = tokio::spawn(async move {
        for _ in 0..1000 {
            if w.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let sent = String::from_utf8(reader.await.unwrap()).unwrap();
    dribble.abort();
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(
        sent.to_ascii_lowercase().contains("connection: close"),
        "{sent}"
    );
    let body = sent.split("\r\n\r\n").nth(1).unwrap();
    let body: RefusalBody = serde_json::from_str(body).unwrap();
    assert_eq!(body.error.code, "request_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_4_idle_connections_are_closed_before_between_and_after_requests() {
    let toy = toy(short()).await;
    // Before its first request.
    assert!(until_closed(toy.raw().await).await.is_empty());
    // Between requests (keep-alive).
    let mut s = toy.raw().await;
    s.write_all(b"GET /hello HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let sent = String::from_utf8(until_closed(s).await).unwrap();
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    // A client that stops reading a large response.
    let mut s = toy.raw().await;
    s.write_all(b"GET /big HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(PATIENCE, async {
        while toy.serving.open_connections() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a connection whose client does not read is held"
    );
    drop(s);
    let c = toy.serving.request_log().snapshot().connections;
    assert!(c.idle_closed >= 3, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_5_at_most_max_connections_are_held_and_a_client_is_served_past_the_cap() {
    let limits = Limits::default()
        .with_timeouts(Duration::from_secs(2))
        .with_max_connections(4);
    let toy = toy(limits).await;
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(TcpStream::connect(toy.serving.addr()).await.unwrap());
    }
    let mut most = 0;
    for _ in 0..40 {
        most = most.max(toy.serving.open_connections());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(most, 4, "the cap is reached and never passed");
    // A client waits in the queue and is served once timeouts free slots.
    let served = tokio::time::timeout(PATIENCE, async {
        toy.client().await.get("/hello").await.unwrap()
    })
    .await
    .expect("served past the cap");
    assert_eq!(served.status, StatusCode::OK);
    drop(idle);
}

#[test]
fn svc_6_only_errors_about_one_connection_are_skipped_without_a_wait() {
    use std::io::{Error, ErrorKind};
    assert!(concerns_one_connection(&Error::from(
        ErrorKind::ConnectionAborted
    )));
    assert!(concerns_one_connection(&Error::from(
        ErrorKind::ConnectionReset
    )));
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: resources; the loop waits.
    for errno in [24, 23, 105, 12] {
        assert!(!concerns_one_connection(&Error::from_raw_os_error(errno)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_8_every_refusal_of_the_framework_is_typed_json() {
    let toy = toy(Limits::default()).await;
    let mut c = toy.client().await;
    let cases: Vec<(Method, &str, Vec<u8>, u16, &str)> = vec![
        (Method::GET, "/nowhere", Vec::new(), 404, "not_found"),
        (
            Method::DELETE,
            "/hello",
            Vec::new(),
            405,
            "method_not_allowed",
        ),
        (Method::GET, "/n/abc", Vec::new(), 400, "malformed"),
        (Method::GET, "/q?a=notanumber", Vec::new(), 400, "malformed"),
        (
            Method::POST,
            "/json",
            b"{not json".to_vec(),
            400,
            "malformed",
        ),
        (
            Method::POST,
            "/json",
            b"{\"a\": \"text\"}".to_vec(),
            400,
            "malformed",
        ),
        (
            Method::POST,
            "/echo",
            vec![b'x'; 2048],
            413,
            "body_too_large",
        ),
        (Method::GET, "/bare", Vec::new(), 503, "internal_error"),
    ];
    for (method, path, body, status, code) in cases {
        let r = c.request(method.clone(), path, &[], body).await;
        let r = match r {
            Ok(r) => r,
            // A refusal that closes the connection: the next case gets a new one.
            Err(e) => panic!("{method} {path}: {e}"),
        };
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {:?}", r.body);
        assert_eq!(r.code(), code, "{method} {path}: {:?}", r.body);
        assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
        if status == 413 {
            c = toy.client().await;
        }
    }
    // A body fixed by a protocol is left as it is.
    let r = c.post("/size", Vec::new()).await.unwrap();
    assert_eq!(r.status.as_u16(), 409);
    assert_eq!(&r.body[..], b"7\n");
    // Each request was counted, by route template, never by path.
    let t = toy.serving.request_log().snapshot();
    assert_eq!(t.count("GET", "/n/{n}", 400), 1);
    assert_eq!(t.count("GET", "(no route)", 404), 1);
}

/// The status, the lower-cased head and the JSON body of a response read whole.
fn parse_response(sent: &[u8]) -> (u16, String, RefusalBody) {
    let text = String::from_utf8_lossy(sent).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, head.to_ascii_lowercase(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_8_a_request_head_that_does_not_parse_or_is_too_large_is_refused_in_json() {
    let toy = toy(Limits::default()).await;
    let huge = format!(
        "GET /hello HTTP/1.1\r\nhost: localhost\r\nx-filler: {}\r\n\r\n",
        "a".repeat(MAX_HEAD + 4096)
    );
    let cases: [(&[u8], u16, &str); 4] = [
        (
            b"GET /hello HTTP/1.1\r\nthis line has no colon\r\n\r\n",
            400,
            "malformed",
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "malformed"),
        (
            b"GET /hello HTTP/1.1\r\nhost: local\x01host\r\n\r\n",
            400,
            "malformed",
        ),
        (huge.as_bytes(), 431, "head_too_large"),
    ];
    for (head, status, code) in cases {
        let mut s = toy.raw().await;
        s.write_all(head).await.unwrap();
        let sent = until_closed(s).await;
        let (got, lower, body) = parse_response(&sent);
        assert_eq!(got, status, "{}", String::from_utf8_lossy(&sent));
        assert_eq!(body.error.code, code);
        assert!(!body.error.message.is_empty());
        assert!(lower.contains("content-type: application/json"), "{lower}");
        assert!(lower.contains("connection: close"), "{lower}");
        assert!(
            lower.contains("\r\ndate: "),
            "hyper's date is kept: {lower}"
        );
    }
    assert_eq!(
        toy.serving
            .request_log()
            .snapshot()
            .connections
            .heads_refused,
        4
    );
    // A request on a fresh connection is served as before.
    let r = toy.client().await.get("/hello").await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_8_a_good_request_after_keep_alive_and_a_bad_head_after_it_are_both_answered() {
    let toy = toy(Limits::default()).await;
    let mut s = toy.raw().await;
    s.write_all(
        b"GET /hello HTTP/1.1\r\nhost: localhost\r\n\r\nGET /hello HTTP/1.1\r\nbroken\r\n\r\n",
    )
    .await
    .unwrap();
    let sent = String::from_utf8(until_closed(s).await).unwrap();
    let (first, second) = sent.split_at(sent.find("HTTP/1.1 400").expect(&sent));
    assert!(first.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(first.ends_with("hi"), "{sent}");
    let (status, _, body) = parse_response(second.as_bytes());
    assert_eq!((status, body.error.code.as_str()), (400, "malformed"));
}

#[test]
fn svc_8_only_hypers_own_bodiless_answer_to_a_head_is_replaced() {
    let date = "date: Mon, 07 Dec 2026 20:00:00 GMT";
    let auto = |status: &str| format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n{date}\r\n\r\n");
    for (status, code) in [
        ("400 Bad Request", 400),
        ("414 URI Too Long", 414),
        ("431 Request Header Fields Too Large", 431),
    ] {
        let a = auto(status);
        assert_eq!(
            automatic_refusal(a.as_bytes()),
            Some(Automatic {
                status: code,
                date: Some(&b"Mon, 07 Dec 2026 20:00:00 GMT"[..])
            })
        );
    }
    // Not hyper's answer to a head: another status, a body, a content type, a chunked
    // body, more bytes after the head, a head not whole.
    let not = [
        auto("404 Not Found"),
        "HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n".to_owned(),
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"
            .to_owned(),
        "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n".to_owned(),
        format!("{}{{}}", auto("400 Bad Request")),
        "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n".to_owned(),
        "HTTP/1.1 400".to_owned(),
        // A whole bodiless 400 head, but longer than hyper's answer ever is.
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-padding: {}\r\n\r\n",
            "a".repeat(600)
        ),
    ];
    for n in not {
        assert_eq!(automatic_refusal(n.as_bytes()), None, "{n:?}");
    }
    // Each is replaced by the interface's refusal with its status and code.
    let heads = HeadRefusals::new(&ToyRefusals);
    for (status, code) in [
        (400, "malformed"),
        (414, "uri_too_long"),
        (431, "head_too_large"),
    ] {
        let bytes = heads
            .response(status, Some(b"Mon, 07 Dec 2026 20:00:00 GMT"))
            .unwrap();
        let (got, lower, body) = parse_response(&bytes);
        assert_eq!((got, body.error.code.as_str()), (status, code));
        assert!(
            lower.contains(date.to_ascii_lowercase().as_str()),
            "{lower}"
        );
        let len = bytes.len() - lower.len() - 4;
        assert!(lower.contains(&format!("content-length: {len}")), "{lower}");
    }
}
