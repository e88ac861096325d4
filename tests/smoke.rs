use godtrace::testing;
use godtrace::traced;

#[traced(include_args, include_result)]
fn add(a: i64, b: &str) -> Result<i64, String> {
    if b == "x" {
        return Err("bad".into());
    }
    Ok(a + 1)
}

#[traced]
async fn outer(n: u32) -> u32 {
    inner(n).await + 1
}

#[traced]
async fn inner(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[test]
fn smoke_sync() {
    let c = testing::capture();
    add(1, "y").unwrap();
    let _ = add(1, "x");
    let spans = c.spans_named("smoke::add");
    assert_eq!(spans.len(), 2, "{:?}", c.spans());
    println!("{:#?}", spans);
}

#[tokio::test]
async fn smoke_async() {
    let c = testing::capture();
    assert_eq!(outer(2).await, 3);
    let o = c.span("smoke::outer");
    let i = c.span("smoke::inner");
    assert_eq!(i.parent_span_id, Some(o.span_id));
}
