use super::*;

fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn accept_header_negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(negotiate(None), Format::Text);
    assert_eq!(negotiate(Some("*/*")), Format::Text);
    assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
    assert_eq!(
        negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
        Format::Text
    );
    assert_eq!(negotiate(Some("garbage;;;q=x,,")), Format::Text);
}

#[test]
fn serves_metrics_and_survives_bad_requests() {
    let server = Server::start("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("Content-Type: text/plain; version=0.0.4"),
        "{ok}"
    );
    let om = exchange(
        addr,
        b"GET /metrics?x=1 HTTP/1.1\r\naccept: application/openmetrics-text\r\n\r\n",
    );
    assert!(
        om.contains("application/openmetrics-text; version=1.0.0"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    let head = exchange(addr, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    assert!(exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert!(exchange(addr, b"\x00\xff garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(exchange(addr, b"GET\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(exchange(addr, b"").starts_with("HTTP/1.1 400"));
    let huge = vec![b'a'; MAX_HEAD + 2048];
    assert!(exchange(addr, &huge).starts_with("HTTP/1.1 431"));
    // Still serving after all that.
    assert!(exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200"));
    server.stop();
    assert!(TcpStream::connect(addr).is_err());
}
